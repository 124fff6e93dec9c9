"""Stage ``analyze``: feature correlation before/after the FDM, channel responses per distortion, visual
comparison grids and training curves (paper §4.5, Fig. 6-8).

``python -m stages.analyze`` -> ``reports/metrics/analysis.json`` and ``reports/figures/analysis/``.
"""
from __future__ import annotations

from pathlib import Path

from fdr.analysis.run import analyze
from fdr.report.paper import load_fig8
from stages.common import run_stage


def arguments(parser) -> None:
    parser.add_argument("--models", default="models", help="trained runs (<run>/checkpoint.pt, <run>/live)")
    parser.add_argument("--figures", default="reports/figures/analysis")
    parser.add_argument("--metrics", default="reports/metrics/analysis.json")
    parser.add_argument("--paper", default="reports/paper/fig8.json")


def main(argv=None) -> int:
    def work(cfg, args):
        m = analyze(cfg, Path(args.models), Path(args.figures), Path(args.metrics), load_fig8(Path(args.paper)))
        c, r = m["correlation"], m["responses"]
        if "skipped" in c:
            return f"correlation and responses skipped ({c['skipped']})"
        return (f"mean |channel correlation| before FDM {c['before']:.3f}, after {c['after']:.3f}; "
                f"response profiles: same type {r['within_type']:.2f}, different types {r['between_type']:.2f}")
    return run_stage("analyze", __doc__, work, argv, arguments)


if __name__ == "__main__":
    raise SystemExit(main())
