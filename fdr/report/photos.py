"""The report's "Restoring photos it never saw" section, from the held-out photo test (:mod:`fdr.evaluate.heldout`):
``reports/metrics/photos/<row>.json`` (means per level) and ``reports/per_photo/<row>.json`` (per image)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import numpy as np

from fdr.report.cells import MISSING
from fdr.report.effects import paired_interval
from fdr.report.tables import render as render_table

PER_PHOTO_DIR = Path("reports/per_photo")
REFERENCE = ("input", "gaussian")


def load(root: Path) -> dict[str, dict]:
    """``{row: per-image record}`` of every row of the held-out photo test (empty when it did not run)."""
    out = {}
    for f in sorted((Path(root) / PER_PHOTO_DIR).glob("*.json")):
        out[f.stem] = json.loads(f.read_text())
    return out


def _gain(rec: dict, ref: dict, level: str) -> tuple[float, float, float]:
    a, b = np.asarray(rec[level]["psnr"]), np.asarray(ref[level]["psnr"])
    return paired_interval(a, b, seed=len(a)) if len(a) >= 2 else (float((a - b).mean()),) * 3


def rows(photos: dict, level: str) -> list[list[str]]:
    """One table row per restoring row (models, then the Gaussian filter) at ``level``."""
    inp, gauss = photos.get("input"), photos.get("gaussian")
    out = []
    for row in [r for r in photos if r not in REFERENCE] + (["gaussian"] if gauss else []):
        rec = photos[row]
        psnr = np.asarray(rec[level]["psnr"])
        gain = _gain(rec, inp, level) if inp else None
        diff = np.asarray(rec[level]["psnr"]) - np.asarray(inp[level]["psnr"]) if inp else None
        own = [k for k, name in enumerate(rec["images"]) if name.endswith("/RGB")]
        vs = _gain(rec, gauss, level) if gauss and row != "gaussian" else None
        shift = 255 * np.asarray(rec[level]["shift"])
        worst = int(np.argmin(diff)) if diff is not None else None
        label = f"`{row}`" + (f" (sigma {rec['sigma'][level]:.1f})" if row == "gaussian" else "")
        out.append([label, f"{psnr.mean():.2f}",
                    MISSING if gain is None else f"{gain[0]:+.2f} [{gain[1]:+.2f}, {gain[2]:+.2f}]",
                    MISSING if diff is None or not own else f"{diff[own].mean():+.2f}",
                    MISSING if diff is None else f"{int((diff < 0).sum())} of {len(diff)}",
                    MISSING if worst is None else f"{diff[worst]:+.2f} ({rec['images'][worst]})",
                    MISSING if vs is None else f"{vs[0]:+.2f} [{vs[1]:+.2f}, {vs[2]:+.2f}]",
                    ", ".join(f"{v:+.1f}" for v in shift.mean(axis=0)), f"{np.abs(shift).max():.1f}"])
    return out


def section(photos: dict, levels: list[str]) -> list[str]:
    lines = ["## Restoring photos it never saw", ""]
    if "input" not in photos or len(photos) < 2:
        return lines + ["Not run (`reports/per_photo/` holds no model and input rows).", ""]
    n = len(photos["input"]["images"])
    lines += [f"The source's test photos ({n} images: each in its own colours and in other palettes, channel orders "
              "and hue rotations that no training image had), each distorted once per level and restored whole the "
              "way `fdr restore` restores a photo (`fdr/evaluate/heldout.py`). Gain: PSNR over the distorted input, "
              "mean over images with its 95% bootstrap interval over images; own colours: the images in their own "
              "palette only; worst: the image that gained least. Gaussian: the best Gaussian filter, one sigma per "
              "level chosen on the training photos. Colour shift: mean over pixels of restored − clean per channel "
              "(0-255 scale), mean over images, and the largest of any image and channel.", ""]
    header = ["row", "PSNR", "gain [95%]", "gain, own colours", "made worse", "worst (image)", "− Gaussian [95%]",
              "colour shift R, G, B", "max |shift|"]
    for level in levels:
        if level in photos["input"]:
            lines += [f"**{level}** (input {np.mean(photos['input'][level]['psnr']):.2f} dB)", ""]
            lines += render_table(header, rows(photos, level)) + [""]
    return lines


def finding(photos: dict, main: Optional[str], level: str = "moderate") -> list[str]:
    """One sentence on restoring one's own photos with the main model, from the numbers above."""
    if not main or main not in photos or "input" not in photos or level not in photos[main]:
        return []
    rec, inp = photos[main], photos["input"]
    gain = _gain(rec, inp, level)
    diff = np.asarray(rec[level]["psnr"]) - np.asarray(inp[level]["psnr"])
    text = (f"- Photos it never saw ({level}): `{main}` restores them {gain[0]:+.2f} dB over the input (95% interval "
            f"{gain[1]:+.2f} to {gain[2]:+.2f}), {int((diff < 0).sum())} of {len(diff)} made worse")
    if "gaussian" in photos:
        vs = _gain(rec, photos["gaussian"], level)
        text += f", {vs[0]:+.2f} dB against the best Gaussian filter ({vs[1]:+.2f} to {vs[2]:+.2f})"
    shift = 255 * np.abs(np.asarray(rec[level]["shift"])).max()
    return [text + f"; the largest colour shift of any image is {shift:.1f}/255."]
