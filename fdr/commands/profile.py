"""``python -m fdr profile NAME``: print the ``dvc exp run`` arguments that switch to a profile.

A profile is ``profiles/NAME.yaml``: a flat mapping of dotted parameter keys to values (a scalar or a list of
scalars), applied on top of ``params.yaml`` (for example the paper-scale profile: DIV2K, 63x63 patches, batch
28, the paper's schedule). Usage: ``dvc exp run $(python -m fdr profile paper)``. Before anything is printed,
the arguments are applied to a copy of the parameter file by DVC's own ``-S`` code and the result is validated
against the typed config, so a profile DVC or the shell cannot take fails here, not hours later. A key that
``params.yaml`` lacks is printed as ``+key=value`` (DVC's form for a new key), ``~key`` deletes a key.
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import tempfile
from pathlib import Path

import yaml

from fdr import config
from fdr.config import ConfigError, yamlio

HELP = "print the `dvc exp run -S ...` arguments of a parameter profile (e.g. `paper`)"
NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*")
KEY = re.compile(r"~?[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*")


def load_profile(name: str, folder: Path = Path("profiles")) -> dict:
    """The overlay of ``folder/name.yaml``: dotted keys to scalars or lists of scalars (anything else refused)."""
    if not NAME.fullmatch(name):
        raise ConfigError(f"profile {name!r}: expected the name of a file in {folder}/ (letters, digits, _ and -)")
    path = folder / f"{name}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in folder.glob("*.yaml"))
        raise ConfigError(f"{path}: no such profile (known: {', '.join(known) or 'none'})")
    overlay = yamlio.read(path) or {}
    if not isinstance(overlay, dict):
        raise ConfigError(f"{path}: expected a flat mapping of dotted keys (model.channels: 32)")
    for key, value in overlay.items():
        if not isinstance(key, str) or not KEY.fullmatch(key):
            raise ConfigError(f"{path}: {key!r}: expected a dotted parameter key (model.channels) or ~key")
        items = value if isinstance(value, list) else [value]
        if any(isinstance(v, (dict, list)) for v in items):
            raise ConfigError(f"{path}: {key}: expected a value or a list of values, got {value!r} (give each "
                              f"parameter its own dotted key: {key}.name: value)")
    return overlay


def _present(tree, dotted: str) -> bool:
    node = tree
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def _argument(key: str, value, new: bool) -> str:
    """``key=value`` as DVC's ``-S`` parser reads back ``value`` (quoted where plain text would not be)."""
    from dvc.utils.hydra import to_hydra_overrides

    plain = json.dumps(value, separators=(",", ":")) if isinstance(value, list) else yaml.safe_dump(value).splitlines()[0]
    forms = [plain] + ([f"'{value}'", f'"{value}"'] if isinstance(value, str) else [])
    for text in forms:
        arg = f"{'+' if new else ''}{key}={text}"
        try:
            (parsed,) = to_hydra_overrides([arg])
        except Exception:  # hydra's OverrideParseException: try the next form
            continue
        if re.search(r"\s", arg) is None and parsed.is_sweep_override() is False and parsed.value() == value:
            return arg
    raise ConfigError(f"{key}: {value!r} cannot be passed as `dvc exp run -S` through the shell (a value with "
                      "spaces or quotes); set it in params.yaml instead")


def set_args(overlay: dict, base: dict | None = None) -> list[str]:
    """``-S key=value`` pairs (``-S +key=value`` for a key ``base`` lacks; ``-S ~key`` deletes ``key``)."""
    args = []
    for key, value in overlay.items():
        if key.startswith("~"):
            args += ["-S", key]
        else:
            args += ["-S", _argument(key, value, base is not None and not _present(base, key))]
    return args


def check_with_dvc(args: list[str], params: Path) -> None:
    """Apply ``args`` to a copy of ``params`` with DVC's own ``-S`` code, then load the result as the stages do."""
    from dvc.utils.hydra import apply_overrides

    with tempfile.TemporaryDirectory(prefix="fdr-profile-") as tmp:
        copy = Path(tmp) / "params.yaml"
        shutil.copyfile(params, copy)
        try:
            apply_overrides(copy, args[1::2])
        except Exception as exc:  # dvc's InvalidArgumentError, with hydra's reason as its cause
            raise ConfigError(f"dvc exp run would refuse these arguments: {exc} ({exc.__cause__})") from exc
        config.load(copy)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="profile name: a file profiles/NAME.yaml")
    parser.add_argument("--params", default="params.yaml", help="base parameter file (default: params.yaml)")
    parser.add_argument("--show", action="store_true", help="list the overrides one per line instead")


def run(args: argparse.Namespace) -> int:
    overlay = load_profile(args.name)
    params = Path(args.params)
    if not params.is_file():
        raise ConfigError(f"{params}: parameter file not found")
    argv = set_args(overlay, yamlio.read(params) or {})
    check_with_dvc(argv, params)  # fail fast on an overlay DVC or the typed config would refuse
    if args.show:
        for key, value in overlay.items():
            print(f"{key} = {value!r}")
    else:
        print(" ".join(argv))
    return 0
