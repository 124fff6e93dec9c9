"""``python -m fdr``: the user command line. Each subcommand lives in ``fdr/commands/<name>.py``
(``paper-metrics``: ``paper_metrics.py``) and defines ``HELP`` (one line), ``add_arguments(parser)`` and ``run(args) -> int``."""
from __future__ import annotations

import argparse
import importlib
import sys
from typing import Optional, Sequence

from fdr.config import ConfigError

COMMANDS = ("degrade", "info", "restore", "compare", "profile", "paper-metrics", "import-weights")


def _load(name: str):
    return importlib.import_module(f"fdr.commands.{name.replace('-', '_')}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m fdr",
        description="fdr: FDR-Net (Li et al., ECCV 2020) for hybrid-distorted image restoration.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = _load(name)
        except ModuleNotFoundError as exc:
            if exc.name == f"fdr.commands.{name.replace('-', '_')}":
                continue
            raise
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except (ConfigError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
