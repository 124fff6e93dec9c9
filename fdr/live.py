"""DVCLive logs of a training run (``<run>/live``): opened without touching ``dvc.yaml``, trimmed on resume."""
from __future__ import annotations

import csv
import json
import os
from pathlib import Path

from fdr.atomic import write_text


def open_live(live_dir: Path, resume: bool):
    """A DVCLive logger that neither rewrites ``dvc.yaml`` nor wipes earlier rows when resuming."""
    from dvclive import Live

    return Live(str(live_dir), resume=resume, dvcyaml=False, save_dvc_exp=False, report=None)


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
