"""Restoring whole photos the model never saw, as a user does with ``fdr degrade`` and ``fdr restore``.

Each clean photo is distorted once per level by the protocol (one level triple per image, blur -> noise -> JPEG:
:func:`fdr.data.degrade.draw_params` and :func:`~fdr.data.degrade.distort_planar`, exactly ``fdr degrade``),
restored (a model through :func:`fdr.evaluate.restore.restore_array` with its window, or a Gaussian filter), and
scored against the clean photo with OWAN's PSNR / SSIM (:mod:`fdr.evaluate.metrics`) and each image's **mean
colour shift**: the mean over pixels of ``restored - clean`` per channel (R, G, B on [0, 1]). A restoration that
casts a colour over a photo shows there even when its PSNR still beats the input.

The **Gaussian filter** is the baseline a restoration has to beat: one sigma per level for every photo, chosen
by mean PSNR on other photos (:func:`choose_sigma`; the pipeline chooses it on the training photos).
"""
from __future__ import annotations

from typing import Callable, Optional, Sequence

import numpy as np
from scipy import ndimage

from fdr.data import degrade
from fdr.data.imageio import to_float
from fdr.evaluate.metrics import psnr, ssim

SIGMAS = tuple(np.round(np.arange(0.0, 3.01, 0.1), 2))  # the Gaussian baseline's candidates (pixels; 0 = identity)


def distort_photo(clean: np.ndarray, level: str, seed, syn) -> np.ndarray:
    """``clean`` (H x W x 3 uint8) distorted at ``level`` with one draw from ``default_rng(seed)`` (an integer
    or a ``SeedSequence``), as ``fdr degrade --seed`` does."""
    rng = np.random.default_rng(seed)
    params = degrade.draw_params(level, rng, syn)
    return degrade.distort_planar(np.ascontiguousarray(clean.transpose(2, 0, 1)), params, rng, syn)


def gaussian(image: np.ndarray, sigma: float) -> np.ndarray:
    """A Gaussian filter of ``sigma`` pixels on each channel of a float H x W x 3 image (reflected borders)."""
    if sigma <= 0:
        return image
    return ndimage.gaussian_filter(image, sigma=(sigma, sigma, 0), mode="reflect", truncate=4.0)


def colour_shift(out: np.ndarray, clean: np.ndarray) -> np.ndarray:
    """Mean of ``out - clean`` per channel (both float H x W x 3; ``out`` clipped to [0, 1] first)."""
    return (np.clip(out, 0.0, 1.0) - clean).reshape(-1, 3).mean(axis=0)


def choose_sigma(pairs: Sequence[tuple[np.ndarray, np.ndarray]], sigmas: Sequence[float] = SIGMAS) -> float:
    """The sigma of :data:`SIGMAS` whose filter gives the highest mean PSNR over ``(distorted, clean)`` float
    pairs."""
    means = [np.mean([psnr(gaussian(d, s), c) for d, c in pairs]) for s in sigmas]
    return float(sigmas[int(np.argmax(means))])


def score(restore: Callable[[np.ndarray], np.ndarray], pairs: Sequence[tuple[np.ndarray, np.ndarray]]) -> dict:
    """Per image: ``psnr``, ``ssim`` and ``shift`` (N x 3) of ``restore(distorted)`` against clean, for float
    ``(distorted, clean)`` pairs."""
    out: dict = {"psnr": [], "ssim": [], "shift": []}
    for distorted, clean in pairs:
        y = np.clip(restore(distorted), 0.0, 1.0)
        out["psnr"].append(psnr(y, clean))
        out["ssim"].append(ssim(y, clean))
        out["shift"].append(colour_shift(y, clean))
    return {k: np.asarray(v, dtype=np.float64) for k, v in out.items()}


def summarize(scores: dict, reference: Optional[dict] = None) -> dict:
    """Means of a :func:`score` result and, against ``reference`` (the distorted input's scores on the same
    images): the mean gain, how many images got worse, and the worst image's gain."""
    shift = scores["shift"]
    out = {"psnr": float(scores["psnr"].mean()), "ssim": float(scores["ssim"].mean()), "images": len(scores["psnr"]),
           "shift": [float(v) for v in shift.mean(axis=0)], "shift_max": float(np.abs(shift).max())}
    if reference is not None:
        gain = scores["psnr"] - reference["psnr"]
        worst = int(np.argmin(gain))
        out.update(gain=float(gain.mean()), worse=int((gain < 0).sum()), worst_gain=float(gain[worst]),
                   worst_image=worst)
    return out


def as_float_pairs(pairs: Sequence[tuple[np.ndarray, np.ndarray]]) -> list[tuple[np.ndarray, np.ndarray]]:
    """uint8 ``(distorted, clean)`` pairs as float in [0, 1]."""
    return [(to_float(d), to_float(c)) for d, c in pairs]
