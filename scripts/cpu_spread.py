"""Compare two full pipeline runs made under different float kernels (``reports/cpu_spread.json``).

    ONEDNN_MAX_CPU_ISA=SSE41 ATEN_CPU_CAPABILITY=default dvc repro     # in a second clone: another CPU's kernels
    python scripts/cpu_spread.py . ../clone-sse41 --a-label "AMD EPYC, AVX2 kernels" --b-label "same, SSE4.1 kernels"

Writes every PSNR of both runs, every stated difference with both verdicts, and the largest moves; the report's
"How far the numbers move with the CPU" section reads it (:mod:`fdr.report.cpu`).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fdr.atomic import write_json
from fdr.report.cpu import SPREAD_FILE, compare_runs


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("a", type=Path, help="repository of run A (its report is the one that shows the section)")
    p.add_argument("b", type=Path, help="repository of run B")
    p.add_argument("--a-label", default="run A")
    p.add_argument("--b-label", default="run B")
    args = p.parse_args(argv)
    spread = {"measured": True, "a_label": args.a_label, "b_label": args.b_label, **compare_runs(args.a, args.b)}
    write_json(args.a / SPREAD_FILE, spread)
    changed = sum(e["verdict_a"] != e["verdict_b"] for e in spread["effects"])
    print(f"PSNR moved by at most {spread['psnr_max_abs']:.3f} dB, differences by at most "
          f"{spread['effect_max_abs']:.3f} dB; {changed} of {len(spread['effects'])} verdicts differ")
    return 0


if __name__ == "__main__":
    sys.exit(main())
