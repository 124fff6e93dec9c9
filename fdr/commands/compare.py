"""``python -m fdr compare``: our metrics beside the paper's Tables 1-6, with deltas.

The comparison is :func:`fdr.report.comparison.load` (the same one ``reports/report.md`` is built from), one row per
(method, set, metric), our numbers read from ``reports/metrics``.
When ``params.yaml`` says the data source is ``embedded``, every table says the numbers are not comparable.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from fdr.report import comparison, tables
from fdr.report.comparison import Row, fmt

HELP = "print our metrics against the paper's Tables 1-6, with deltas"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    style = parser.add_mutually_exclusive_group()
    style.add_argument("--json", action="store_true", help="machine-readable output")
    style.add_argument("--md", action="store_true", help="Markdown tables")
    parser.add_argument("--root", default=".", help="repository holding params.yaml, reports/ and models/")
    parser.add_argument("--params", default="params.yaml", help="parameter file, relative to --root")
    parser.add_argument("--all", action="store_true", help="also list tables with no numbers of ours")


def _ours_cell(row: Row) -> str:
    text = fmt(row.ours, row.metric, missing=comparison.missing_text(row.run))
    if row.ours is not None and row.ours_run and row.ours_run != row.run:
        text += f" ({row.ours_run})"
    return text


def grid(rows: list[Row], ablation: bool) -> tuple[list[str], list[list[str]]]:
    """Header and body of one table, a line per (method, set, metric)."""
    header = ["method", "set", "metric", "paper", "ours", "delta (ours - paper)"]
    header += ["paper effect vs full", "ours effect vs full"] if ablation else []
    body = []
    for r in rows:
        cells = [r.label, r.set if not r.substituted else f"{r.ours_set} (paper: {r.set})", r.metric,
                 fmt(r.paper, r.metric, missing="—"), _ours_cell(r), fmt(r.delta, r.metric, signed=True, missing="—")]
        if ablation:
            cells += [fmt(r.paper_effect, r.metric, signed=True, missing="—"),
                      fmt(r.ours_effect, r.metric, signed=True, missing="—")]
        body.append(cells)
    return header, body


def render(result: comparison.Comparison, style: str, show_all: bool = False) -> str:
    """Every table with numbers of ours (all with ``show_all``) as ``text`` or ``md``."""
    md = style == "md"
    note = result.note()
    lines = [f"Data source: `{result.source or 'unknown'}`." if md else f"data source: {result.source or 'unknown'}"]
    if note:
        lines += ["", (f"> **Not comparable to the paper.** {note}" if result.source == "embedded" else f"> {note}")
                  ] if md else [f"NOTE: {note}"]
    for name, rows in result.rows.items():
        table = result.tables[name]
        title = f"{name.replace('table', 'Table ')}: {table.title}"
        if not comparison.has_ours(rows):
            if show_all:
                lines += ["", f"### {title}", "", f"No numbers of ours ({comparison.NOT_RUN})."] if md \
                    else ["", f"{title}: no numbers of ours ({comparison.NOT_RUN})"]
            continue
        header, body = grid(rows, name in comparison.ABLATION_TABLES)
        if md:
            lines += ["", f"### {title}", "", f"Source: {table.source}.", ""]
            lines += [f"> {result.note(name)}", ""] if result.note(name) else []
            lines += tables.render(header, body, "md", centre=False)
        else:
            lines += ["", title, f"  source: {table.source}"] + ([f"  NOTE: {result.note(name)}"] if result.note(name) else [])
            lines += ["  " + line for line in tables.render(header, body, "text")]
    if not md and not any(comparison.has_ours(rows) for rows in result.rows.values()):
        lines += ["", f"No numbers of ours in any table yet ({comparison.NOT_RUN}): run the pipeline first (dvc repro)."]
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    result = comparison.load(Path(args.root), args.params)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(render(result, "md" if args.md else "text", args.all), end="")
    return 0
