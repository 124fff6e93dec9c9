"""The report's other sections: setup, trained runs, seed spread, the interpretative analysis, the choices."""
from __future__ import annotations

from fdr.report.cells import MISSING, fmt_int, fmt_seconds, get, num
from fdr.report.comparison import fmt
from fdr.report.data import ReportData
from fdr.report.tables import render as render_table


def section_setup(data: ReportData) -> list[str]:
    p = data.params or {}
    m = data.machine
    devices = sorted({str(s.get("device")) for s in data.summaries.values() if s.get("device")})
    hardware = sorted({str(s.get("hardware")) for s in data.summaries.values() if s.get("hardware")})
    rows = [
        ["git revision", f"`{data.git_revision}`"],
        ["data source", f"`{get(p, 'data', 'source') or 'unknown'}`"],
        ["profile", ", ".join(f"{k} {v}" for k, v in (
            ("patch", get(p, "crop", "patch")), ("train level", get(p, "synthesis", "train_level")),
            ("iterations", get(p, "train", "iterations")), ("ablation iterations", get(p, "ablations", "iterations")),
            ("batch", get(p, "train", "batch_size")), ("lr", get(p, "train", "lr")),
            ("beta (SVDO)", get(p, "train", "beta")), ("seed", get(p, "seed"))) if v is not None) or MISSING],
        ["model", ", ".join(f"{k} {v}" for k, v in (
            ("channels", get(p, "model", "channels")), ("FD-layers", get(p, "model", "n_flayers")),
            ("phases", get(p, "model", "phases"))) if v is not None) or MISSING],
        ["training device(s)", ", ".join(devices + hardware) or MISSING],
        ["report generated on", f"{m.get('cpu', '?')}, {m.get('cores', '?')} cores"
                                + (f", {m['gpu']}" if m.get("gpu") else "")
                                + f"; Python {m.get('python', '?')}, torch {m.get('torch', '?')}"],
    ]
    return ["## Setup", ""] + render_table(["item", "value"], rows, centre=False) + [""]


def section_runs(data: ReportData) -> list[str]:
    if not data.summaries:
        return ["## Trained runs", "", "No trained runs found (`models/<run>/summary.json`): not run.", ""]
    body = []
    for run, s in data.summaries.items():
        body.append([f"`{run}`", str(s.get("model", MISSING)), fmt_int(s.get("params")),
                     fmt_int(s.get("iterations")), fmt_seconds(s.get("wall_s")), str(s.get("device", MISSING)),
                     fmt(s.get("val_psnr"), "psnr", missing=MISSING)])
    lines = ["## Trained runs", "", "From `models/<run>/summary.json`. Validation PSNR: the training stage's "
             "subset of the run's validation set (`val` in the run table).", ""]
    lines += render_table(["run", "model", "parameters", "iterations", "wall time", "device", "val PSNR (dB)"], body)
    if data.paper_config_params:
        t5 = data.comparison.tables.get("table5")
        body = []
        for run, count in data.paper_config_params.items():
            stated = get(t5.rows if t5 else None, run, "params")
            body.append([f"`{run}`", fmt_int(count), fmt(stated, "params", missing=MISSING)])
        lines += ["", "Parameter counts of this implementation at the paper's configurations "
                  "(`fdr.models.paper_variants()`, whatever `params.yaml` holds), against Table 5:", ""]
        lines += render_table(["configuration", "ours", "paper"], body)
    return lines + [""]


def section_spread(data: ReportData) -> list[str]:
    lines = ["## Seed-to-seed spread", ""]
    groups = {head: s for head, s in data.comparison.spreads.items() if s["sets"]}
    if not groups:
        return lines + ["Not measured: no run of the table has seed replicas (rows equal but for `seed`). Differences "
                        "between runs are then of unknown significance: no sign of a difference is claimed.", ""]
    body = []
    for head, spread in groups.items():
        for s, metrics in spread["sets"].items():
            for m, v in metrics.items():
                body.append([f"`{head}`", s, m.upper(), str(v["n"]), fmt(v["mean"], m), fmt(v["std"], m),
                             f"{fmt(v['min'], m)} – {fmt(v['max'], m)}"])
    lines += ["Each group: a row of the run table and its seed replicas (the same data and settings, another seed "
              "offset).", ""]
    lines += render_table(["group", "set", "metric", "runs", "mean", "std", "range"], body)
    pooled = data.comparison.pooled_std
    if pooled is not None:
        lines += ["", f"Run-to-run std pooled over the groups (PSNR): {pooled:.3f} dB; a difference of two single runs "
                      f"is claimed only beyond {2.83 * pooled:.2f} dB."]
    return lines + [""]


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
            body.append([name.replace("phase", "phase "), num(v.get("before"), 3), num(v.get("after"), 3),
                         num(rp.get("within_type"), 2), num(rp.get("between_type"), 2)])
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
