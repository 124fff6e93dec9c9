"""The report's Tables 1-6: paper / ours (ours − paper) per cell, the ablations' effects, our own sweeps."""
from __future__ import annotations

from typing import Optional

from fdr.config.runs import resolve, sweep_runs
from fdr.report.cells import (
    LEVEL_NAMES,
    MISSING,
    NOT_SWEPT,
    cell,
    effect_text,
    get,
    index,
    note_lines,
)
from fdr.report.comparison import (
    CITED_CONVENTION,
    IMAGE_SUFFIX,
    INPUT_RUN,
    WHOLE_SETS,
    Row,
    fmt,
    has_ours,
    our_metric,
)
from fdr.report.data import ReportData
from fdr.report.paper import SCORES
from fdr.report.tables import render as render_table

# Ours-only extra columns of a table (OWAN's metrics), shown when they hold numbers and are not the table's own
# columns: the per-patch scores beside the whole-image ones, and for Tables 3-4 OWAN's metrics on the whole images
# beside the cited convention's.
EXTRA_SETS = {"table2": {"didhy": "DID-HY per 63x63 patch (ours)"},
              "table3": {"deblur_image": "whole images, OWAN's metrics (ours)",
                         "deblur": "per 63x63 patch, OWAN's metrics (ours)"},
              "table4": {"derain_image": "whole images, OWAN's metrics (ours)",
                         "derain": "per 63x63 patch, OWAN's metrics (ours)"}}
# How the conventions Tables 3-4 cite score an image (fdr.evaluate.metrics).
CONVENTION_TEXT = {"srn": "SRN's convention (MATLAB psnr / ssim on its uint8 RGB results, the colour planes one "
                          "3-D volume)",
                   "spanet": "SPANet's convention (scikit-image's old compare_psnr / compare_ssim on floats, "
                             "whose guessed SSIM data range was 2)"}


def section_table_generic(data: ReportData, name: str) -> list[str]:
    table = data.comparison.tables[name]
    rows = data.comparison.rows[name]
    idx = index(rows)
    runs = list(dict.fromkeys(r.run for r in rows))
    sets = table.sets
    used = {_ours_set(rows, s) for s in sets}  # an extra column repeats the table's own with OWAN's metric there
    extra = {k: v for k, v in EXTRA_SETS.get(name, {}).items()
             if (k not in used or our_metric(name, k, "psnr") != "psnr")
             and any(get(_ours_entry(data, name, r), k, "psnr") is not None for r in runs)}
    header = ["Method"] + [f"{LEVEL_NAMES.get(s, s)} {m.upper()}" for s in sets for m in SCORES]
    header += [f"{title} {m.upper()}" for title in extra.values() for m in SCORES]
    body = []
    for run in runs:
        label = _label(rows, run)
        cells = [cell(idx.get((run, s, m)), m) for s in sets for m in SCORES]
        entry = _ours_entry(data, name, run)
        cells += [fmt(get(entry, s, m), m, missing=MISSING) for s in extra for m in SCORES]
        body.append([label] + cells)
    lines = [f"## {name.replace('table', 'Table ')}: {table.title}", "", f"Source: {table.source}.", ""]
    lines += note_lines(data, name)
    if not has_ours(rows):
        lines += ["No numbers of ours for this table (not run).", ""]
    lines += ["Each cell: paper / ours (ours − paper)." + _whole_note(rows, data, name), ""]
    return lines + render_table(header, body) + [""] + _protocol_lines(data, name, runs)


def _label(rows: list[Row], run: str) -> str:
    """A row's label as the comparison gives it (an imported run's names its paper row and our run)."""
    return "Distorted input" if run == INPUT_RUN else next((r.label for r in rows if r.run == run), run)


def _ours_set(rows: list[Row], paper_set: str) -> Optional[str]:
    """The set our numbers of ``paper_set`` come from in ``rows`` (None when we have none)."""
    return next((r.ours_set for r in rows if r.set == paper_set and r.ours is not None), None)


def _ours_entry(data: ReportData, table: str, run: str) -> Optional[dict]:
    """Our metrics of a table row (``didhy_fdrnet`` for Table 2's ``fdrnet``; ``input`` as is)."""
    ours = run if run == INPUT_RUN else data.comparison.mine.get((table, run))
    return data.comparison.ours.get(ours) if ours else None


def _whole_note(rows: list[Row], data: ReportData, table: str = "",
                tail: str = "the per-patch scores of the same runs are the extra columns") -> str:
    sets = sorted({r.ours_set for r in rows if r.ours_set and r.ours_set.endswith(IMAGE_SUFFIX) and r.ours is not None})
    if not sets:
        return ""
    counts = sorted({str(e[s].get("images")) for e in data.comparison.ours.values() for s in sets
                     if isinstance(e.get(s), dict)})
    text = (f" Ours on whole test images, one forward pass per image as the paper scores them ({'/'.join(counts)} "
            "images: `evaluate.whole.images`)")
    if table in CITED_CONVENTION:
        text += f", scored with {CONVENTION_TEXT[CITED_CONVENTION[table]]} as the caption says"
    return f"{text}; {tail}."


