"""What came out on this data, in sentences and in one table of every stated difference with its interval."""
from __future__ import annotations

from fdr.config.runs import main_run, with_role
from fdr.report import probe
from fdr.report.cells import LEVEL_NAMES, MISSING, get
from fdr.report.comparison import IMAGE_SUFFIX
from fdr.report.data import ReportData
from fdr.report.tables import render as render_table


def section_findings(data: ReportData, effects: list) -> list[str]:
    """Plain sentences on what came out on this data, whether or not it agrees with the paper; a sign is
    claimed only where the interval (and the seed spread) resolves it."""
    lines = ["## What came out on this data", ""]
    cfg = data.comparison.cfg
    mains = set(with_role(cfg, "main")) if cfg is not None else set()
    for e in effects:
        if e.kind == "input" and e.a in mains:
            lines.append(f"- {LEVEL_NAMES.get(e.set, e.set)}: `{e.a}` is {e.effect:+.2f} dB over the distorted input "
                         f"(95% interval {e.low:+.2f} to {e.high:+.2f}, {e.patches} "
                         f"{'images' if e.set.endswith(IMAGE_SUFFIX) else 'patches'}): {e.verdict}.")
    broken = [e for e in effects if e.kind == "input" and e.a not in mains and e.high < 0]
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
        lines.append(f"- `{e.a}` vs `{e.b}` on {e.set}: {e.effect:+.2f} dB (95% interval {e.low:+.2f} to "
                     f"{e.high:+.2f}{'' if e.seed_std is None else f', seed std {e.seed_std:.2f}'}){paper}: "
                     f"**{e.verdict}**.")
    return lines or ["- Ablations (Tables 5–6): no ablation run of ours has numbers (not run)."]


def section_effects(effects: list) -> list[str]:
    """One table of every stated difference with its interval, seed spread and verdict."""
    lines = ["## Effects with intervals", "",
             "Mean over test patches of the paired PSNR difference (a − b, dB), its 95% bootstrap interval over "
             "patches (`fdr.report.effects`), the seed spread of the ablations' reference where seeds exist, the paper's "
             "effect where it has one, and the verdict: a sign is claimed only when the interval excludes 0 and the "
             "difference exceeds twice the seed std.", ""]
    if not effects:
        return lines + ["No per-patch values (`reports/per_patch/`): not run.", ""]
    body = [[f"`{e.a}` − `{e.b}`", e.set, f"{e.effect:+.2f}", f"{e.low:+.2f} … {e.high:+.2f}", str(e.patches),
             MISSING if e.seed_std is None else f"{e.seed_std:.2f}",
             MISSING if e.paper is None else f"{e.paper:+.2f}", e.verdict] for e in effects]
    return lines + render_table(["difference", "set", "Δ PSNR", "95% interval", "patches or images", "seed std",
                                 "paper Δ", "verdict"], body) + [""]
