"""Image quality metrics (Tables 1-2: "SSIM computed in the same way with OP-Attention"; Tables 3-4: SRN, SPANet).

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

Tables 3-4 cite other conventions ("SSIM computed in the same way with SRN" / "with SPANET"); each is a
separately labelled pair, traced to the cited method's released evaluation (:data:`CONVENTIONS`):

- ``psnr_srn`` / ``ssim_srn`` (Table 3, GoPro; ``jiangsutx/SRN-Deblur``: its README says the paper's numbers are
  MATLAB's built-in ``psnr()`` and ``ssim()`` on the colour results it saves). The output is written as SRN's
  ``im2uint8`` does (clip to [0, 1], x 255, *truncated* to uint8), the 8-bit target is read back exactly. MATLAB
  ``psnr``: peak 255 (``diff(getrangefromclass(uint8))``), MSE over all R, G, B values. MATLAB ``ssim`` (Image
  Processing Toolbox, since R2014a): an H x W x 3 array is a 3-D *volume*, so its Gaussian weighting (sigma =
  ``Radius`` 1.5, ``2 ceil(3 sigma) + 1`` = 11 taps) runs along rows, columns *and the three colour planes*,
  with replicate padding; C1 = (0.01 L)^2, C2 = (0.03 L)^2, L = 255; population statistics; the mean of the
  full-size map (no border crop).
- ``psnr_spanet`` / ``ssim_spanet`` (Table 4, DID-MDN; ``stevewongv/SPANet``, ``main.py`` ``run_test``: the
  output and target as float32 in [0, 1], clipped, no rounding, then scikit-image's old ``compare_psnr(pred, B)``
  and ``compare_ssim(pred, B, multichannel=True)`` without ``data_range``). Those guessed the range from the
  float dtype: PSNR took the top of float's ``dtype_range`` (-1, 1), i.e. 1, SSIM its width, i.e. **2**, so
  C1 = (0.01 * 2)^2, C2 = (0.03 * 2)^2, four times OWAN's (its 7 x 7 uniform window, sample covariance, border
  of 3 cropped, mean over channels). No ``1e-10`` in the PSNR.

All functions take float HWC arrays (H x W x 3) with values nominally in [0, 1].
"""
from __future__ import annotations

import math
from typing import Callable, Iterable, Mapping

import numpy as np
from scipy.ndimage import correlate1d
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

# ----------------------------------------------------------------------- the conventions Tables 3-4 cite

MATLAB_SSIM_RADIUS = 1.5  # ssim.m default 'Radius' (sigma of the Gaussian weighting)
MATLAB_K = (0.01, 0.03)  # ssim.m default RegularizationConstants: (0.01 L)^2, (0.03 L)^2
SKIMAGE_FLOAT_SSIM_RANGE = 2.0  # old compare_ssim without data_range on floats: dtype_range (-1, 1) -> 2


