"""Names and small readers shared by the synthesize and crop stages (no heavy imports)."""
from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pandas as pd

from fdr.atomic import public_mode

# Set name -> key used in every seed of that set: SeedSequence(seed, spawn_key=(stage, key, ...)).
SET_KEYS = {"train": 0, "test_mild": 1, "test_moderate": 2, "test_severe": 3, "didhy_train": 4, "didhy_test": 5,
            "deblur_train": 6, "deblur_test": 7, "derain_train": 8, "derain_test": 9, "pairs_train": 10,
            "pairs_test": 11}


def parse_box(text) -> tuple:
    """``"x0 y0 x1 y1"`` -> tuple of ints; empty / NaN -> ``()``."""
    return tuple(int(v) for v in text.split()) if isinstance(text, str) and text.strip() else ()


def read_manifest(set_dir: Path) -> pd.DataFrame:
    """A synthesized set's ``manifest.csv`` (empty cells -> NaN)."""
    path = Path(set_dir) / "manifest.csv"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing; run the synthesize stage first")
    return pd.read_csv(path, keep_default_na=False, na_values=[""])


@contextmanager
def built_aside(root: Path, name: str) -> Iterator[Path]:
    """Yield an empty folder beside ``root/name``; when the block succeeds it replaces ``root/name``
    in one rename, when it fails it is removed, so a half-built folder never looks complete. Folders a killed
    earlier build left (``.name.partial-*``) are removed first: one build of ``root/name`` runs at a time."""
    root.mkdir(parents=True, exist_ok=True)
    for stale in root.glob(f".{name}.partial-*"):
        shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(dir=root, prefix=f".{name}.partial-"))
    try:
        public_mode(tmp, folder=True)
        yield tmp
        final = root / name
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
