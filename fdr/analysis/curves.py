"""Training curves of every trained run on one figure, from the DVCLive logs ``models/<run>/live``.

DVCLive writes one TSV per logged metric under ``live/plots/metrics/`` (``train/loss.tsv`` with
columns ``step``, ``loss`` and optionally ``timestamp``). Every metric becomes one panel; every run
one line; the runs to ``highlight`` (the main model and its baselines) are drawn thicker, in fixed colours.
"""
from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from fdr.plotting import pyplot, save_figure

HIGHLIGHT_COLOURS = ("tab:red", "tab:blue", "tab:green", "tab:orange")


def read_live(live_dir: str | Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{metric path: (steps, values)}`` from ``live_dir/plots/metrics/**/*.tsv``; malformed rows are errors."""
    root = Path(live_dir) / "plots" / "metrics"
    out = {}
    for tsv in sorted(root.rglob("*.tsv")):
        name = tsv.relative_to(root).with_suffix("").as_posix()
        steps, values = [], []
        with tsv.open(newline="") as f:
            reader = csv.DictReader(f, delimiter="\t")
            value_col = [c for c in (reader.fieldnames or []) if c not in ("step", "timestamp")]
            if "step" not in (reader.fieldnames or []) or len(value_col) != 1:
                raise ValueError(f"{tsv}: expected columns step, <metric>[, timestamp], got {reader.fieldnames}")
            for line, rec in enumerate(reader, start=2):
                try:
                    steps.append(float(rec["step"]))
                    values.append(float(rec[value_col[0]]))
                except (TypeError, ValueError) as exc:
                    raise ValueError(f"{tsv}:{line}: not a number ({exc})") from exc
        if steps:
            out[name] = (np.array(steps), np.array(values))
    return out


def discover(models_dir: str | Path) -> dict[str, Path]:
    """``{run: live dir}`` for every ``models/<run>/live`` that holds TSV logs."""
    return {p.parent.name: p for p in sorted(Path(models_dir).glob("*/live"))
            if any((p / "plots" / "metrics").rglob("*.tsv"))}


def _order(names: list[str]) -> list[str]:
    rank = lambda n: (0 if n.startswith("train") else 1 if n.startswith("val") else 2, n)  # noqa: E731
    return sorted(names, key=rank)


def plot_curves(runs: Mapping[str, str | Path], path: str | Path, title: str = "Training curves",
                highlight: Sequence[str] = ()) -> dict:
    """Draw every run's curves (``highlight``: runs drawn thicker in fixed colours); return
    ``{run: {metric: last value}}``."""
    plt = pyplot()
    logs = {run: read_live(d) for run, d in runs.items()}
    logs = {run: m for run, m in logs.items() if m}
    metrics = _order(sorted({name for m in logs.values() for name in m}))
    if not metrics:
        fig, ax = plt.subplots(figsize=(6, 2))
        ax.axis("off")
        ax.text(0.5, 0.5, "no training logs found (models/<run>/live)", ha="center", va="center")
        save_figure(fig, path)
        plt.close(fig)
        return {}
    cols = min(3, len(metrics))
    rows = math.ceil(len(metrics) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.0 * cols + 2.4, 3.6 * rows), squeeze=False,
                             constrained_layout=True)
    fixed = dict(zip(highlight, HIGHLIGHT_COLOURS))
    others = [r for r in logs if r not in fixed]
    # distinct hues first (tab20b/tab20c come in groups of four shades of one hue)
    palette = [plt.get_cmap(name)(4 * hue + shade) for shade in (0, 2) for name in ("tab20b", "tab20c")
               for hue in range(5)]
    colours = {run: fixed.get(run) or palette[others.index(run) % len(palette)] for run in logs}
    for k, name in enumerate(metrics):
        ax = axes[k // cols][k % cols]
        positive = True
        spread = 1.0
        for run, m in logs.items():
            if name not in m:
                continue
            steps, values = m[name]
            main = run in fixed
            ax.plot(steps, values, color=colours[run], lw=2.0 if main else 1.0, alpha=1.0 if main else 0.8,
                    label=run)
            finite = values[np.isfinite(values)]
            if finite.size:
                positive &= bool((finite > 0).all())
                if positive:
                    spread = max(spread, float(finite.max() / max(finite.min(), 1e-300)))
        if positive and spread > 20:
            ax.set_yscale("log")
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("step (as logged)")
        ax.set_ylabel(name.split("/")[-1])
        ax.grid(alpha=0.3)
    for k in range(len(metrics), rows * cols):
        axes[k // cols][k % cols].axis("off")
    handles = [plt.Line2D([], [], color=colours[r], lw=2.0 if r in fixed else 1.0) for r in logs]
    fig.legend(handles, list(logs), loc="outside right upper", title="run", fontsize=9)
    fig.suptitle(f"{title} ({len(logs)} runs)", fontsize=11)
    save_figure(fig, path)
    plt.close(fig)
    return {run: {name: float(v[1][-1]) for name, v in m.items()} for run, m in logs.items()}
