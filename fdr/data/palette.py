"""Colour augmentation of clean images, applied before the distortions are synthesised (so JPEG's chroma
subsampling and the noise clipping see a real image of the new colours, as they would a photo of them).

A palette change is three steps on float RGB in [0, 1], each drawn per copy (:func:`draw`):

- a **channel permutation** (one of the six orders of R, G, B);
- a **hue rotation** by ``hue`` degrees about the grey axis (a rotation of the RGB cube about (1, 1, 1): greys stay
  grey, the mean brightness of a pixel is unchanged before clipping);
- a **saturation** change by the factor ``saturation`` (each pixel moved away from or towards its own grey,
  ``(R + G + B) / 3``).

The result is clipped to [0, 1]. The identity palette (order RGB, 0°, factor 1) returns the image unchanged.
Toolkits augment colour the same way (channel shuffles in BasicSR-style pipelines, hue/saturation jitter in
torchvision's ``ColorJitter``); the choice of ranges is in ``reports/choices.md``.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

ORDERS = tuple(itertools.permutations(range(3)))  # (0, 1, 2) is RGB itself


@dataclass(frozen=True)
class Palette:
    order: tuple = (0, 1, 2)  # output channel c takes input channel order[c]
    hue: float = 0.0  # degrees
    saturation: float = 1.0

    def record(self) -> dict:
        return {"palette_order": "".join("RGB"[c] for c in self.order), "palette_hue": round(self.hue, 3),
                "palette_saturation": round(self.saturation, 4)}

    @property
    def identity(self) -> bool:
        return self.order == (0, 1, 2) and self.hue == 0.0 and self.saturation == 1.0


def hue_matrix(degrees: float) -> np.ndarray:
    """Rotation of RGB vectors by ``degrees`` about the grey axis (1, 1, 1) / sqrt(3) (Rodrigues' formula)."""
    t = math.radians(degrees)
    c, s, k = math.cos(t), math.sin(t), 1.0 / 3.0
    r = math.sqrt(k)
    return np.array([[c + (1 - c) * k, (1 - c) * k - r * s, (1 - c) * k + r * s],
                     [(1 - c) * k + r * s, c + (1 - c) * k, (1 - c) * k - r * s],
                     [(1 - c) * k - r * s, (1 - c) * k + r * s, c + (1 - c) * k]])


def apply(rgb: np.ndarray, p: Palette) -> np.ndarray:
    """``rgb`` (H x W x 3 float in [0, 1]) in palette ``p``, clipped to [0, 1] (float32)."""
    if p.identity:
        return np.asarray(rgb, dtype=np.float32)
    x = np.asarray(rgb, dtype=np.float64)[..., list(p.order)]
    if p.hue:
        x = x @ hue_matrix(p.hue).T
    if p.saturation != 1.0:
        grey = x.mean(axis=-1, keepdims=True)
        x = grey + p.saturation * (x - grey)
    return np.clip(x, 0.0, 1.0).astype(np.float32)


def draw(rng: np.random.Generator, saturation: tuple[float, float]) -> Palette:
    """A random palette: a uniform channel order, a hue angle uniform in [0, 360), a saturation factor uniform
    in ``saturation`` (low, high)."""
    order = ORDERS[int(rng.integers(len(ORDERS)))]
    return Palette(order, float(rng.uniform(0.0, 360.0)), float(rng.uniform(*saturation)))
