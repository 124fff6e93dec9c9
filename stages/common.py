"""What every stage shares: parse ``--params`` (and the stage's own options), load the typed config once,
run, and report bad input in one line with exit code 2 (a crash is a traceback with exit code 1).

Bad input is :class:`fdr.errors.InputError` (every error of the library a user can fix derives from it), plus
the ``ValueError`` / ``FileNotFoundError`` that checks of arguments and files raise. This module imports no
more than the config, so a data stage does not load torch or the trainer.
"""
from __future__ import annotations

import argparse
import sys
import time
from typing import Callable, Optional, Sequence

from fdr import config
from fdr.errors import InputError

BAD_INPUT = 2
ERRORS = (InputError, ValueError, FileNotFoundError)


def run_stage(name: str, doc: str, work: Callable[[config.Config, argparse.Namespace], str],
              argv: Optional[Sequence[str]] = None,
              add_arguments: Optional[Callable[[argparse.ArgumentParser], None]] = None) -> int:
    """Run ``work(cfg, args)``; print its one-line result with the wall time, or the error (exit code 2)."""
    parser = argparse.ArgumentParser(prog=f"python -m stages.{name}", description=doc.strip().split("\n")[0])
    parser.add_argument("--params", default="params.yaml", help="parameter file (default: params.yaml)")
    parser.add_argument("--no-progress", dest="progress", action="store_false",
                        help="no progress bars (default: shown when stderr is a terminal)")
    if add_arguments is not None:
        add_arguments(parser)
    args = parser.parse_args(argv)
    args.progress = args.progress and sys.stderr.isatty()
    t0 = time.perf_counter()
    try:
        message = work(config.load(args.params), args)
    except ERRORS as exc:
        print(f"{name}: error: {exc}", file=sys.stderr)
        return BAD_INPUT
    print(f"{name}: {message} ({time.perf_counter() - t0:.1f} s)")
    return 0
