"""Image quality metrics (paper Tables 1-2: "SSIM computed in the same way with OP-Attention").

Two families, both computed per image (per 63x63 patch for the patch test sets) and averaged:

- ``psnr`` / ``ssim`` -- the paper's numbers, exactly as OWAN's ``test.py`` computes them: RGB,
  values clipped to [0, 1], *not* rounded to 8 bits, no border crop;
  PSNR = 10 log10(1 / (MSE + 1e-10)); SSIM = scikit-image ``structural_similarity(data_range=1,
  channel_axis=-1)`` with its defaults (7x7 uniform window, sample covariance), i.e. the old
  ``compare_ssim(..., multichannel=True)``. Arrays are evaluated in float64, as the old
  ``compare_ssim`` did internally.
- ``psnr_y`` / ``ssim_y`` -- a separately labelled toolbox variant (BasicSR / KAIR style) for users
  comparing with those toolboxes: both images rounded to uint8, converted to the ITU-R BT.601 luma
  Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255 on the 0-255 scale (R, G, B in [0, 1]),
  PSNR = 10 log10(255^2 / MSE), SSIM with an 11x11 Gaussian window (sigma 1.5, population covariance,
  data range 255, valid region only: Wang et al.'s reference implementation). No border crop.

All functions take float HWC arrays (H x W x 3) with values nominally in [0, 1].
"""
from __future__ import annotations

import math
from typing import Iterable

import numpy as np
from skimage.metrics import structural_similarity

EPS = 1e-10  # OWAN's test.py: mse + 1e-10
Y_WEIGHTS = np.array([65.481, 128.553, 24.966])  # BT.601 luma for RGB in [0, 1], output on 0-255


def _prepare(out: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    out = np.asarray(out)
    gt = np.asarray(gt)
    if out.shape != gt.shape or out.ndim != 3 or out.shape[-1] != 3:
        raise ValueError(f"metrics expect two H x W x 3 arrays of equal shape, got {out.shape} and {gt.shape}")
    return np.clip(out.astype(np.float64), 0.0, 1.0), np.clip(gt.astype(np.float64), 0.0, 1.0)


def psnr(out: np.ndarray, gt: np.ndarray) -> float:
    """OWAN PSNR in dB: RGB, clipped to [0, 1], no rounding: 10 log10(1 / (MSE + 1e-10))."""
    out, gt = _prepare(out, gt)
    mse = float(np.mean((out - gt) ** 2))
    return 10.0 * math.log10(1.0 / (mse + EPS))


def ssim(out: np.ndarray, gt: np.ndarray) -> float:
    """OWAN SSIM: scikit-image defaults (7x7 uniform window), data_range=1, mean over RGB channels."""
    out, gt = _prepare(out, gt)
    return float(structural_similarity(out, gt, data_range=1.0, channel_axis=-1))


def to_y_uint8(img: np.ndarray) -> np.ndarray:
    """Round an RGB float image in [0, 1] to 8 bits and return its BT.601 luma on the 0-255 scale (float64)."""
    img = np.clip(np.asarray(img, dtype=np.float64), 0.0, 1.0)
    q = np.round(img * 255.0) / 255.0  # uint8 quantisation, as when images are saved
    return q @ Y_WEIGHTS + 16.0


def psnr_y(out: np.ndarray, gt: np.ndarray) -> float:
    """Toolbox PSNR (uint8-rounded, Y channel, peak 255); inf for identical images."""
    _prepare(out, gt)
    mse = float(np.mean((to_y_uint8(out) - to_y_uint8(gt)) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(255.0**2 / mse)


def ssim_y(out: np.ndarray, gt: np.ndarray) -> float:
    """Toolbox SSIM (uint8-rounded, Y channel): Gaussian 11x11 window, sigma 1.5, valid region."""
    _prepare(out, gt)
    return float(
        structural_similarity(
            to_y_uint8(out), to_y_uint8(gt), data_range=255.0,
            gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
        )
    )


METRICS = {"psnr": psnr, "ssim": ssim, "psnr_y": psnr_y, "ssim_y": ssim_y}


class MetricAccumulator:
    """Running per-image averages of all four metrics (images added one by one or in batches); the paper's
    two (``psnr``, ``ssim``) are also kept per image (:meth:`per_image`) for paired intervals."""

    KEPT = ("psnr", "ssim")

    def __init__(self) -> None:
        self.sums = {name: 0.0 for name in METRICS}
        self.kept: dict[str, list[float]] = {name: [] for name in self.KEPT}
        self.count = 0

    def add(self, out: np.ndarray, gt: np.ndarray) -> None:
        for name, fn in METRICS.items():
            value = fn(out, gt)
            self.sums[name] += value
            if name in self.kept:
                self.kept[name].append(value)
        self.count += 1

    def per_image(self) -> dict[str, np.ndarray]:
        """``{"psnr": ..., "ssim": ...}``, one value per image in the order they were added."""
        return {name: np.asarray(v, dtype=np.float64) for name, v in self.kept.items()}

    def add_batch(self, outs: Iterable[np.ndarray], gts: Iterable[np.ndarray]) -> None:
        for out, gt in zip(outs, gts, strict=True):
            self.add(out, gt)

    def result(self) -> dict:
        """``{"psnr", "ssim", "psnr_y", "ssim_y", "patches"}``; the metrics are means over images."""
        if self.count == 0:
            raise ValueError("no images were evaluated")
        res = {name: total / self.count for name, total in self.sums.items()}
        res["patches"] = self.count
        return res


def evaluate_arrays(outputs: Iterable[np.ndarray], targets: Iterable[np.ndarray]) -> dict:
    """Mean metrics over paired HWC float images (each image counts once, as in OWAN's test loop)."""
    acc = MetricAccumulator()
    acc.add_batch(outputs, targets)
    return acc.result()
