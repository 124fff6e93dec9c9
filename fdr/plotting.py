"""Matplotlib for the analysis and the report: a headless backend and an atomic PNG writer."""
from __future__ import annotations

from pathlib import Path

from fdr.atomic import atomic_write


def save_figure(fig, path: str | Path, dpi: int = 110) -> None:
    """Write a matplotlib figure as PNG atomically."""
    atomic_write(Path(path), lambda f: fig.savefig(f, dpi=dpi, format="png", metadata={"Software": None}))


def pyplot():
    """matplotlib.pyplot on the non-interactive Agg backend (stages run headless)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
