"""What came out on this data, in sentences and in one table of every stated difference with its interval."""
from __future__ import annotations

from fdr.config.runs import main_run, with_role
from fdr.report import photos, probe
from fdr.report.cells import LEVEL_NAMES, MISSING, get
from fdr.report.comparison import IMAGE_SUFFIX
from fdr.report.data import ReportData
from fdr.report.tables import render as render_table


def section_findings(data: ReportData, effects: list) -> list[str]:
    """Plain sentences on what came out on this data, whether or not it agrees with the paper; a sign is
    claimed only where training noise cannot flip it (:mod:`fdr.report.effects`)."""
    lines = ["## What came out on this data", ""]
    cfg = data.comparison.cfg
    mains = set(with_role(cfg, "main")) if cfg is not None else set()
    for e in effects:
        if e.kind == "input" and e.a in mains:
            idle = "" if e.verdict == "higher" else (" At this budget the track does not test the model: its gain "
                                                      "over the input is not told apart from training noise.")
            lines.append(f"- {LEVEL_NAMES.get(e.set, e.set)}: `{e.a}` is {e.effect:+.2f} dB over the distorted input "
                         f"({_uncertainty(e)}): {e.verdict}.{idle}")
    broken = [e for e in effects if e.kind == "input" and e.a not in mains and e.high < 0]
    for e in broken:
        lines.append(f"- `{e.a}` scores BELOW its input on {e.set} ({e.effect:+.2f} dB): a broken baseline.")
    lines += photos.finding(data.photos, main_run(cfg, "hybrid") if cfg is not None else None)
    lines += _findings_analysis(data) + _findings_ablations(effects)
    if not any(e.seeds >= 2 or e.noise is not None for e in effects):
        lines.append("- Seed-to-seed spread: not measured, so no difference above is shown to exceed training noise.")
    return lines + [""]


def _uncertainty(e) -> str:
    """The interval a verdict rests on, then the within-run one over test patches or images."""
    unit = "images" if e.set.endswith(IMAGE_SUFFIX) else "patches"
    within = f"within-run 95% interval over {e.patches} {unit} {e.low:+.2f} to {e.high:+.2f}"
    if e.seeds >= 2:
        return f"95% interval over {e.seeds} seeds {e.seed_low:+.2f} to {e.seed_high:+.2f}; {within}"
    if e.noise is not None:
        return f"one run each: the sign needs ±{e.margin:.2f} dB (run-to-run std {e.noise:.2f}); {within}"
    return f"one run each, run-to-run noise not measured; {within}"


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
    c = get(data.analysis, "correlation")
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
    r = get(data.analysis, "responses")
    if isinstance(r, dict) and isinstance(r.get("within_type"), (int, float)):
        lines.append(f"- Channel responses after the FDM (phase {r.get('phase', 1)}, Fig. 8c): the channel profiles of "
                     f"two levels of the same distortion correlate {r['within_type']:.2f}, of two different "
                     f"distortions {r['between_type']:.2f} ({r.get('patches', '?')} patches, no interval: a "
                     "description of the figure; the paper's reading is tested with intervals under "
                     "\"Disentanglement, measured\").")
    cfg = data.comparison.cfg
    main = main_run(cfg, "hybrid") if cfg is not None else None
    return lines + probe.finding(get(data.analysis, "disentanglement"), data.comparison.reference, main)


def _findings_ablations(effects: list) -> list[str]:
    """Each ablation against its reference, with its verdict against the paper's sign."""
    lines = []
    for e in (e for e in effects if e.kind == "ablation"):
        paper = f"; the paper's effect {e.paper:+.2f} dB" if e.paper is not None else "; no paper counterpart"
        lines.append(f"- `{e.a}` vs `{e.b}` on {e.set}: {e.effect:+.2f} dB ({_uncertainty(e)}){paper}: "
                     f"**{e.verdict}**.")
    return lines or ["- Ablations (Tables 5–6): no ablation run of ours has numbers (not run)."]


def section_effects(effects: list) -> list[str]:
    """One table of every stated difference with its intervals and verdict."""
    lines = ["## Effects with intervals", "",
             "The unit of replication is a training run (`fdr.report.effects`). Δ PSNR (a − b, dB): over seeds, the "
             "mean of the per-seed differences of the replicated runs with its 95% t interval over seeds, and a sign "
             "is claimed only when that interval excludes 0; for single runs, the paired difference, whose sign is "
             "claimed only when it exceeds 2.83 × the run-to-run std pooled over the seed replicas (the margin "
             "shown). The within-run interval is the paired bootstrap over the test patches or images of one pair "
             "of trained models: how well the test set measures these two models, not whether training again "
             "would give the same sign.", ""]
    if not effects:
        return lines + ["No per-patch values (`reports/per_patch/`): not run.", ""]
    body = [[f"`{e.a}` − `{e.b}`", e.set, f"{e.effect:+.2f}", str(e.seeds),
             f"{e.seed_low:+.2f} … {e.seed_high:+.2f}" if e.seeds >= 2 else MISSING,
             f"±{e.margin:.2f}" if e.margin is not None else MISSING,
             f"{e.low:+.2f} … {e.high:+.2f} ({e.patches})",
             MISSING if e.paper is None else f"{e.paper:+.2f}", e.verdict] for e in effects]
    return lines + render_table(["difference", "set", "Δ PSNR", "seeds", "95% interval over seeds",
                                 "single-run margin", "within-run 95% interval (patches or images)", "paper Δ",
                                 "verdict"], body) + [""]
