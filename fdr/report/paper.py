"""The paper's Tables 1-6 and Fig. 8 averages as data (``reports/paper``).

``reports/paper/table<N>.json`` holds the paper's numbers only, keyed exactly like our metrics files:
``{"<run>": {"<set>": {"psnr": ..., "ssim": ...}, "params": ...}, "source": ..., "title": ..., "labels": {...}}``.
Our numbers are set beside them by :mod:`fdr.report.comparison`.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from fdr.errors import InputError

PAPER_DIR = Path("reports/paper")
TABLES = ("table1", "table2", "table3", "table4", "table5", "table6")
META_KEYS = ("source", "title", "labels")
SCORES = ("psnr", "ssim")
ABLATION_TABLES = ("table5", "table6")
# What each table was measured on in the paper.
PAPER_DATA = {
    "table1": ("div2k", "DIV2K, RL-Restore protocol"),
    "table2": ("did-mdn", "DID-HY (built from DID-MDN)"),
    "table3": ("gopro", "GoPro"),
    "table4": ("did-mdn", "DID-MDN"),
    "table5": ("did-mdn", "DID-HY (built from DID-MDN)"),
    "table6": ("did-mdn", "DID-HY (built from DID-MDN)"),
}


class PaperDataError(InputError):
    """A paper table file is missing or malformed; the message names the file and key."""


@dataclass(frozen=True)
class PaperTable:
    """One table of the paper: ``rows[run][set][metric]`` plus optional ``rows[run]["params"]``."""

    name: str
    source: str
    title: str
    labels: dict
    rows: dict

    @property
    def sets(self) -> list[str]:
        """Test-set keys in first-seen order (e.g. mild, moderate, severe)."""
        out: list[str] = []
        for entry in self.rows.values():
            out += [k for k, v in entry.items() if isinstance(v, dict) and k not in out]
        return out

    def label(self, run: str) -> str:
        return self.labels.get(run, run)


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise PaperDataError(f"{where}: expected a finite number, got {value!r}")
    return value


def load_table(path: str | Path) -> PaperTable:
    """Read and validate one ``table<N>.json``."""
    path = Path(path)
    if not path.is_file():
        raise PaperDataError(f"{path}: paper table not found")
    try:
        raw = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise PaperDataError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(raw, dict):
        raise PaperDataError(f"{path}: expected a JSON object")
    source = raw.get("source")
    if not isinstance(source, str) or "Table" not in source:
        raise PaperDataError(f"{path}: 'source' must cite the paper's table, got {source!r}")
    labels = raw.get("labels", {})
    if not isinstance(labels, dict):
        raise PaperDataError(f"{path}: 'labels' must be a mapping")
    rows: dict = {}
    for run, entry in raw.items():
        if run in META_KEYS:
            continue
        if not isinstance(entry, dict) or not entry:
            raise PaperDataError(f"{path}: {run}: expected a mapping of test sets")
        for key, value in entry.items():
            if key == "params":
                _number(value, f"{path}: {run}.params")
                continue
            if not isinstance(value, dict) or not value:
                raise PaperDataError(f"{path}: {run}.{key}: expected a mapping of metrics")
            for metric, number in value.items():
                if metric not in SCORES:
                    raise PaperDataError(f"{path}: {run}.{key}.{metric}: unknown metric (expected psnr or ssim)")
                _number(number, f"{path}: {run}.{key}.{metric}")
        rows[run] = entry
    if not rows:
        raise PaperDataError(f"{path}: no rows")
    return PaperTable(path.stem, source, str(raw.get("title", path.stem)), dict(labels), rows)


def load_tables(root: str | Path = PAPER_DIR) -> dict[str, PaperTable]:
    """All of Tables 1-6 from ``root``."""
    return {name: load_table(Path(root) / f"{name}.json") for name in TABLES}


def paper_reference(table: str, run: str) -> str:
    """The paper's full-model row an ablation row is measured against (Table 5: FDM+Aux; Table 6: 3 layers / 32 ch)."""
    if table == "table6":
        return "ch32" if run.startswith("ch") else "fl3"
    return "fdrnet"


def load_fig8(path: str | Path = PAPER_DIR / "fig8.json") -> Optional[dict]:
    """The paper's Fig. 8 correlation averages (``reports/paper/fig8.json``), or None when absent."""
    path = Path(path)
    if not path.is_file():
        return None
    return json.loads(path.read_text()).get("correlation")
