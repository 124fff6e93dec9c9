"""One table renderer for the report, ``fdr compare`` and the benchmarks: Markdown or aligned plain text."""
from __future__ import annotations

from typing import Sequence


def render(header: Sequence[str], body: Sequence[Sequence[str]], style: str = "md", centre: bool = True) -> list[str]:
    """Lines of a table. ``md``: a Markdown table (columns after the first centred unless ``centre`` is
    false); ``text``: columns padded to their widest cell, a rule of dashes under the header."""
    rows = [list(map(str, header))] + [list(map(str, r)) for r in body]
    if style == "md":
        align = ":-:" if centre else "---"
        rule = "|" + "|".join(["---"] + [align] * (len(header) - 1)) + "|"
        lines = ["| " + " | ".join(r) + " |" for r in rows]
        return lines[:1] + [rule] + lines[1:]
    if style == "text":
        widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
        return lines[:1] + ["  ".join("-" * w for w in widths)] + lines[1:]
    raise ValueError(f"table style: expected md or text, got {style!r}")
