"""The held-out photo test of the pipeline: the source's test photos, in their own colours and in the palettes of
``evaluate.photos.palettes`` (channel orders, hue rotations: colours no training image had), each distorted once
per test level (:func:`fdr.evaluate.photos.distort_photo`, seeded per level, photo and palette) and restored the
way ``fdr restore`` restores a user's photo (:func:`fdr.evaluate.restore.restore_array` in the model's own window,
:func:`fdr.evaluate.restore.window_of`).

Rows: every run of ``evaluate.photos.runs``, the distorted ``input`` and ``gaussian``: the best Gaussian filter,
one sigma per level chosen on the *training* photos distorted the same way (:func:`gaussian_sigmas`), so the
baseline never sees a test photo. Per image: PSNR, SSIM and the mean colour shift per channel
(:func:`fdr.evaluate.photos.colour_shift`); per level: the means, the worst image and how many got worse.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from fdr.data import palette
from fdr.data.imageio import read_rgb, to_float
from fdr.data.sources import read_raw_manifest
from fdr.data.synthesize import planar01, scaled, to_u8
from fdr.evaluate import photos
from fdr.evaluate.patches import load_run_model
from fdr.evaluate.restore import restore_array, window_of
from fdr.train.checkpoint import read

SPAWN_KEY = 4  # first element of the held-out photos' seed keys (synthesis uses 1, crop 2)
REFERENCE_ROWS = ("input", "gaussian")


def clean_photos(cfg, split: str) -> dict[str, np.ndarray]:
    """``{name: uint8 H x W x 3}``: the source's clean photos of ``split`` at ``synthesis.base_scale``."""
    root = Path(cfg.data.root)
    raw = read_raw_manifest(root)
    rows = raw[(raw["split"] == split) & (raw["kind"] == "clean") & (raw["status"] == "ok")
               & (raw["dataset"] == cfg.data.source)]
    if rows.empty:
        raise FileNotFoundError(f"{root}/raw/manifest.csv: no clean {split} photos of source {cfg.data.source!r}")
    out = {}
    for _, r in rows.iterrows():
        img = read_rgb(root / r["path"], cfg.data.max_pixels)
        s = cfg.synthesis.base_scale
        out[r["name"].split("/")[-1]] = img if s == 1.0 else to_u8(scaled(planar01(img), s))
    return out


def palettes(cfg) -> dict[str, palette.Palette]:
    """``{label: Palette}`` of ``evaluate.photos.palettes`` (the first is normally the photos' own colours)."""
    out = {}
    for spec in cfg.evaluate.photos.palettes:
        p = palette.Palette(tuple("RGB".index(c) for c in spec.order), spec.hue, spec.saturation)
        out[spec.label] = p
    return out


def heldout(cfg, split: str = "test") -> dict[str, list[tuple[str, np.ndarray, np.ndarray]]]:
    """``{level: [(image label, distorted uint8, clean uint8)]}`` for every photo of ``split`` in every palette."""
    syn, out = cfg.synthesis, {}
    pals = palettes(cfg) if split == "test" else {"RGB": palette.Palette()}
    for li, level in enumerate(syn.test_levels):
        out[level] = []
        for pi, (name, img) in enumerate(clean_photos(cfg, split).items()):
            for ci, (label, pal) in enumerate(pals.items()):
                clean = img if pal.identity else to_u8(palette.apply(to_float(img), pal).transpose(2, 0, 1))
                seed = np.random.SeedSequence(cfg.seed, spawn_key=(SPAWN_KEY, li, pi, ci, split == "test"))
                out[level].append((f"{name}/{label}", photos.distort_photo(clean, level, seed, syn), clean))
    return out


def gaussian_sigmas(cfg) -> dict[str, float]:
    """The Gaussian baseline's sigma per level, chosen by mean PSNR on the training photos (never a test photo)."""
    return {level: photos.choose_sigma(photos.as_float_pairs([(d, c) for _, d, c in items]))
            for level, items in heldout(cfg, "train").items()}


def restorer(cfg, run: str, models: Path) -> tuple[Callable, dict]:
    """``(restore(distorted float) -> float, description)`` of a row: a trained run, ``input`` or ``gaussian``."""
    if run == "input":
        return (lambda d, level: d), {}
    if run == "gaussian":
        sigmas = gaussian_sigmas(cfg)
        return (lambda d, level: photos.gaussian(d, sigmas[level])), {"sigma": sigmas}
    model, device = load_run_model(cfg, run, models)
    tile, overlap = window_of(read(Path(models) / run / "checkpoint.pt"))
    return (lambda d, level: restore_array(model, d, tile, overlap, device) / 255.0), {"tile": tile, "overlap": overlap}


def evaluate_photos(cfg, run: str, models: Path) -> tuple[dict, dict]:
    """``(metrics, per_image)`` of row ``run`` on the held-out photos: per level the means (PSNR, SSIM, colour shift
    per channel), and per image PSNR, SSIM and shift with the image labels."""
    restore, about = restorer(cfg, run, models)
    metrics, per_image, sets = {}, {}, heldout(cfg)
    for level, items in sets.items():
        pairs = photos.as_float_pairs([(d, c) for _, d, c in items])
        scores = photos.score(lambda d: restore(d, level), pairs)
        s = photos.summarize(scores)
        metrics[level] = {"psnr": s["psnr"], "ssim": s["ssim"], "images": s["images"], "shift_r": s["shift"][0],
                          "shift_g": s["shift"][1], "shift_b": s["shift"][2], "shift_max": s["shift_max"]}
        per_image[level] = {"psnr": scores["psnr"].tolist(), "ssim": scores["ssim"].tolist(),
                            "shift": scores["shift"].tolist()}
    per_image["images"] = [label for label, _, _ in next(iter(sets.values()))]
    per_image.update(about)
    return metrics, per_image
