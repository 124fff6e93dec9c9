"""What the data stages share: parse ``--params``, load the config, run, report errors in one line."""
from __future__ import annotations

import argparse
import sys
import time
from typing import Callable, Optional, Sequence

from fdr import config
from fdr.data.download import DownloadError
from fdr.data.imageio import BadImage

ERRORS = (config.ConfigError, DownloadError, BadImage, ValueError, FileNotFoundError)


def run_stage(name: str, doc: str, work: Callable[[config.Config], str],
              argv: Optional[Sequence[str]] = None) -> int:
    """Run ``work(cfg)``; print its one-line result with the wall time, or the error (exit code 1)."""
    parser = argparse.ArgumentParser(prog=f"python -m stages.{name}", description=doc)
    parser.add_argument("--params", default="params.yaml", help="parameter file (default: params.yaml)")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    try:
        message = work(config.load(args.params))
    except ERRORS as exc:
        print(f"{name}: error: {exc}", file=sys.stderr)
        return 1
    print(f"{name}: {message} ({time.perf_counter() - t0:.1f} s)")
    return 0
