"""Stage ``report``: ``python -m stages.report`` -> ``reports/report.md`` and ``reports/figures/report/``.

Reads ``params.yaml`` (data source, model, training settings), ``reports/metrics/*.json`` (through
``dvc metrics show``), ``models/<run>/summary.json``, ``reports/paper/*.json`` and ``reports/choices.md``.
"""
from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence

from fdr.config import ConfigError
from fdr.paper import PaperDataError
from fdr.report import write_report


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stages.report", description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="reports/report.md")
    parser.add_argument("--figures", default="reports/figures/report")
    parser.add_argument("--no-dvc", action="store_true", help="read the metrics files directly, not via DVC")
    args = parser.parse_args(argv)
    try:
        data = write_report(".", args.out, args.figures, use_dvc=not args.no_dvc)
    except (ConfigError, PaperDataError, ValueError, FileNotFoundError) as exc:
        print(f"report: error: {exc}", file=sys.stderr)
        return 2
    have = [name for name, rows in data.comparison.rows.items() if any(r.ours is not None for r in rows)]
    print(f"report: wrote {args.out} (tables with numbers of ours: {', '.join(have) or 'none'}; "
          f"metrics read with {data.comparison.how})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
