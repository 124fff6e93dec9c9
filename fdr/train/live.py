"""DVCLive logs of a training run (``<run>/live``): opened without touching ``dvc.yaml``, trimmed on resume."""
from __future__ import annotations

import csv
import json
import os
from pathlib import Path

from fdr.atomic import write_text


def open_live(live_dir: Path, resumed_at: int | bool = False):
    """A DVCLive logger that neither rewrites ``dvc.yaml`` nor wipes earlier rows when resuming; ``resumed_at``:
    the iteration a resumed run continues from (rows logged after it are dropped first, :func:`trim_live`)."""
    from dvclive import Live

    if resumed_at:
        trim_live(live_dir, int(resumed_at))
    return Live(str(live_dir), resume=bool(resumed_at), dvcyaml=False, save_dvc_exp=False, report=None)


def log_metrics(live, prefix: str, values: dict, keys: tuple) -> None:
    """``live.log_metric("<prefix>/<key>", values[key])`` for each of ``keys``, in order."""
    for key in keys:
        live.log_metric(f"{prefix}/{key}", values[key])


def trim_live(live_dir: Path, last_step: int) -> None:
    """Drop rows logged after ``last_step`` (a killed run got ahead of its checkpoint) and a summary file a
    kill left half-written."""
    for tsv in (Path(live_dir) / "plots" / "metrics").rglob("*.tsv"):
        with open(tsv, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f, delimiter="\t"))
        if not rows:
            continue
        header, body = rows[0], rows[1:]
        step_col = header.index("step") if "step" in header else None
        kept = [r for r in body if len(r) == len(header) and step_col is not None
                and r[step_col].isdigit() and int(r[step_col]) <= last_step]
        if len(kept) != len(body):
            write_text(tsv, "".join("\t".join(r) + os.linesep for r in [header] + kept))
    metrics = Path(live_dir) / "metrics.json"
    if metrics.is_file():
        try:
            json.loads(metrics.read_text())
        except ValueError:
            metrics.unlink()
