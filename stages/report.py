"""Stage ``report``: ``python -m stages.report`` -> ``reports/report.md`` and ``reports/figures/report/``.

Reads ``params.yaml``, ``reports/metrics/*.json`` (through ``dvc metrics show``), ``models/<run>/summary.json``,
``reports/paper/*.json`` and ``reports/choices.md`` (see :mod:`fdr.report`).
"""
from __future__ import annotations

from fdr.report import write_report
from stages.common import run_stage


def arguments(parser) -> None:
    parser.add_argument("--out", default="reports/report.md")
    parser.add_argument("--figures", default="reports/figures/report")
    parser.add_argument("--no-dvc", action="store_true", help="read the metrics files directly, not via DVC")


def main(argv=None) -> int:
    def work(cfg, args):
        data = write_report(".", args.out, args.figures, params_path=args.params, use_dvc=not args.no_dvc)
        have = [name for name, rows in data.comparison.rows.items() if any(r.ours is not None for r in rows)]
        return (f"wrote {args.out} (tables with numbers of ours: {', '.join(have) or 'none'}; "
                f"metrics read with {data.comparison.how})")
    return run_stage("report", __doc__, work, argv, arguments)


if __name__ == "__main__":
    raise SystemExit(main())