def srn_uint8(out: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(output, target)`` as the 0-255 values SRN evaluates: the output written as its ``im2uint8`` does
    (clip, x 255, truncate), the 8-bit target rounded back to its levels (undoes ``u / 255`` float error)."""
    out, gt = _prepare(out, gt)
    return np.floor(out * 255.0), np.round(gt * 255.0)


def psnr_srn(out: np.ndarray, gt: np.ndarray) -> float:
    """Table 3 (SRN): MATLAB ``psnr`` on SRN's uint8 RGB results, peak 255; inf for identical images."""
    a, b = srn_uint8(out, gt)
    mse = float(np.mean((a - b) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(255.0**2 / mse)


def _matlab_gaussian_3d(x: np.ndarray) -> np.ndarray:
    """MATLAB ``ssim``'s 3-D Gaussian weighting (``imfilter(x, w, 'conv', 'replicate')``), as three 1-D passes:
    the 11 x 11 x 11 kernel is an outer product, and none of its taps falls below ``eps * max`` (the corner is
    exp(-75 / 4.5) = 5.8e-8), so ssim.m's zeroing of such taps changes nothing."""
    r = math.ceil(3 * MATLAB_SSIM_RADIUS)
    t = np.arange(-r, r + 1, dtype=np.float64)
    w = np.exp(-(t**2) / (2 * MATLAB_SSIM_RADIUS**2))
    w /= w.sum()
    for axis in range(x.ndim):
        x = correlate1d(x, w, axis=axis, mode="nearest")
    return x


def ssim_srn(out: np.ndarray, gt: np.ndarray) -> float:
    """Table 3 (SRN): MATLAB ``ssim`` on SRN's uint8 RGB results, the H x W x 3 array read as a 3-D volume."""
    a, b = srn_uint8(out, gt)
    c1, c2 = ((k * 255.0) ** 2 for k in MATLAB_K)
    mu_a, mu_b = _matlab_gaussian_3d(a), _matlab_gaussian_3d(b)
    var_a = _matlab_gaussian_3d(a * a) - mu_a**2
    var_b = _matlab_gaussian_3d(b * b) - mu_b**2
    cov = _matlab_gaussian_3d(a * b) - mu_a * mu_b
    ssim_map = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return float(ssim_map.mean())


def _spanet_floats(out: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """SPANet's arrays: float32 in [0, 1], clipped (as its test loop), compared in float64 (as skimage did)."""
    out, gt = _prepare(out, gt)
    return out.astype(np.float32).astype(np.float64), gt.astype(np.float32).astype(np.float64)


def psnr_spanet(out: np.ndarray, gt: np.ndarray) -> float:
    """Table 4 (SPANet): old ``compare_psnr`` on floats in [0, 1] (data range 1, no epsilon); inf if identical."""
    a, b = _spanet_floats(out, gt)
    mse = float(np.mean((a - b) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(1.0 / mse)


def ssim_spanet(out: np.ndarray, gt: np.ndarray) -> float:
    """Table 4 (SPANet): old ``compare_ssim(multichannel=True)`` on floats, whose guessed data range was 2."""
    a, b = _spanet_floats(out, gt)
    return float(structural_similarity(a, b, data_range=SKIMAGE_FLOAT_SSIM_RANGE, channel_axis=-1))


# Convention -> its metrics, and the track each of the paper's tables that cites one is measured on.
CONVENTIONS: dict[str, dict[str, Callable[[np.ndarray, np.ndarray], float]]] = {
    "srn": {"psnr_srn": psnr_srn, "ssim_srn": ssim_srn},
    "spanet": {"psnr_spanet": psnr_spanet, "ssim_spanet": ssim_spanet},
}
TRACK_CONVENTION = {"deblur": "srn", "derain": "spanet"}  # Table 3 (GoPro), Table 4 (DID-MDN)


def track_metrics(track: str) -> dict[str, Callable[[np.ndarray, np.ndarray], float]]:
    """The extra metrics a track's whole test images are scored with (empty for the OWAN-protocol tracks)."""
    return dict(CONVENTIONS.get(TRACK_CONVENTION.get(track, ""), {}))


class MetricAccumulator:
    """Running per-image averages of the four metrics (and ``extra`` ones; images added one by one or in batches); the paper's
    two (``psnr``, ``ssim``) are also kept per image (:meth:`per_image`) for paired intervals."""

    KEPT = ("psnr", "ssim")

    def __init__(self, extra: Mapping[str, Callable[[np.ndarray, np.ndarray], float]] | None = None) -> None:
        self.metrics = {**METRICS, **(extra or {})}  # extra: another convention's metrics (track_metrics)
        self.sums = {name: 0.0 for name in self.metrics}
        self.kept: dict[str, list[float]] = {name: [] for name in self.KEPT}
        self.count = 0

    def add(self, out: np.ndarray, gt: np.ndarray) -> None:
        for name, fn in self.metrics.items():
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
        """``{"psnr", "ssim", "psnr_y", "ssim_y", <extra>..., "patches"}``; the metrics are means over images."""
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
