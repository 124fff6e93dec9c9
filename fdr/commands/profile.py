"""``python -m fdr profile NAME``: print the ``dvc exp run`` arguments that switch to a profile.

A profile is ``profiles/NAME.yaml``: a flat mapping of dotted parameter keys to values, applied on
top of ``params.yaml`` (for example the paper-scale profile: DIV2K, 63x63 patches, batch 28, the
paper's schedule). Usage: ``dvc exp run $(python -m fdr profile paper)``. The overlay is validated
against the typed config before anything is printed, so a bad profile fails here, not hours later.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import yaml

from fdr import config
from fdr.config import ConfigError

HELP = "print the `dvc exp run -S ...` arguments of a parameter profile (e.g. `paper`)"


def load_profile(name: str, folder: Path = Path("profiles")) -> dict:
    path = folder / f"{name}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in folder.glob("*.yaml"))
        raise ConfigError(f"{path}: no such profile (known: {', '.join(known) or 'none'})")
    overlay = yaml.safe_load(path.read_text()) or {}
    if not isinstance(overlay, dict) or not all(isinstance(k, str) for k in overlay):
        raise ConfigError(f"{path}: expected a flat mapping of dotted keys (model.channels: 32)")
    return overlay


def set_args(overlay: dict) -> list[str]:
    """``-S key=value`` pairs (``-S ~key`` for a key whose name starts with ``~``: deleted); values are written as
    YAML flow scalars/lists, which DVC parses."""
    args = []
    for key, value in overlay.items():
        if key.startswith("~"):
            args += ["-S", key]
            continue
        text = json.dumps(value, separators=(",", ":")) if isinstance(value, (list, dict)) else yaml.safe_dump(value).splitlines()[0]
        args += ["-S", f"{key}={text}"]
    return args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="profile name: a file profiles/NAME.yaml")
    parser.add_argument("--params", default="params.yaml", help="base parameter file (default: params.yaml)")
    parser.add_argument("--show", action="store_true", help="list the overrides one per line instead")


def run(args: argparse.Namespace) -> int:
    overlay = load_profile(args.name)
    config.load(args.params, overrides=overlay)  # fail fast on a bad overlay
    if args.show:
        for key, value in overlay.items():
            print(f"{key} = {value!r}")
    else:
        print(" ".join(set_args(overlay)))
    return 0
