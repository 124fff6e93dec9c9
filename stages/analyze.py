"""Stage ``analyze``: feature correlation before/after the FDM, channel responses per distortion,
visual comparison grids and training curves (paper §4.5, Fig. 6-8).

``python -m stages.analyze`` -> ``reports/metrics/analysis.json`` and ``reports/figures/analysis/``.
Reads ``params.yaml``: seed, data.root, synthesis, analysis, evaluate.batch_size, train.device.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence

from fdr.analysis.run import analyze
from fdr.paper import load_fig8
from fdr.config import ConfigError, load


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stages.analyze", description=__doc__.split("\n")[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--models", default="models", help="trained runs (<run>/checkpoint.pt, <run>/live)")
    parser.add_argument("--figures", default="reports/figures/analysis")
    parser.add_argument("--metrics", default="reports/metrics/analysis.json")
    parser.add_argument("--paper", default="reports/paper/fig8.json")
    args = parser.parse_args(argv)
    try:
        cfg = load(args.params)
        metrics = analyze(cfg, Path(args.models), Path(args.figures), Path(args.metrics), load_fig8(Path(args.paper)))
    except (ConfigError, FileNotFoundError, ValueError) as exc:
        print(f"analyze: error: {exc}", file=sys.stderr)
        return 2
    c = metrics["correlation"]
    r = metrics["responses"]
    print(f"analyze: mean |channel correlation| before FDM {c['before']:.3f}, after {c['after']:.3f}; "
          f"response profiles: same type {r['within_type']:.2f}, different types {r['between_type']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
