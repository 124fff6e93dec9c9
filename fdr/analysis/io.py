"""Atomic writers shared by the analysis and the report (temp file + os.replace)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fdr.atomic import atomic_write


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write(Path(path), lambda f: f.write(text.encode()))


def write_json(path: str | Path, data: Any) -> None:
    """JSON with sorted keys and a trailing newline; NaN is written as null."""
    atomic_write_text(path, json.dumps(_clean(data), indent=2, sort_keys=True) + "\n")


def _clean(obj: Any) -> Any:
    if isinstance(obj, float) and obj != obj:
        return None
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj


def save_figure(fig, path: str | Path, dpi: int = 110) -> None:
    """Write a matplotlib figure as PNG atomically."""
    atomic_write(Path(path), lambda f: fig.savefig(f, dpi=dpi, format="png", metadata={"Software": None}))


def pyplot():
    """matplotlib.pyplot on the non-interactive Agg backend (stages run headless)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
