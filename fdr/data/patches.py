"""The ``crop`` stage: 63 x 63 patch pairs as uint8 memory-mappable ``.npy`` (paper §4.1; stride 56).

For every sample in ``data/synth/<set>/manifest.csv`` the patch grid is ``y = 0, s, 2s, ... <= H - P`` and the
same for ``x`` (the generator's ``for x = 1:stride:hei-size_input+1`` loops), row-major. With
``crop.max_train_patches`` (sets ending in ``train``) or ``crop.max_test_patches.<track>`` (each test set of that
track: ``hybrid`` for Table 1's levels, ``didhy``, ``deblur``, ``derain``, ``pairs``) a seeded subset is kept
(``SeedSequence(seed, spawn_key=(2, set key))``, sorted), chosen before any pixel is read. The arrays
``input.npy`` / ``target.npy`` (N x P x P x 3, NHWC) are written through ``numpy.lib.format.open_memmap``
one image at a time, with at most two images per reading thread decoded ahead, so memory stays at a few
images whatever N is; ``manifest.csv`` has one row per patch with
the sample's drawn values. The whole ``data/patches`` folder is built aside and renamed when complete.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import pandas as pd

from fdr.atomic import write_json
from fdr.config import Config, ConfigError

from .imageio import read_rgb
from .layout import SET_KEYS, built_aside, parse_box, read_manifest

STAGE_KEY = 2
PAPER_TRAIN_PATCHES = 249_344  # the paper's DIV2K training set (§4.1)


def grid(height: int, width: int, patch: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-left corners (ys, xs) of the patch grid, row-major."""
    ys = np.arange(0, height - patch + 1, stride)
    xs = np.arange(0, width - patch + 1, stride)
    yy, xx = np.meshgrid(ys, xs, indexing="ij")
    return yy.ravel(), xx.ravel()


def _load(root: Path, path: str, box, max_pixels: int) -> np.ndarray:
    arr = read_rgb(root / path, max_pixels)
    b = parse_box(box)
    if b:
        x0, y0, x1, y1 = b
        arr = arr[y0:y1, x0:x1]
    return arr


def _write_array(path: Path, n: int, patch: int):
    if n == 0:  # an empty file cannot be memory-mapped
        np.save(path, np.zeros((0, patch, patch, 3), dtype=np.uint8))
        return None
    return np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8, shape=(n, patch, patch, 3))


def crop_set(cfg: Config, set_name: str, root: Path, out: Path, max_patches: int, threads: int = 2) -> pd.DataFrame:
    """Crop one set into ``out`` (``input.npy``, ``target.npy``, ``manifest.csv``); returns the patch manifest."""
    patch, stride = cfg.crop.patch, cfg.crop.stride
    man = read_manifest(root / "synth" / set_name)
    pos = []
    for i, r in enumerate(man.itertuples(index=False)):
        ys, xs = grid(int(r.height), int(r.width), patch, stride)
        pos.append(np.stack([np.full(len(ys), i), ys, xs], axis=1))
    pos = np.concatenate(pos) if pos else np.zeros((0, 3), dtype=np.int64)
    if not len(pos):
        found = (f"its largest sample is {int(man['width'].max())}x{int(man['height'].max())} pixels" if len(man)
                 else "it has no synthesized samples")
        raise ConfigError(f"crop.patch: {patch} leaves set '{set_name}' without a single patch ({found}); "
                          "expected a patch size no larger than the images")
    if max_patches and len(pos) > max_patches:
        key = SET_KEYS.get(set_name, 99)
        rng = np.random.default_rng(np.random.SeedSequence(cfg.seed, spawn_key=(STAGE_KEY, key)))
        pos = pos[np.sort(rng.choice(len(pos), size=max_patches, replace=False))]
    out.mkdir(parents=True, exist_ok=True)
    n = len(pos)
    inp = _write_array(out / "input.npy", n, patch)
    tgt = _write_array(out / "target.npy", n, patch)
    samples = np.unique(pos[:, 0])
    mp = cfg.data.max_pixels

    def read_pair(i: int):
        r = man.iloc[int(i)]
        a = _load(root, r["input"], r["input_box"], mp)
        b = _load(root, r["target"], r["target_box"], mp)
        want = (int(r["height"]), int(r["width"]), 3)
        if a.shape != want or b.shape != want:
            raise ValueError(f"{root / r['input']} / {root / r['target']}: shapes {a.shape} / {b.shape}, "
                             f"manifest says {want}")
        return a, b

    start = 0
    window = 2 * max(1, threads)  # images decoded ahead at most: memory stays bounded whatever N is
    with ThreadPoolExecutor(max_workers=max(1, threads)) as ex:  # decoding releases the GIL
        for first in range(0, len(samples), window):
            chunk = samples[first:first + window]
            for i, (a, b) in zip(chunk, ex.map(read_pair, chunk)):
                stop = start + int(np.searchsorted(pos[start:, 0], i, side="right"))
                for j in range(start, stop):
                    y, x = int(pos[j, 1]), int(pos[j, 2])
                    inp[j] = a[y:y + patch, x:x + patch]
                    tgt[j] = b[y:y + patch, x:x + patch]
                start = stop
    for arr in (inp, tgt):
        if arr is not None:
            arr.flush()
    del inp, tgt
    rows = man.iloc[pos[:, 0]].reset_index(drop=True)
    rows.insert(0, "patch", np.arange(n))
    rows.insert(1, "y", pos[:, 1])
    rows.insert(2, "x", pos[:, 2])
    rows.to_csv(out / "manifest.csv", index=False)
    return rows


def crop(cfg: Config, root: Optional[Path] = None, log: Callable[[str], None] = print) -> dict:
    """Build ``<root>/patches`` atomically from every set in ``<root>/synth``; returns the summary."""
    root = Path(root if root is not None else cfg.data.root)
    synth = root / "synth"
    names = [n for n in SET_KEYS if (synth / n / "manifest.csv").is_file()]
    if not names:
        raise FileNotFoundError(f"{synth}: no synthesized sets; run the synthesize stage first")
    summary = {}
    with built_aside(root, "patches") as tmp:
        for name in names:
            limit = cfg.crop.max_train_patches if name.endswith("train") else cfg.crop.max_test_patches.of(name)
            rows = crop_set(cfg, name, root, tmp / name, limit, threads=cfg.synthesis.workers)
            summary[name] = {"patches": len(rows), "samples": int(rows["sample"].nunique()) if len(rows) else 0}
        write_json(tmp / "summary.json", {"patch": cfg.crop.patch, "stride": cfg.crop.stride, "sets": summary})
    for name, v in summary.items():
        log(f"patches: {name:14s} {v['patches']:7d} from {v['samples']} samples")
    if "train" in summary:
        n = summary["train"]["patches"]
        ratio = f" ({n / PAPER_TRAIN_PATCHES:.2f}x the paper's {PAPER_TRAIN_PATCHES:,}, §4.1)" if cfg.data.source == "div2k" else ""
        log(f"patches: {n:,} training patches{ratio}")
    return summary
