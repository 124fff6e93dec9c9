"""Formatting shared by the report's sections: cell texts, numbers, the data-source note."""
from __future__ import annotations

from typing import Any, Optional

from fdr.report.comparison import OWN_IMAGES, Row, fmt, missing_text

LEVEL_NAMES = {"mild": "Mild (unseen)", "moderate": "Moderate", "severe": "Severe (unseen)", "didhy": "DID-HY",
               "deblur": "Deblurring", "derain": "Deraining", "didhy_image": "DID-HY (whole images)"}
MISSING = "—"
NOT_SWEPT = "not swept"  # a Table 6 column outside our sweep (ablations.flayers / channels): nothing was to run


def index(rows: list[Row]) -> dict:
    return {(r.run, r.set, r.metric): r for r in rows}


def cell(row: Optional[Row], metric: str, missing: Optional[str] = None) -> str:
    """``paper / ours (ours - paper)`` for one table cell (``missing``: what a missing number of ours reads)."""
    if row is None:
        return MISSING
    p = fmt(row.paper, metric, missing=MISSING)
    o = fmt(row.ours, metric, missing=missing or missing_text(row.run))
    text = f"{p} / {o}"
    if row.delta is not None:
        text += f" ({fmt(row.delta, metric, signed=True)})"
    return text


def fmt_seconds(seconds: Any) -> str:
    if not isinstance(seconds, (int, float)):
        return MISSING
    if seconds >= 3600:
        return f"{seconds / 3600:.2f} h"
    if seconds >= 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.1f} s"


def fmt_int(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else MISSING


def num(value: Any, digits: int) -> str:
    return f"{value:.{digits}f}" if isinstance(value, (int, float)) and not isinstance(value, bool) else MISSING


def get(d: Optional[dict], *keys: str) -> Any:
    for k in keys:
        if not isinstance(d, dict):
            return None
        d = d.get(k)
    return d


def effect_text(row: Optional[Row], which: str) -> str:
    if row is None:
        return MISSING
    v = row.paper_effect if which == "paper" else row.ours_effect
    return fmt(v, row.metric, signed=True, missing=MISSING)


def note_lines(data, table: Optional[str] = None) -> list[str]:
    """The data-source note of the whole report (``table`` None) or of one table, as Markdown lines."""
    note = data.comparison.note(table)
    if not note:
        return []
    if data.comparison.source in OWN_IMAGES:
        return [f"> **Not comparable to the paper.** {note}" if table is None else f"> **{note}**", ""]
    return [f"> {note}", ""]
