"""Runs whose checkpoint is imported, not trained: a run-table row with ``weights`` (the released OWAN model of
:mod:`fdr.models.owan_release`, Table 1's "OP-Attention" without 17 GPU-hours of training).

:func:`import_weights` converts the released file to ``models/<run>/checkpoint.pt`` (this project's format,
:mod:`fdr.train.checkpoint`; ``iteration`` 0, no optimiser, the file's SHA-256 under ``imported``), which every
evaluation then reads like a trained run's. The stage ``train@<run>`` calls it for such a row, and also writes
``summary.json``; ``python -m fdr import-weights`` calls it by hand.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from fdr.atomic import write_json
from fdr.config import OWANConfig
from fdr.models import count_parameters
from fdr.models.owan import OWAN
from fdr.models.owan_release import checkpoint_state, read_released
from fdr.train import checkpoint as ckpt


def import_weights(path: Path, out: Path, run: str, cfg: Optional[OWANConfig] = None, pin: str = "") -> dict:
    """Convert the released OWAN file ``path`` to our checkpoint ``out``; ``cfg``: the architecture it must fit
    (None: read from the file), ``pin``: its expected SHA-256. Returns the summary (run, params, provenance)."""
    cfg, state, provenance = read_released(Path(path), cfg, pin)
    ckpt.save(Path(out), checkpoint_state(run, cfg, state, provenance))
    model = OWAN(cfg.channels, cfg.groups, cfg.layers)
    return {"run": run, "model": "owan", "iterations": 0, "params": count_parameters(model), "device": "none",
            "wall_s": 0.0, "imported": provenance, "val_psnr": None, "val_ssim": None, "val_patches": None}


def import_run(cfg, run, out_dir: Path) -> dict:
    """The stage's work for a row with ``weights``: ``out_dir/checkpoint.pt`` and ``out_dir/summary.json`` from the
    row's released file, which must fit the row's architecture section and match its pinned SHA-256."""
    row = cfg.runs[run.name]
    summary = import_weights(Path(row.weights), Path(out_dir) / "checkpoint.pt", run.name, run.model_cfg,
                             row.weights_sha256)
    write_json(Path(out_dir) / "summary.json", summary)
    return summary
