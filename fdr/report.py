"""``reports/report.md``: our results against the paper's Tables 1-6, with the analysis of §4.5.

Everything in the report is read from files the pipeline wrote (``reports/metrics/*.json`` through
DVC, ``models/<run>/summary.json``, ``reports/metrics/analysis.json``, ``params.yaml``,
``reports/choices.md``) or the paper's tables (``reports/paper``). A number we do not have is shown
as "not run" (a run of ours that is missing) or "—" (no such number, e.g. the paper has no row for
the distorted input). Methods the paper compares with but this project does not re-implement
(RL-Restore, the deblurring and deraining methods) read "n/a".
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np

from fdr import report_probe
from fdr.atomic import write_text
from fdr.comparison import ABLATION_RE, IMAGE_SUFFIX, INPUT_RUN, OWN_IMAGES, TRACK_PREFIX, Comparison, Row, fmt, \
    has_ours, missing_text
from fdr.comparison import load as load_comparison
from fdr.figures import pyplot, save_figure
from fdr.paper import ABLATION_TABLES, PAPER_DIR, SCORES, load_fig8
from fdr.provenance import git_revision, machine
from fdr.tables import render as render_table

LEVEL_NAMES = {"mild": "Mild (unseen)", "moderate": "Moderate", "severe": "Severe (unseen)", "didhy": "DID-HY",
               "deblur": "Deblurring", "derain": "Deraining", "didhy_image": "DID-HY (whole images)"}
# Ours-only extra columns of a table: Table 2's per-patch DID-HY scores beside the whole-image ones.
EXTRA_SETS = {"table2": {"didhy": "DID-HY per 63x63 patch (ours)"}}
MISSING = "—"
NOT_SWEPT = "not swept"  # a Table 6 column outside our sweep (ablations.flayers / channels): nothing was to run


@dataclass
class ReportData:
    """Everything the report shows, gathered once (see :func:`collect`)."""

    comparison: Comparison
    fig8: Optional[dict] = None  # the paper's correlation averages
    choices: Optional[str] = None  # reports/choices.md
    git_revision: str = "unknown"
    machine: dict = field(default_factory=dict)
    paper_config_params: dict = field(default_factory=dict)  # run -> parameter count at the paper's configuration
    figures: dict = field(default_factory=dict)  # name -> path relative to the report
    effects: list = field(default_factory=list)  # fdr.effects.Effect rows: every stated difference

    @property
    def summaries(self) -> dict:
        return self.comparison.summaries

    @property
    def spread(self) -> dict:
        return self.comparison.spread

    @property
    def params(self) -> Optional[dict]:
        return self.comparison.params

    @property
    def analysis(self) -> Optional[dict]:
        return self.comparison.analysis

    @property
    def alias(self) -> dict:
        return self.comparison.alias


# --------------------------------------------------------------------------- gathering


def paper_config_params() -> dict:
    """Parameter counts of our architecture at the paper's configurations (Table 5 rows, Table 6 columns)."""
    from fdr.models import build, count_parameters, paper_variants

    return {run: count_parameters(build(name, cfg)) for run, (name, cfg) in paper_variants().items()}


def collect(root: str | Path = ".", params_path: str = "params.yaml", use_dvc: bool = True,
            count_paper_params: bool = True) -> ReportData:
    """Read every input of the report below ``root``."""
    root = Path(root)
    choices_path = root / "reports" / "choices.md"
    data = ReportData(
        comparison=load_comparison(root, params_path, use_dvc),
        fig8=load_fig8(root / PAPER_DIR / "fig8.json"),
        choices=choices_path.read_text() if choices_path.is_file() else None,
        git_revision=git_revision(root),
        machine=machine(),
        paper_config_params=paper_config_params() if count_paper_params else {},
    )
    data.effects = data.comparison.effects()
    for name in ("correlation", "responses", "curves", "grid_mild", "grid_moderate", "grid_severe", "restore_example"):
        if (root / "reports" / "figures" / "analysis" / f"{name}.png").is_file():
            data.figures[name] = f"figures/analysis/{name}.png"
    return data


# --------------------------------------------------------------------------- formatting helpers


def _index(rows: list[Row]) -> dict:
    return {(r.run, r.set, r.metric): r for r in rows}


