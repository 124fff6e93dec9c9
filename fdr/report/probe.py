"""The report's "Disentanglement, measured" section and finding, from ``analysis.json``'s ``disentanglement``
(:mod:`fdr.analysis.probe`): the scores with intervals per run and site, then the paired differences."""
from __future__ import annotations

from typing import Optional

from fdr.report.tables import render as render_table

SCORES = (("type_accuracy", "type accuracy"), ("level_r2", "level R²"), ("selectivity", "selectivity"))


def _cell(c: Optional[dict], signed: bool = False) -> str:
    if not isinstance(c, dict) or not isinstance(c.get("value"), (int, float)):
        return "—"
    f = "{:+.3f}" if signed else "{:.3f}"
    return f"{f.format(c['value'])} [{f.format(c['low'])}, {f.format(c['high'])}]"


def verdict(c: dict) -> str:
    """``higher`` / ``lower`` when the 95% interval excludes zero, else ``not resolved``."""
    return "higher" if c["low"] > 0 else "lower" if c["high"] < 0 else "not resolved"


def _diff(c: Optional[dict]) -> str:
    return "—" if not isinstance(c, dict) else f"{_cell(c, signed=True)}: {verdict(c)}"


def _negate(c: dict) -> dict:
    return {"value": -c["value"], "low": -c["high"], "high": -c["low"]}


def section(d: Optional[dict], ref: str) -> list[str]:
    """The tables; ``ref``: the ablations' reference run."""
    lines = ["## Disentanglement, measured", ""]
    if not isinstance(d, dict) or "models" not in d:
        why = d.get("skipped") if isinstance(d, dict) else None
        return lines + [f"Not run{f' ({why})' if why else ''}.", ""]
    levels = ", ".join(str(v) for v in d.get("levels", {}).values())
    lines += [f"Linear probes on the channel responses of phase 1, before and after the FDM (for `nofdm`: the "
              f"ResBlocks in its place), from {d['patches']} clean test patches each given one distortion (blur, "
              f"noise or JPEG) at levels {levels}: {d['inputs']} inputs. Type accuracy: "
              f"held-out (two folds split by patch; chance {d['chance_accuracy']:.3f}). Level R²: held-out ridge "
              "fit of the level per type. Selectivity: how much each channel answers one type only (1/3 = all "
              "alike, 1 = one type per channel). 95% bootstrap intervals over patches in brackets "
              "(`fdr/analysis/probe.py`).", ""]
    body = []
    for run, e in d["models"].items():
        for site in ("before", "after"):
            s = e[site]
            per_type = ", ".join(f"{k} {v}" for k, v in s.get("channels_per_type", {}).items())
            body.append([f"`{run}`", site] + [_cell(s.get(k)) for k, _ in SCORES] + [per_type])
    lines += render_table(["run", "site", *(t for _, t in SCORES), "channels per type"], body) + [""]
    body = []
    for run, e in d["models"].items():
        body.append([f"`{run}`: after − before"] + [_diff(e["after_minus_before"].get(k)) for k, _ in SCORES])
        vs = e["after"].get("minus_reference")
        if vs:
            body.append([f"`{run}` − `{ref}` (after)"] + [_diff(vs.get(k)) for k, _ in SCORES])
    lines += render_table(["difference (paired)", *(t for _, t in SCORES)], body) + [""]
    return lines


def finding(d: Optional[dict], ref: str, main: Optional[str] = None) -> list[str]:
    """One sentence per control (every run but the reference and the ``main`` run): does the reference's FDM
    output separate the distortions better?"""
    if not isinstance(d, dict) or "models" not in d:
        return []
    out = []
    for run, e in d["models"].items():
        vs = e["after"].get("minus_reference")
        if not vs or run == main:
            continue
        parts = [f"{t} {_diff(_negate(vs[k]))}" for k, t in SCORES if k in vs]
        out.append(f"- Disentanglement, `{ref}` − `{run}` after the FDM: " + "; ".join(parts) + ".")
    return out
