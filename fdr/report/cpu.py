"""How far the numbers move with the CPU: two full pipeline runs under different float kernels compared, and the
report's section on it (``reports/cpu_spread.json``, written by ``scripts/cpu_spread.py``).

Float kernels depend on the instruction set (oneDNN and MKL choose them at run time), so the same seed on another
CPU trains other weights. Two runs of the whole pipeline (for example the default kernels and
``ONEDNN_MAX_CPU_ISA=SSE41 ATEN_CPU_CAPABILITY=default``) are compared metric by metric and verdict by verdict.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

from fdr.report.cells import MISSING
from fdr.report.tables import render as render_table

SPREAD_FILE = Path("reports/cpu_spread.json")


def compare_runs(a: Path, b: Path) -> dict:
    """Metrics and stated differences of two pipeline runs (repositories ``a`` and ``b``)."""
    from fdr.report.comparison import load

    ca, cb = load(a), load(b)
    metrics = {}
    for run, sets in ca.ours.items():
        for set_, cell in sets.items():
            other = cb.ours.get(run, {}).get(set_)
            if isinstance(cell, dict) and isinstance(other, dict) and "psnr" in cell and "psnr" in other:
                metrics[f"{run}/{set_}"] = [cell["psnr"], other["psnr"]]
    eb = {(e.label, e.set): e for e in cb.effects()}
    effects = [{"label": e.label, "set": e.set, "a": e.effect, "b": eb[(e.label, e.set)].effect,
                "verdict_a": e.verdict, "verdict_b": eb[(e.label, e.set)].verdict}
               for e in ca.effects() if (e.label, e.set) in eb]
    moves = [abs(x - y) for x, y in metrics.values()]
    return {"metrics": metrics, "effects": effects, "psnr_max_abs": max(moves, default=None),
            "effect_max_abs": max((abs(e["a"] - e["b"]) for e in effects), default=None),
            "verdicts_identical": all(e["verdict_a"] == e["verdict_b"] for e in effects)}


NOT_MEASURED = {"measured": False, "how": "python scripts/cpu_spread.py RUN_A RUN_B"}


def load_spread(root: Path) -> Optional[dict]:
    """The comparison, or None where the file is absent or records that it was not measured (``NOT_MEASURED``)."""
    path = Path(root) / SPREAD_FILE
    spread = json.loads(path.read_text()) if path.is_file() else None
    return spread if spread and spread.get("measured", True) else None


def section(spread: Optional[dict]) -> list[str]:
    lines = ["## How far the numbers move with the CPU", ""]
    if not spread:
        return lines + ["Not measured for the whole pipeline (`reports/cpu_spread.json`: `python scripts/cpu_spread.py "
                        "RUN_A RUN_B` on two runs). The tiny pipeline of `tests/e2e.py` is measured under two kernel "
                        "sets in `tests/reference/e2e.json` (`pins`).", ""]
    changed = [e for e in spread["effects"] if e["verdict_a"] != e["verdict_b"]]
    lines += [f"Two fresh runs of the whole pipeline: {spread.get('a_label', 'run A')} against "
              f"{spread.get('b_label', 'run B')}. Every PSNR of `reports/metrics` moved by at most "
              f"{spread['psnr_max_abs']:.3f} dB; every stated difference by at most {spread['effect_max_abs']:.3f} dB. "
              + ("Every verdict is the same in both runs." if not changed else
                 f"{len(changed)} of {len(spread['effects'])} verdicts differ:"), ""]
    if changed:
        body = [[f"`{e['label']}`", e["set"], f"{e['a']:+.2f}", f"{e['b']:+.2f}", e["verdict_a"], e["verdict_b"]]
                for e in changed]
        lines += render_table(["difference", "set", "Δ run A", "Δ run B", "verdict A", "verdict B"], body) + [""]
    top = sorted(spread["effects"], key=lambda e: -abs(e["a"] - e["b"]))[:5]
    body = [[f"`{e['label']}`", e["set"], f"{e['a']:+.3f}", f"{e['b']:+.3f}", e["verdict_a"]] for e in top]
    return lines + ["The differences that moved most:", ""] + (
        render_table(["difference", "set", "Δ run A", "Δ run B", "verdict"], body) if body else [MISSING]) + [""]
