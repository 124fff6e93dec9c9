"""``python -m fdr compare``: our metrics beside the paper's Tables 1-6, with deltas.

Our numbers come from ``dvc metrics show --json`` over ``reports/metrics/*.json`` (falling back to the
files when DVC does not answer); the paper's from ``reports/paper/table<N>.json``. When ``params.yaml``
says the data source is ``embedded``, every table carries the warning that the numbers are not
comparable to the paper.
"""
from __future__ import annotations

import argparse
import json
from typing import Optional

from fdr import paper
from fdr.config import ConfigError, load

HELP = "print our metrics against the paper's Tables 1-6, with deltas"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    fmt = parser.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="machine-readable output")
    fmt.add_argument("--md", action="store_true", help="Markdown tables")
    parser.add_argument("--params", default="params.yaml", help="parameter file (data source, model switches)")
    parser.add_argument("--metrics-dir", default=str(paper.METRICS_DIR), help="our metrics files (<run>.json)")
    parser.add_argument("--paper-dir", default=str(paper.PAPER_DIR), help="the paper's tables (table<N>.json)")
    parser.add_argument("--models-dir", default=str(paper.MODELS_DIR), help="trained runs (<run>/summary.json)")
    parser.add_argument("--no-dvc", action="store_true", help="read the metrics files directly, not via DVC")
    parser.add_argument("--all", action="store_true", help="also list tables with no numbers of ours")


def _settings(params: str) -> tuple[Optional[str], dict]:
    try:
        cfg = load(params)
    except ConfigError as exc:
        if "not found" in str(exc):
            return None, paper.aliases(3, 32)
        raise
    return cfg.data.source, paper.aliases(cfg.model.n_flayers, cfg.model.channels)


def _ours_cell(row: paper.Row) -> str:
    text = paper.fmt(row.ours, row.metric, missing=paper.missing_text(row.run))
    if row.ours is not None and row.ours_run and row.ours_run != row.run:
        text += f" ({row.ours_run})"
    return text


def _columns(row: paper.Row, ablation: bool) -> list[str]:
    set_text = row.set if not row.substituted else f"{row.ours_set} (paper: {row.set})"
    cells = [row.label, set_text, row.metric, paper.fmt(row.paper, row.metric, missing="—"),
             _ours_cell(row), paper.fmt(row.delta, row.metric, signed=True, missing="—")]
    if ablation:
        cells += [paper.fmt(row.paper_effect, row.metric, signed=True, missing="—"),
                  paper.fmt(row.ours_effect, row.metric, signed=True, missing="—")]
    return cells


def _header(ablation: bool) -> list[str]:
    head = ["method", "set", "metric", "paper", "ours", "delta (ours - paper)"]
    if ablation:
        head += ["paper effect vs full", "ours effect vs full"]
    return head


def render_text(result: paper.Comparison, show_all: bool = False) -> str:
    lines = [f"data source: {result.source or 'unknown'}; our metrics read with: {result.how}"]
    if result.note():
        lines.append(f"NOTE: {result.note()}")
    for name, rows in result.rows.items():
        table = result.tables[name]
        title = f"{name.replace('table', 'Table ')}: {table.title}"
        if not paper.has_ours(rows):
            if show_all:
                lines += ["", f"{title}: no numbers of ours ({paper.NOT_RUN})"]
            continue
        ablation = name in paper.ABLATION_TABLES
        grid = [_header(ablation)] + [_columns(r, ablation) for r in rows]
        widths = [max(len(row[i]) for row in grid) for i in range(len(grid[0]))]
        lines += ["", title, f"  source: {table.source}"]
        if result.note(name):
            lines.append(f"  NOTE: {result.note(name)}")
        for k, row in enumerate(grid):
            lines.append("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
            if k == 0:
                lines.append("  " + "  ".join("-" * w for w in widths))
    if not any(paper.has_ours(rows) for rows in result.rows.values()):
        lines += ["", f"No numbers of ours in any table yet ({paper.NOT_RUN}): run the pipeline first (dvc repro)."]
    return "\n".join(lines) + "\n"


def render_markdown(result: paper.Comparison, show_all: bool = False) -> str:
    lines = [f"Data source: `{result.source or 'unknown'}`; our metrics read with: {result.how}."]
    if result.note():
        lines += ["", f"> **Not comparable to the paper.** {result.note()}" if result.source == "embedded"
                  else f"> {result.note()}"]
    for name, rows in result.rows.items():
        table = result.tables[name]
        title = f"{name.replace('table', 'Table ')}: {table.title}"
        if not paper.has_ours(rows):
            if show_all:
                lines += ["", f"### {title}", "", f"No numbers of ours ({paper.NOT_RUN})."]
            continue
        ablation = name in paper.ABLATION_TABLES
        head = _header(ablation)
        lines += ["", f"### {title}", "", f"Source: {table.source}.", ""]
        if result.note(name):
            lines += [f"> {result.note(name)}", ""]
        lines.append("| " + " | ".join(head) + " |")
        lines.append("|" + "|".join("---" for _ in head) + "|")
        for r in rows:
            lines.append("| " + " | ".join(_columns(r, ablation)) + " |")
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    source, alias = _settings(args.params)
    result = paper.compare(args.paper_dir, args.metrics_dir, args.models_dir, source=source, alias=alias,
                           use_dvc=not args.no_dvc)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    elif args.md:
        print(render_markdown(result, args.all), end="")
    else:
        print(render_text(result, args.all), end="")
    return 0
