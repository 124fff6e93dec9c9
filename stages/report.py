"""Stage ``report``: ``python -m stages.report`` -> ``reports/report.md`` and ``reports/figures/report/``.

Reads ``params.yaml``, ``reports/metrics/**/*.json``, ``reports/per_patch``, ``reports/per_image``,
``models/<run>/summary.json``, ``reports/paper/*.json`` and ``reports/choices.md`` (see :mod:`fdr.report.document`).
"""
from __future__ import annotations

from fdr.report.document import write_report
from stages.common import run_stage


def arguments(parser) -> None:
    parser.add_argument("--out", default="reports/report.md")
    parser.add_argument("--figures", default="reports/figures/report")


def main(argv=None) -> int:
    def work(cfg, args):
        data = write_report(".", args.out, args.figures, params_path=args.params)
        have = [name for name, rows in data.comparison.rows.items() if any(r.ours is not None for r in rows)]
        return f"wrote {args.out} (tables with numbers of ours: {', '.join(have) or 'none'})"
    return run_stage("report", __doc__, work, argv, arguments)


if __name__ == "__main__":
    raise SystemExit(main())