def _protocol_lines(data: ReportData, table: str, runs: list[str]) -> list[str]:
    """What the whole-image protocol does to each of our rows: PSNR on whole images minus per 63x63 patch, the same
    run, OWAN's metric on both (models trained on patches whose attention pools over the whole input)."""
    parts = []
    for track, whole in WHOLE_SETS.get(table, {}).items():
        for run in runs:
            entry = _ours_entry(data, table, run)
            a, b = get(entry, whole, "psnr"), get(entry, track, "psnr")
            if a is not None and b is not None:
                ours = data.comparison.mine.get((table, run), run)
                label = _label(data.comparison.rows[table], run)
                parts.append(f"{label} (`{ours}`) {fmt(a - b, 'psnr', signed=True)} dB")
    if not parts:
        return []
    return [f"Whole image minus per patch (PSNR, OWAN's metric, same runs): {'; '.join(parts)}.", ""]


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
    idx = index(rows)
    s = table.sets[0]
    marks = {"fdrnet": ("✓", "✓"), "nofdm": ("×", "✓"), "noaux": ("✓", "×")}
    body = []
    for run in table.rows:
        fdm, aux = marks.get(run, ("?", "?"))
        body.append([fdm, aux, f"`{run}`", cell(idx.get((run, "-", "params")), "params"),
                     cell(idx.get((run, s, "psnr")), "psnr"), cell(idx.get((run, s, "ssim")), "ssim"),
                     f"{effect_text(idx.get((run, s, 'psnr')), 'paper')} / {effect_text(idx.get((run, s, 'psnr')), 'ours')}"])
    lines = ["## Table 5: " + table.title, "", f"Source: {table.source}.", ""]
    lines += note_lines(data, "table5") + _set_note(rows)
    lines += ["Each cell: paper / ours (ours − paper). Effect: PSNR of the row minus the full model, paper / ours."
              + _whole_note(rows, data, tail="the images of Table 2, whose full-model row the paper repeats here"), ""]
    lines += render_table(["FDM", "Aux", "run", "Params", "PSNR", "SSIM", "PSNR effect vs full"], body)
    return lines + [""] + _protocol_lines(data, "table5", list(table.rows))


def section_table6(data: ReportData) -> list[str]:
    table = data.comparison.tables["table6"]
    rows = data.comparison.rows["table6"]
    idx = index(rows)
    s = table.sets[0]
    lines = ["## Table 6: " + table.title, "", f"Source: {table.source}.", ""]
    lines += note_lines(data, "table6") + _set_note(rows)
    fl = [r for r in table.rows if r.startswith("fl")]
    ch = [r for r in table.rows if r.startswith("ch")]
    model = (data.params or {}).get("model", {})
    stand_in = ", ".join(f"`{k}`" for k in data.comparison.stand_ins)
    lines += [f"Each cell: paper / ours (ours − paper). Our FD-layer sweep uses {model.get('channels', '?')} channels "
              f"and our channel sweep {model.get('n_flayers', '?')} FD-layers (the configured main model); "
              f"{stand_in} is the ablations' reference `{data.comparison.reference}` unless trained separately."
              + _whole_note(rows, data, tail="the images of Tables 2 and 5"), ""]
    ablations = (data.params or {}).get("ablations", {})
    swept = {f"fl{v}" for v in ablations.get("flayers", ())} | {f"ch{v}" for v in ablations.get("channels", ())}
    swept |= {f"fl{model.get('n_flayers')}", f"ch{model.get('channels')}"}
    for title, runs in (("FD-layers per FDM", fl), ("Channels (3 FD-layers in the paper)", ch)):
        header = [title] + [r[2:] for r in runs]
        body = [[m.upper()] + [cell(idx.get((r, s, m)), m, None if r in swept else NOT_SWEPT) for r in runs]
                for m in SCORES]
        body.append(["PSNR effect vs full (paper / ours)"]
                    + [f"{effect_text(idx.get((r, s, 'psnr')), 'paper')} / {effect_text(idx.get((r, s, 'psnr')), 'ours')}"
                       for r in runs])
        lines += render_table(header, body) + [""]
    return lines + _our_sweeps(data, rows)


def _our_sweeps(data: ReportData, rows: list) -> list[str]:
    """Every FD-layer / channel run we trained, on the set we compare on, with its effect vs the ablations'
    reference run: our sweep values need not be the paper's columns (the embedded default sweeps 8/16/24)."""
    ours, main, cfg = data.comparison.ours, data.comparison.reference, data.comparison.cfg
    our_set = next((r.ours_set for r in rows if r.ours_set), None)
    if cfg is None or main is None:
        return []
    model = resolve(cfg, main).model_cfg
    sweeps = (("FD-layers", "fl", model.n_flayers), ("Channels", "ch", model.channels))
    lines = []
    for title, prefix, main_value in sweeps:
        runs = {int(r[2:]): r for r in sweep_runs(cfg) if r in ours and r.startswith(prefix)}
        if main in ours:
            runs.setdefault(main_value, main)
        if len(runs) < 2 or our_set is None:
            continue
        ref = get(ours, main, our_set, "psnr")
        header = [f"Our sweep: {title} ({our_set})"] + [f"{v}" + (f" ({main})" if runs[v] == main else "") for v in sorted(runs)]
        body = [[m.upper()] + [fmt(get(ours, runs[v], our_set, m), m) for v in sorted(runs)] for m in SCORES]
        body.append([f"PSNR effect vs {main}"] + [
            fmt(None if ref is None or get(ours, runs[v], our_set, "psnr") is None
                      else get(ours, runs[v], our_set, "psnr") - ref, "psnr", signed=True, missing="—")
            for v in sorted(runs)])
        lines += render_table(header, body) + [""]
    return lines
