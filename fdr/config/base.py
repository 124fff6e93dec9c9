"""Typed config helpers: nested dataclasses built from plain dicts with key-path errors.

Every section of ``params.yaml`` is a frozen dataclass. ``build(cls, raw, path)`` checks that
no unknown key is present, that every value has the annotated type (``int``, ``float``,
``bool``, ``str``, ``Literal[...]``, ``Optional[...]``, ``list[...]``, ``dict[str, ...]`` and
nested dataclasses), and then runs the class's ``validate()`` for range checks. Errors are
:class:`ConfigError` whose message starts with the dotted key path, e.g.
``model.channels: expected an integer >= 1, got 0``.
"""
from __future__ import annotations

import dataclasses
import math
import re
import types
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from fdr.errors import InputError


class ConfigError(InputError):
    """A parameter is missing, unknown, ill-typed or out of range; the message names its key path."""


# A number as YAML 1.2 (and DVC, which writes ``-S train.beta=1e-5`` as ``1e-05``) reads it: PyYAML's YAML 1.1
# takes ``1e-5`` or ``2E3`` for strings. Used by the parameter file reader and for float fields given as text.
FLOAT_TEXT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")


def _type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(tp))
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in get_args(tp))
    if origin in (list, tuple):
        args = get_args(tp)
        return f"a list of {_type_name(args[0])}" if args else "a list"
    if origin is dict:
        return f"a mapping of {_type_name(get_args(tp)[1])}"
    if tp is type(None):
        return "null"
    if dataclasses.is_dataclass(tp):
        return "a mapping"
    return {int: "an integer", float: "a number", bool: "true/false", str: "a string"}.get(tp, str(tp))


def _convert(tp: Any, value: Any, path: str) -> Any:
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin is Literal:
        if isinstance(value, bool):
            # YAML 1.1 (and DVC's `-S` writer, which leaves `off` unquoted) reads off/on as booleans.
            word = "on" if value else "off"
            if word in get_args(tp):
                return word
        if value in get_args(tp):
            return value
        raise ConfigError(f"{path}: expected {_type_name(tp)}, got {value!r}")
    if origin in (Union, types.UnionType):
        for arg in get_args(tp):
            try:
                return _convert(arg, value, path)
            except ConfigError:
                pass
        raise ConfigError(f"{path}: expected {_type_name(tp)}, got {value!r}")
    if tp is type(None):
        if value is None:
            return None
        raise ConfigError(f"{path}: expected null, got {value!r}")
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{path}: expected {_type_name(tp)}, got {value!r}")
        (arg,) = get_args(tp)[:1] or (Any,)
        return tuple(_convert(arg, v, f"{path}[{i}]") for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: expected {_type_name(tp)}, got {value!r}")
        _, arg = get_args(tp)
        return {str(k): _convert(arg, v, f"{path}.{k}") for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        return build(tp, value, path)
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, str) and FLOAT_TEXT.fullmatch(value.strip()):
            value = float(value)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if not math.isfinite(value):
                raise ConfigError(f"{path}: expected a finite number, got {value!r}")
            return float(value)
    elif tp is str:
        if isinstance(value, str):
            return value
    else:  # pragma: no cover - programming error in a config class
        raise TypeError(f"unsupported config type {tp!r} at {path}")
    raise ConfigError(f"{path}: expected {_type_name(tp)}, got {value!r}")


def build(cls: type, raw: Any, path: str) -> Any:
    """Build dataclass ``cls`` from mapping ``raw``; ``path`` is the dotted key path used in errors."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path or '<root>'}: expected a mapping, got {raw!r}")
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        where = f"{path}." if path else ""
        raise ConfigError(
            f"{where}{unknown[0]}: unknown key (known keys under {path or '<root>'}: "
            f"{', '.join(sorted(fields))})"
        )
    kwargs = {}
    for name, field in fields.items():
        key = f"{path}.{name}" if path else name
        if name in raw:
            kwargs[name] = _convert(hints[name], raw[name], key)
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{key}: missing (expected {_type_name(hints[name])})")
    obj = cls(**kwargs)
    validate = getattr(obj, "validate", None)
    if validate is not None:
        validate(path)
    return obj


def require(cond: bool, path: str, key: str, expected: str, got: Any) -> None:
    """Raise a :class:`ConfigError` for ``path.key`` unless ``cond`` holds."""
    if not cond:
        key_path = f"{path}.{key}" if path else key
        raise ConfigError(f"{key_path}: expected {expected}, got {got!r}")


def to_dict(obj: Any) -> Any:
    """Plain-data view of a config object (tuples become lists), e.g. for checkpoints and reports."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    return obj