def _cell(row: Optional[Row], metric: str, missing: Optional[str] = None) -> str:
    """``paper / ours (ours - paper)`` for one table cell (``missing``: what a missing number of ours reads)."""
    if row is None:
        return MISSING
    p = fmt(row.paper, metric, missing=MISSING)
    o = fmt(row.ours, metric, missing=missing or missing_text(row.run))
    text = f"{p} / {o}"
    if row.delta is not None:
        text += f" ({fmt(row.delta, metric, signed=True)})"
    return text


def _fmt_s(seconds: Any) -> str:
    if not isinstance(seconds, (int, float)):
        return MISSING
    if seconds >= 3600:
        return f"{seconds / 3600:.2f} h"
    if seconds >= 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.1f} s"


def _fmt_int(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else MISSING


def _num(value: Any, digits: int) -> str:
    return f"{value:.{digits}f}" if isinstance(value, (int, float)) and not isinstance(value, bool) else MISSING


def _get(d: Optional[dict], *keys: str) -> Any:
    for k in keys:
        if not isinstance(d, dict):
            return None
        d = d.get(k)
    return d


# --------------------------------------------------------------------------- sections


def _note(data: ReportData, table: Optional[str] = None) -> list[str]:
    note = data.comparison.note(table)
    if not note:
        return []
    if data.comparison.source in OWN_IMAGES:
        return [f"> **Not comparable to the paper.** {note}" if table is None else f"> **{note}**", ""]
    return [f"> {note}", ""]


def section_setup(data: ReportData) -> list[str]:
    p = data.params or {}
    m = data.machine
    devices = sorted({str(s.get("device")) for s in data.summaries.values() if s.get("device")})
    hardware = sorted({str(s.get("hardware")) for s in data.summaries.values() if s.get("hardware")})
    rows = [
        ["git revision", f"`{data.git_revision}`"],
        ["data source", f"`{_get(p, 'data', 'source') or 'unknown'}`"],
        ["profile", ", ".join(f"{k} {v}" for k, v in (
            ("patch", _get(p, "crop", "patch")), ("train level", _get(p, "synthesis", "train_level")),
            ("iterations", _get(p, "train", "iterations")), ("ablation iterations", _get(p, "ablations", "iterations")),
            ("batch", _get(p, "train", "batch_size")), ("lr", _get(p, "train", "lr")),
            ("beta (SVDO)", _get(p, "train", "beta")), ("seed", _get(p, "seed"))) if v is not None) or MISSING],
        ["model", ", ".join(f"{k} {v}" for k, v in (
            ("channels", _get(p, "model", "channels")), ("FD-layers", _get(p, "model", "n_flayers")),
            ("phases", _get(p, "model", "phases"))) if v is not None) or MISSING],
        ["training device(s)", ", ".join(devices + hardware) or MISSING],
        ["report generated on", f"{m.get('cpu', '?')}, {m.get('cores', '?')} cores"
                                + (f", {m['gpu']}" if m.get("gpu") else "")
                                + f"; Python {m.get('python', '?')}, torch {m.get('torch', '?')}"],
        ["our metrics read with", data.comparison.how],
    ]
    return ["## Setup", ""] + render_table(["item", "value"], rows, centre=False) + [""]


def section_runs(data: ReportData) -> list[str]:
    if not data.summaries:
        return ["## Trained runs", "", "No trained runs found (`models/<run>/summary.json`): not run.", ""]
    body = []
    for run, s in data.summaries.items():
        body.append([f"`{run}`", str(s.get("model", MISSING)), _fmt_int(s.get("params")),
                     _fmt_int(s.get("iterations")), _fmt_s(s.get("wall_s")), str(s.get("device", MISSING)),
                     fmt(s.get("val_psnr"), "psnr", missing=MISSING)])
    lines = ["## Trained runs", "", "From `models/<run>/summary.json`. Validation PSNR: the training stage's "
             "subset of the run's validation set (`val` in the run table).", ""]
    lines += render_table(["run", "model", "parameters", "iterations", "wall time", "device", "val PSNR (dB)"], body)
    if data.paper_config_params:
        t5 = data.comparison.tables.get("table5")
        body = []
        for run, count in data.paper_config_params.items():
            stated = _get(t5.rows if t5 else None, run, "params")
            body.append([f"`{run}`", _fmt_int(count), fmt(stated, "params", missing=MISSING)])
        lines += ["", "Parameter counts of this implementation at the paper's configurations "
                  "(`fdr.models.paper_variants()`, whatever `params.yaml` holds), against Table 5:", ""]
        lines += render_table(["configuration", "ours", "paper"], body)
    return lines + [""]


def section_table_generic(data: ReportData, name: str) -> list[str]:
    table = data.comparison.tables[name]
    rows = data.comparison.rows[name]
    idx = _index(rows)
    runs = list(dict.fromkeys(r.run for r in rows))
    sets = table.sets
    extra = {k: v for k, v in EXTRA_SETS.get(name, {}).items() if k != _ours_set(rows, k)}
    header = ["Method"] + [f"{LEVEL_NAMES.get(s, s)} {m.upper()}" for s in sets for m in SCORES]
    header += [f"{title} {m.upper()}" for title in extra.values() for m in SCORES]
    body = []
    for run in runs:
        label = table.label(run) if run != INPUT_RUN else "Distorted input"
        cells = [_cell(idx.get((run, s, m)), m) for s in sets for m in SCORES]
        entry = _ours_entry(data, name, run)
        cells += [fmt(_get(entry, s, m), m, missing=MISSING) for s in extra for m in SCORES]
        body.append([label] + cells)
    lines = [f"## {name.replace('table', 'Table ')}: {table.title}", "", f"Source: {table.source}.", ""]
    lines += _note(data, name)
    if not has_ours(rows):
        lines += ["No numbers of ours for this table (not run).", ""]
    lines += ["Each cell: paper / ours (ours − paper)." + _whole_note(rows, data), ""]
    return lines + render_table(header, body) + [""]


def _ours_set(rows: list[Row], paper_set: str) -> Optional[str]:
    """The set our numbers of ``paper_set`` come from in ``rows`` (None when we have none)."""
    return next((r.ours_set for r in rows if r.set == paper_set and r.ours is not None), None)


def _ours_entry(data: ReportData, table: str, run: str) -> Optional[dict]:
    """Our metrics of a table row (``didhy_fdrnet`` for Table 2's ``fdrnet``; ``input`` as is)."""
    prefix = TRACK_PREFIX.get(table, "") if run != INPUT_RUN else ""
    return data.comparison.ours.get(prefix + run)


def _whole_note(rows: list[Row], data: ReportData) -> str:
    sets = sorted({r.ours_set for r in rows if r.ours_set and r.ours_set.endswith(IMAGE_SUFFIX) and r.ours is not None})
    if not sets:
        return ""
    counts = sorted({str(e[s].get("images")) for e in data.comparison.ours.values() for s in sets
                     if isinstance(e.get(s), dict)})
    return (f" Ours on whole test images, one forward pass per image as the paper scores them ({'/'.join(counts)} "
            "images: `evaluate.whole.images`); the per-patch scores of the same runs are the extra columns.")


def _effect_text(row: Optional[Row], which: str) -> str:
    if row is None:
        return MISSING
    v = row.paper_effect if which == "paper" else row.ours_effect
    return fmt(v, row.metric, signed=True, missing=MISSING)


def _set_note(rows: list[Row]) -> list[str]:
    subs = sorted({(r.ours_set, r.set) for r in rows if r.substituted})
    if not subs:
        return []
    text = "; ".join(f"ours on `{o}` (paper: `{p}`)" for o, p in subs)
    return [f"> Our ablation runs have no DID-HY numbers: {text}. Absolute values are not comparable; "
            "read the effect of each change against our full model on the same data.", ""]


def section_table5(data: ReportData) -> list[str]:
    table = data.comparison.tables["table5"]
    rows = data.comparison.rows["table5"]
    idx = _index(rows)
    s = table.sets[0]
    marks = {"fdrnet": ("✓", "✓"), "nofdm": ("×", "✓"), "noaux": ("✓", "×")}
    body = []
    for run in table.rows:
        fdm, aux = marks.get(run, ("?", "?"))
        body.append([fdm, aux, f"`{run}`", _cell(idx.get((run, "-", "params")), "params"),
                     _cell(idx.get((run, s, "psnr")), "psnr"), _cell(idx.get((run, s, "ssim")), "ssim"),
                     f"{_effect_text(idx.get((run, s, 'psnr')), 'paper')} / {_effect_text(idx.get((run, s, 'psnr')), 'ours')}"])
    lines = ["## Table 5: " + table.title, "", f"Source: {table.source}.", ""]
    lines += _note(data, "table5") + _set_note(rows)
    lines += ["Each cell: paper / ours (ours − paper). Effect: PSNR of the row minus the full model, paper / ours.", ""]
    lines += render_table(["FDM", "Aux", "run", "Params", "PSNR", "SSIM", "PSNR effect vs full"], body)
    return lines + [""]


def section_table6(data: ReportData) -> list[str]:
    table = data.comparison.tables["table6"]
    rows = data.comparison.rows["table6"]
    idx = _index(rows)
    s = table.sets[0]
    lines = ["## Table 6: " + table.title, "", f"Source: {table.source}.", ""]
    lines += _note(data, "table6") + _set_note(rows)
    fl = [r for r in table.rows if r.startswith("fl")]
    ch = [r for r in table.rows if r.startswith("ch")]
    model = (data.params or {}).get("model", {})
    stand_in = ", ".join(f"`{k}`" for k in data.alias)
    lines += [f"Each cell: paper / ours (ours − paper). Our FD-layer sweep uses {model.get('channels', '?')} channels "
              f"and our channel sweep {model.get('n_flayers', '?')} FD-layers (the configured main model); "
              f"{stand_in} is the ablations' reference `{data.comparison.reference}` unless trained separately.", ""]
    ablations = (data.params or {}).get("ablations", {})
    swept = {f"fl{v}" for v in ablations.get("flayers", ())} | {f"ch{v}" for v in ablations.get("channels", ())}
    swept |= {f"fl{model.get('n_flayers')}", f"ch{model.get('channels')}"}
    for title, runs in (("FD-layers per FDM", fl), ("Channels (3 FD-layers in the paper)", ch)):
        header = [title] + [r[2:] for r in runs]
        body = [[m.upper()] + [_cell(idx.get((r, s, m)), m, None if r in swept else NOT_SWEPT) for r in runs]
                for m in SCORES]
        body.append(["PSNR effect vs full (paper / ours)"]
                    + [f"{_effect_text(idx.get((r, s, 'psnr')), 'paper')} / {_effect_text(idx.get((r, s, 'psnr')), 'ours')}"
                       for r in runs])
        lines += render_table(header, body) + [""]
    return lines + _our_sweeps(data, rows)


def _our_sweeps(data: ReportData, rows: list) -> list[str]:
    """Every FD-layer / channel run we trained, on the set we compare on, with its effect vs the ablations'
    reference run: our sweep values need not be the paper's columns (the embedded default sweeps 8/16/24)."""
    ours, main = data.comparison.ours, data.comparison.reference
    our_set = next((r.ours_set for r in rows if r.ours_set), None)
    model = (data.params or {}).get("model", {})
    sweeps = (("FD-layers", "fl", model.get("n_flayers")), ("Channels", "ch", model.get("channels")))
    lines = []
    for title, prefix, main_value in sweeps:
        runs = {int(r[2:]): r for r in ours if ABLATION_RE.match(r) and r.startswith(prefix)}
        if main in ours and isinstance(main_value, int):
            runs.setdefault(main_value, main)
        if len(runs) < 2 or our_set is None:
            continue
        ref = _get(ours, main, our_set, "psnr")
        header = [f"Our sweep: {title} ({our_set})"] + [f"{v}" + (f" ({main})" if runs[v] == main else "") for v in sorted(runs)]
        body = [[m.upper()] + [fmt(_get(ours, runs[v], our_set, m), m) for v in sorted(runs)] for m in SCORES]
        body.append([f"PSNR effect vs {main}"] + [
            fmt(None if ref is None or _get(ours, runs[v], our_set, "psnr") is None
                      else _get(ours, runs[v], our_set, "psnr") - ref, "psnr", signed=True, missing="—")
            for v in sorted(runs)])
        lines += render_table(header, body) + [""]
    return lines


def _spread_std(data: ReportData, set_: Optional[str], metric: str = "psnr") -> Optional[float]:
    return _get(data.spread, "sets", set_ or "", metric, "std")


def section_spread(data: ReportData) -> list[str]:
    lines = ["## Seed-to-seed spread of the ablations' reference", ""]
    if not data.spread["sets"]:
        ref = data.comparison.reference
        lines += [f"Not measured: only one seed of `{ref}` was trained (replicas would be "
                  f"`reports/metrics/seed<N>.json` beside `{ref}.json`). Differences between runs below are "
                  "therefore of unknown significance; do not read a small ablation difference as an effect.", ""]
        return lines
    body = []
    for s, metrics in data.spread["sets"].items():
        for m, v in metrics.items():
            body.append([s, m.upper(), str(v["n"]), fmt(v["mean"], m), fmt(v["std"], m),
                         f"{fmt(v['min'], m)} – {fmt(v['max'], m)}"])
    lines += [f"Runs: {', '.join(f'`{r}`' for r in data.spread['runs'])} (same data and settings, different seeds).", ""]
    lines += render_table(["set", "metric", "runs", "mean", "std", "range"], body)
    return lines + ["", "An ablation effect smaller than about twice the std is within seed noise.", ""]


def section_findings(data: ReportData, effects: list) -> list[str]:
    """Plain sentences on what came out on this data, whether or not it agrees with the paper; a sign is
    claimed only where the interval (and the seed spread) resolves it."""
    lines = ["## What came out on this data", ""]
    for e in effects:
        if e.kind == "input" and e.a.endswith("fdrnet"):
            lines.append(f"- {LEVEL_NAMES.get(e.set, e.set)}: `{e.a}` is {e.effect:+.2f} dB over the distorted input "
                         f"(95% interval {e.low:+.2f} to {e.high:+.2f}, {e.patches} "
                         f"{'images' if e.set.endswith(IMAGE_SUFFIX) else 'patches'}): {e.verdict}.")
    broken = [e for e in effects if e.kind == "input" and not e.a.endswith("fdrnet") and e.high < 0]
    for e in broken:
        lines.append(f"- `{e.a}` scores BELOW its input on {e.set} ({e.effect:+.2f} dB): a broken baseline.")
    lines += _findings_analysis(data) + _findings_ablations(effects)
    if not data.spread["sets"]:
        lines.append("- Seed-to-seed spread: not measured, so no difference above is shown to exceed training noise.")
    return lines + [""]


def _change(c: dict) -> str:
    """``change -0.165 (95% interval over patches -0.18 to -0.15): decreased``; the sign only when resolved."""
    change = c.get("change", c["after"] - c["before"])
    low, high = c.get("change_low"), c.get("change_high")
    if not isinstance(low, (int, float)) or not isinstance(high, (int, float)) or low != low:
        return f"change {change:+.3f} (no interval)"
    sign = "decreased" if high < 0 else "increased" if low > 0 else "not resolved"
    return f"change {change:+.3f} (95% interval over patches {low:+.3f} to {high:+.3f}): {sign}"


def _findings_analysis(data: ReportData) -> list[str]:
    """Sentences on the correlation before/after the FDM and the channel responses (Fig. 8)."""
    lines = []
    c = _get(data.analysis, "correlation")
    if isinstance(c, dict) and isinstance(c.get("before"), (int, float)):
        text = (f"- Mean absolute channel correlation through the FDM: {c['before']:.3f} before → {c['after']:.3f} "
                f"after, {_change(c)} (mean over {c.get('phases', '?')} phases")
        if data.fig8:
            text += f"; paper {data.fig8['before']:.3f} → {data.fig8['after']:.3f}"
        text += ")."
        init = c.get("init")
        if isinstance(init, dict) and isinstance(init.get("before"), (int, float)):
            text += (f" The same architecture at its initialisation gives {init['before']:.3f} → {init['after']:.3f}, "
                     f"{_change(init)}.")
        lines.append(text)
    elif isinstance(c, dict) and c.get("skipped"):
        lines.append(f"- Correlation before/after the FDM and channel responses: skipped ({c['skipped']}).")
    else:
        lines.append("- Correlation before/after the FDM: not run.")
    r = _get(data.analysis, "responses")
    if isinstance(r, dict) and isinstance(r.get("within_type"), (int, float)):
        lines.append(f"- Channel responses after the FDM (phase {r.get('phase', 1)}, Fig. 8c): the channel profiles of "
                     f"two levels of the same distortion correlate {r['within_type']:.2f}, of two different "
                     f"distortions {r['between_type']:.2f} ({r.get('patches', '?')} patches, no interval: a "
                     "description of the figure; the paper's reading is tested with intervals under "
                     "\"Disentanglement, measured\").")
    return lines + report_probe.finding(_get(data.analysis, "disentanglement"), data.comparison.reference)


def _findings_ablations(effects: list) -> list[str]:
    """Each ablation against its reference, with its verdict against the paper's sign."""
    lines = []
    for e in (e for e in effects if e.kind == "ablation"):
        paper = f"; the paper's effect {e.paper:+.2f} dB" if e.paper is not None else "; no paper counterpart"
        lines.append(f"- `{e.a}` vs `{e.b}` on {e.set}: {e.effect:+.2f} dB (95% interval {e.low:+.2f} to "
                     f"{e.high:+.2f}{'' if e.seed_std is None else f', seed std {e.seed_std:.2f}'}){paper}: "
                     f"**{e.verdict}**.")
    return lines or ["- Ablations (Tables 5–6): no ablation run of ours has numbers (not run)."]


def section_effects(effects: list) -> list[str]:
    """One table of every stated difference with its interval, seed spread and verdict."""
    lines = ["## Effects with intervals", "",
             "Mean over test patches of the paired PSNR difference (a − b, dB), its 95% bootstrap interval over "
             "patches (`fdr.effects`), the seed spread of the ablations' reference where seeds exist, the paper's "
             "effect where it has one, and the verdict: a sign is claimed only when the interval excludes 0 and the "
             "difference exceeds twice the seed std.", ""]
    if not effects:
        return lines + ["No per-patch values (`reports/per_patch/`): not run.", ""]
    body = [[f"`{e.a}` − `{e.b}`", e.set, f"{e.effect:+.2f}", f"{e.low:+.2f} … {e.high:+.2f}", str(e.patches),
             MISSING if e.seed_std is None else f"{e.seed_std:.2f}",
             MISSING if e.paper is None else f"{e.paper:+.2f}", e.verdict] for e in effects]
    return lines + render_table(["difference", "set", "Δ PSNR", "95% interval", "patches or images", "seed std",
                                 "paper Δ", "verdict"], body) + [""]


def section_analysis(data: ReportData) -> list[str]:
    lines = ["## Interpretative analysis (§4.5, Fig. 6–8)", ""]
    if not data.analysis:
        return lines + ["Not run (`reports/metrics/analysis.json` is missing).", ""]
    c = data.analysis.get("correlation", {})
    r = data.analysis.get("responses", {})
    if isinstance(c.get("per_phase"), dict):
        rphase = r.get("per_phase", {}) if isinstance(r.get("per_phase"), dict) else {}
        body = []
        for name, v in c["per_phase"].items():
            rp = rphase.get(name, {})
            body.append([name.replace("phase", "phase "), _num(v.get("before"), 3), _num(v.get("after"), 3),
                         _num(rp.get("within_type"), 2), _num(rp.get("between_type"), 2)])
        paper_row = (["paper (Fig. 8)", f"{data.fig8['before']:.3f}", f"{data.fig8['after']:.3f}", MISSING, MISSING]
                     if data.fig8 else [])
        lines += [f"From `reports/metrics/analysis.json` ({c.get('patches', '?')} test patches for the correlation). "
                  "Correlation: mean |r| between distinct channels of the features entering the FDM (before) and "
                  "leaving it (after). Responses: correlation of channel profiles between two levels of the same "
                  "distortion (same type) and of two different distortions (different types).", ""]
        lines += render_table(["", "correlation before", "correlation after", "responses: same type",
                            "responses: different types"], body + ([paper_row] if paper_row else [])) + [""]
    figs = data.figures
    captions = [
        ("correlation", "Fig. 8a/b: |correlation| between channels before (top) and after (bottom) the FDM."),
        ("responses", "Fig. 8c: channel responses after the FDM per distortion type and level (change vs clean)."),
        ("grid_mild", "Fig. 6 style, mild test level: input, DnCNN, OWAN, FDR-Net, ground truth, PSNR per tile."),
        ("grid_moderate", "Fig. 6 style, moderate test level."),
        ("grid_severe", "Fig. 6 style, severe test level."),
        ("restore_example", "A photo the models never saw, distorted at the training level and restored with "
                            "`fdr restore`'s tiling (PSNR against the clean photo)."),
        ("curves", "Training curves of every trained run (DVCLive logs)."),
    ]
    for key, caption in captions:
        if key in figs:
            lines += [f"**{caption}**", "", f"![{key}]({figs[key]})", ""]
        else:
            lines += [f"**{caption}** Not run.", ""]
    return lines


def section_choices(data: ReportData) -> list[str]:
    lines = ["## Choices where the paper is silent", ""]
    if not data.choices:
        return lines + ["`reports/choices.md` not found.", ""]
    headings = [l.lstrip("#").strip() for l in data.choices.splitlines() if l.startswith("## ")]
    lines += [f"Recorded in [choices.md](choices.md) ({len(headings)} sections: {', '.join(headings) or MISSING}).",
              "", "<details><summary>Full text</summary>", ""]
    body = [("#" + l if l.startswith("#") else l) for l in data.choices.splitlines()]  # demote headings one level
    return lines + body + ["", "</details>", ""]


def render(data: ReportData) -> str:
    lines = ["# FDR-Net: results against the paper", "",
             "Generated by `python -m stages.report` from the pipeline's outputs (every number is read from a "
             "file; “not run” = a run of ours that is missing, “n/a” = a method not re-implemented here, "
             "“not swept” = a Table 6 column outside our sweep, "
             "“—” = no such number). Paper: Li et al., *Learning Disentangled Feature Representation for "
             "Hybrid-distorted Image Restoration*, ECCV 2020.", ""]
    lines += _note(data)
    lines += section_setup(data) + section_findings(data, data.effects) + section_effects(data.effects)
    if "table1" in data.figures:
        lines += [f"![paper vs ours, Table 1]({data.figures['table1']})", ""]
    for name in ("table1", "table2", "table3", "table4"):
        lines += section_table_generic(data, name)
    lines += section_table5(data) + section_table6(data)
    if "ablations" in data.figures:
        lines += [f"![ablation effects]({data.figures['ablations']})", ""]
    lines += section_spread(data) + section_runs(data) + section_analysis(data)
    lines += report_probe.section(_get(data.analysis, "disentanglement"), data.comparison.reference)
    lines += section_choices(data)
    return "\n".join(lines).rstrip() + "\n"


# --------------------------------------------------------------------------- figures


def plot_table1(data: ReportData, path: Path) -> bool:
    """Bars of PSNR per level: the paper's methods vs ours. False (no figure) when we have no Table 1 numbers."""
    rows = data.comparison.rows["table1"]
    if not has_ours(rows):
        return False
    plt = pyplot()
    table = data.comparison.tables["table1"]
    idx = _index(rows)
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
                          label=table.label(run) if run != INPUT_RUN else "Distorted input")
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
    """Each ablation's PSNR effect against the reference run with its 95% interval (ours), the paper's effect,
    and the band of twice the seed std."""
    rows = [e for e in data.effects if e.kind == "ablation"]
    if not rows:
        return False
    plt = pyplot()
    y = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(10, 0.45 * len(rows) + 1.8), constrained_layout=True)
    paper = [e.paper for e in rows]
    ax.scatter([p for p in paper if p is not None], [k for k, p in zip(y, paper) if p is not None], marker="s",
               color="tab:gray", label="paper (DID-HY)", zorder=3)
    ax.errorbar([e.effect for e in rows], y, xerr=[[e.effect - e.low for e in rows], [e.high - e.effect for e in rows]],
                fmt="o", color="tab:red", capsize=3, label="ours, 95% interval over patches", zorder=4)
    std = rows[0].seed_std
    if std is not None:
        ax.axvspan(-2 * std, 2 * std, color="tab:red", alpha=0.12, label="±2 seed std (ours)")
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


def write_report(root: str | Path = ".", out: str | Path = "reports/report.md",
                 figures_dir: str | Path = "reports/figures/report", params_path: str = "params.yaml",
                 use_dvc: bool = True, count_paper_params: bool = True) -> ReportData:
    """Collect, draw the report's own figures, and write ``out`` atomically."""
    root = Path(root)
    data = collect(root, params_path, use_dvc=use_dvc, count_paper_params=count_paper_params)
    figures_dir = root / figures_dir
    out = root / out
    for name, fn in (("table1", plot_table1), ("ablations", plot_ablations)):
        target = figures_dir / f"{name}.png"
        if fn(data, target):
            data.figures[name] = os.path.relpath(target, out.parent)
        elif target.exists():
            target.unlink()
    write_text(out, render(data))
    return data
