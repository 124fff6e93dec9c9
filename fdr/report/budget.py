"""The report's "Can this data resolve Table 5?" section: how the ablation effects grow with training and how far
seeds scatter them (``reports/ablation_budget.json``, measured by ``scripts/bench_embedded_choices.py --sections
budget``), which decides the embedded ablations' budget and the verdicts one can expect from it."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

from fdr.report.tables import render as render_table

BUDGET_FILE = Path("reports/ablation_budget.json")


def load(root: Path) -> Optional[dict]:
    path = Path(root) / BUDGET_FILE
    return json.loads(path.read_text()) if path.is_file() else None


def _cell(c: dict) -> str:
    mark = "" if c["low"] <= 0 <= c["high"] else " *"
    return f"{c['mean']:+.2f} [{c['low']:+.2f}, {c['high']:+.2f}]{mark}"


def resolved(budget: dict) -> list[tuple[str, str, float]]:
    """``(arm, iterations, mean)`` of every arm and budget whose interval over seeds excludes 0."""
    return [(arm, it, c["mean"]) for arm, rows in budget["arms"].items() for it, c in rows.items()
            if not c["low"] <= 0 <= c["high"]]


def section(budget: Optional[dict], paper: dict, iterations: Optional[int]) -> list[str]:
    """``paper``: the paper's effect per arm; ``iterations``: the embedded ablations' own budget."""
    lines = ["## Can this data resolve Table 5?", ""]
    if not budget:
        return lines + ["Not measured (`reports/ablation_budget.json`).", ""]
    arms = list(budget["arms"])
    seeds = len(budget["reference_psnr"][str(budget["iterations"][0])])
    lines += [f"Each Table 5 arm and the reference `{budget['reference']}` trained with {seeds} seeds up to "
              f"{budget['iterations'][-1]:,} iterations; the effect (arm − reference at the same seed) per budget, mean "
              f"over seeds [95% t interval over seeds], * where the interval excludes 0. {budget['measured']}.", ""]
    header = ["iterations"] + [f"`{a}` (paper {paper[a]:+.2f})" if paper.get(a) is not None else f"`{a}`"
                               for a in arms]
    body = [[str(it)] + [_cell(budget["arms"][a][str(it)]) for a in arms] for it in budget["iterations"]]
    lines += render_table(header, body) + [""]
    hits = resolved(budget)
    agree = [h for h in hits if paper.get(h[0]) is not None and (h[2] > 0) == (paper[h[0]] > 0)]
    text = ("No effect is resolved at any budget." if not hits else
            "Resolved: " + ", ".join(f"`{a}` at {it} iterations ({m:+.2f} dB)" for a, it, m in hits) + "; of these, "
            + (f"{len(agree)} with the paper's sign." if agree else "none with the paper's sign."))
    if iterations is not None:
        within = [h for h in hits if int(h[1]) <= iterations]
        text += (f" The embedded ablations train {iterations:,} iterations each (the CPU budget): "
                 + ("no effect is resolved at or below that budget, so on this data Table 5's claims cannot be "
                    "resolved there, and their verdicts read \"not resolved\" by the data, not by chance."
                    if not within else f"{len(within)} effect(s) are resolved at or below that budget."))
    return lines + [text, ""]
