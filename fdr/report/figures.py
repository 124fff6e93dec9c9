"""The report's own figures: Table 1 paper vs ours, and the ablation effects with their intervals."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from fdr.plotting import pyplot, save_figure
from fdr.report.cells import LEVEL_NAMES, index
from fdr.report.comparison import INPUT_RUN, OWN_IMAGES, has_ours
from fdr.report.data import ReportData


def plot_table1(data: ReportData, path: Path) -> bool:
    """Bars of PSNR per level: the paper's methods vs ours. False (no figure) when we have no Table 1 numbers."""
    rows = data.comparison.rows["table1"]
    if not has_ours(rows):
        return False
    plt = pyplot()
    table = data.comparison.tables["table1"]
    idx = index(rows)
    runs = [r for r in dict.fromkeys(x.run for x in rows)]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8), constrained_layout=True, sharey=False)
    colours = {run: plt.get_cmap("tab10")(k) for k, run in enumerate(runs)}
    for ax, which in zip(axes, ("paper", "ours")):
        shown = [r for r in runs if any(getattr(idx.get((r, s, "psnr")), which, None) is not None for s in table.sets)]
        width = 0.8 / max(1, len(shown))
        for k, run in enumerate(shown):
            vals = [getattr(idx.get((run, s, "psnr")), which, None) for s in table.sets]
            xs = np.arange(len(table.sets)) + (k - (len(shown) - 1) / 2) * width
            heights = [v if v is not None else 0 for v in vals]
            bars = ax.bar(xs, heights, width, color=colours[run],
                          label=next((r.label for r in rows if r.run == run), run) if run != INPUT_RUN
                          else "Distorted input")
            for b, v in zip(bars, vals):
                if v is None:
                    b.set_alpha(0)
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=min(3, max(1, len(shown))))
        ax.set_xticks(range(len(table.sets)), [LEVEL_NAMES.get(s, s) for s in table.sets])
        ax.set_ylabel("PSNR (dB)")
        values = [getattr(r, which) for r in rows if r.metric == "psnr" and getattr(r, which) is not None]
        if values:
            ax.set_ylim(min(values) - 1.0, max(values) + 0.5)
        ax.set_title("paper (Table 1, DIV2K)" if which == "paper"
                     else f"ours (data source: {data.comparison.source or 'unknown'})")
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle("Table 1: PSNR per test level, paper vs ours (methods without numbers are left out)"
                 + ("\nNOT comparable: different images" if data.comparison.source in OWN_IMAGES else ""), fontsize=11)
    save_figure(fig, path)
    plt.close(fig)
    return True


def plot_ablations(data: ReportData, path: Path) -> bool:
    """Each ablation's PSNR effect against the reference run with its 95% interval over seeds (or, for a single
    run, over patches), and the paper's effect."""
    rows = [e for e in data.effects if e.kind == "ablation"]
    if not rows:
        return False
    plt = pyplot()
    y = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(10, 0.45 * len(rows) + 1.8), constrained_layout=True)
    paper = [e.paper for e in rows]
    ax.scatter([p for p in paper if p is not None], [k for k, p in zip(y, paper) if p is not None], marker="s",
               color="tab:gray", label="paper (DID-HY)", zorder=3)
    for seeded, colour, label in ((True, "tab:red", "ours, 95% interval over seeds"),
                                  (False, "tab:orange", "ours, one run: 95% interval over patches")):
        pick = [k for k, e in enumerate(rows) if (e.seeds >= 2) == seeded]
        if not pick:
            continue
        lo = [rows[k].seed_low if seeded else rows[k].low for k in pick]
        hi = [rows[k].seed_high if seeded else rows[k].high for k in pick]
        eff = [rows[k].effect for k in pick]
        ax.errorbar(eff, y[pick], xerr=[np.subtract(eff, lo), np.subtract(hi, eff)], fmt="o", color=colour,
                    capsize=3, label=label, zorder=4)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(y, [f"{e.a} ({e.verdict})" for e in rows])
    ax.invert_yaxis()
    ax.set_xlabel(f"PSNR of the run minus {rows[0].b} on {rows[0].set} (dB)")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(axis="x", alpha=0.3)
    ax.set_title("Tables 5-6: ablation effects, ours with intervals, the paper's where it has one", fontsize=10)
    save_figure(fig, path)
    plt.close(fig)
    return True
