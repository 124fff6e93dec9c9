"""Parameter files read as DVC reads them: numbers in every YAML 1.2 form, and no key given twice.

PyYAML follows YAML 1.1, where ``1e-5`` and ``2E3`` are strings; DVC (YAML 1.2) reads them as numbers and
writes ``-S train.beta=1e-5`` as ``1e-05``. A mapping that gives a key twice is refused (DVC refuses such a
file too) instead of keeping the last value silently.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from .base import FLOAT_TEXT, ConfigError


class ParamsLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that reads YAML 1.2 floats as numbers and refuses duplicate keys."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            first: dict = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                if isinstance(key, (str, int, float, bool)) or key is None:
                    if key in first:
                        raise yaml.constructor.ConstructorError(
                            None, None, f"duplicate key {key!r} (first given on line {first[key]})",
                            key_node.start_mark)
                    first[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


ParamsLoader.add_implicit_resolver("tag:yaml.org,2002:float", re.compile(FLOAT_TEXT.pattern + r"\Z"),
                                   list("-+.0123456789"))


def parse(text: str, source: str) -> Any:
    """Parse YAML ``text``; errors are :class:`ConfigError` naming ``source`` and the line."""
    try:
        return yaml.load(text, Loader=ParamsLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}:" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        if problem.startswith("duplicate key"):
            raise ConfigError(f"{source}:{where} {problem}; give each key once") from exc
        raise ConfigError(f"{source}:{where} not valid YAML ({problem})") from exc


def read(path: str | Path) -> Any:
    """Read the YAML file ``path`` (see :func:`parse`)."""
    return parse(Path(path).read_text(), str(path))
