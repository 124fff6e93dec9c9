"""Hybrid distortions of the RL-Restore protocol (paper §4.1; ``generate_train.m``): blur -> noise -> JPEG.

Levels 1..10 per distortion. For a level triple (k, m, n) (blur, noise, JPEG):

- blur sigma ~ U[step_b (k-1), step_b k] (generator: step 0.5 -> [0, 5]; the paper's text says [0, 10]),
  21 x 21 Gaussian (``fspecial('gaussian', 21, sigma)``), replicate border (``imfilter(..., 'replicate')``);
- noise sigma ~ U[step_n (m-1), step_n m] on the 0-255 scale, added and clipped to [0, 1] (``imnoise``);
- JPEG quality ~ q(n) + U[0, 1) (q(n+1) - q(n)) with q = [100, 80, 60, 50, 40, 35, 30, 25, 20, 15, 10];
  MATLAB accepts the fractional value, Pillow needs an integer: we round half up (``floor(q + 0.5)``).
  The image is quantised to 8 bits first (``round(255 x)``, as ``imwrite`` does) and encoded by Pillow
  (libjpeg, baseline, 4:2:0 chroma subsampling).

Severity of a triple = k + m + n - 2; ``LEVELS`` gives the ranges (163 / 434 / 163 triples).

Numerics: float32 throughout (MATLAB uses double; every value is quantised to 8 bits before JPEG, so the
difference only moves values lying within ~1e-5 of a rounding boundary). The separable blur is OpenCV's
``sepFilter2D`` per channel plane, the noise field comes from numpy's generator of the sample (float32
``standard_normal``), and one saturating OpenCV add clips and rounds. All are deterministic for a given seed
(``scripts/bench_synthesis.py`` times them against the JPEG codec).
"""
from __future__ import annotations

import io
import math
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Optional, Union

import cv2
import numpy as np
from PIL import Image
from threadpoolctl import ThreadpoolController

from fdr.config import SynthConfig

from .imageio import quantize, to_float

LEVELS = {"mild": (9, 11), "moderate": (12, 17), "severe": (18, 20)}
N_LEVELS = 10
_TAP_EPS = float(np.finfo(np.float32).eps)
_CONTROLLER: Optional[ThreadpoolController] = None


@contextmanager
def single_thread():
    """One OpenCV and one BLAS thread inside: the synthesize stage parallelises over images instead, and
    thread hand-offs on per-image work cost more than they gain on a few cores."""
    global _CONTROLLER
    if _CONTROLLER is None:
        _CONTROLLER = ThreadpoolController()
    n_cv = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        with _CONTROLLER.limit(limits=1, user_api="blas"):
            yield
    finally:
        cv2.setNumThreads(n_cv)


@lru_cache(maxsize=None)
def _triples(lo: int, hi: int) -> tuple[tuple[int, int, int], ...]:
    return tuple(
        (k, m, n)
        for k in range(1, N_LEVELS + 1)
        for m in range(1, N_LEVELS + 1)
        for n in range(1, N_LEVELS + 1)
        if lo <= k + m + n - 2 <= hi
    )


def level_triples(level: str) -> list[tuple[int, int, int]]:
    """All ordered (k, m, n) in 1..10 whose severity k+m+n-2 lies in ``LEVELS[level]`` (RL-Restore's
    ``noise_combination``), in lexicographic order."""
    if level not in LEVELS:
        raise ValueError(f"level {level!r}: expected one of {', '.join(LEVELS)}")
    return list(_triples(*LEVELS[level]))


def severity(triple) -> int:
    return int(sum(triple)) - 2


@dataclass(frozen=True)
class DistortionParams:
    """One drawn distortion: values and the level triple they came from."""

    blur_sigma: float
    noise_sigma: float  # 0-255 scale
    jpeg_quality: int  # rounded, what Pillow receives
    triple: tuple[int, int, int] = (0, 0, 0)  # (0, 0, 0) = values given explicitly
    jpeg_quality_drawn: float = field(default=float("nan"), compare=False)  # before rounding


def level_ranges(triple, cfg: SynthConfig) -> dict[str, tuple[float, float]]:
    """Closed ranges each drawn value must lie in for ``triple`` (used by tests and audits)."""
    k, m, n = triple
    q = cfg.jpeg_quality
    return {
        "blur_sigma": (cfg.blur_sigma_step * (k - 1), cfg.blur_sigma_step * k),
        "noise_sigma": (cfg.noise_sigma_step * (m - 1), cfg.noise_sigma_step * m),
        "jpeg_quality": (q[n], q[n - 1]),
    }


def triple_of(blur_sigma: float, noise_sigma: float, quality: float, cfg: SynthConfig) -> tuple[int, int, int]:
    """Level triple whose ranges contain the given values (lowest level on a shared boundary)."""
    def index(v, step):
        return min(N_LEVELS, max(1, math.ceil(v / step - 1e-12)))

    q = cfg.jpeg_quality
    n = next((i for i in range(1, N_LEVELS + 1) if quality >= q[i]), N_LEVELS)
    return index(blur_sigma, cfg.blur_sigma_step), index(noise_sigma, cfg.noise_sigma_step), n


def round_quality(q: float) -> int:
    return int(math.floor(q + 0.5))


def draw_params(level_or_triple: Union[str, tuple], rng: np.random.Generator, cfg: SynthConfig) -> DistortionParams:
    """Draw a triple uniformly from the level (or use the given one), then sigma_b, sigma_n, quality (in
    the generator's order)."""
    if isinstance(level_or_triple, str):
        triples = level_triples(level_or_triple)
        triple = triples[int(rng.integers(len(triples)))]
    else:
        triple = tuple(int(v) for v in level_or_triple)
        if len(triple) != 3 or not all(1 <= v <= N_LEVELS for v in triple):
            raise ValueError(f"level triple {level_or_triple!r}: expected three levels in 1..{N_LEVELS}")
    k, m, n = triple
    q = cfg.jpeg_quality
    blur = cfg.blur_sigma_step * (k - 1) + float(rng.random()) * cfg.blur_sigma_step
    noise = cfg.noise_sigma_step * (m - 1) + float(rng.random()) * cfg.noise_sigma_step
    quality = q[n - 1] + float(rng.random()) * (q[n] - q[n - 1])
    return DistortionParams(blur, noise, round_quality(quality), triple, quality)


# ----------------------------------------------------------------------------------------------- blur
def gaussian_kernel1d(sigma: float, size: int) -> np.ndarray:
    """Normalised 1-D Gaussian of odd ``size`` (float64); ``fspecial('gaussian', size, sigma)`` is its outer
    product with itself. As in ``fspecial``, taps below ``eps * max`` are zeroed before normalising, with
    float32's eps (1.2e-7: the precision the filter runs in) instead of double's; this drops only the outer
    taps of sigma < 1.8 (|x| > 5.65 sigma, 1.6e-8 of the mass). sigma -> 0 gives the identity kernel."""
    r = size // 2
    x = np.arange(-r, r + 1, dtype=np.float64)
    if sigma <= 1e-12:
        return (x == 0).astype(np.float64)
    g = np.exp(-(x * x) / (2.0 * sigma * sigma))
    g[g < _TAP_EPS * g.max()] = 0.0
    return g / g.sum()


class _Scratch(threading.local):
    """Per-thread buffers reused from image to image: a fresh multi-megabyte array costs a page fault per
    4 KiB page on first touch, about a tenth of the synthesis time."""

    def __init__(self):
        self.buffers: dict[str, np.ndarray] = {}

    def get(self, name: str, shape: tuple, dtype) -> np.ndarray:
        dtype = np.dtype(dtype)
        nbytes = math.prod(shape) * dtype.itemsize
        buf = self.buffers.get(name)
        if buf is None or buf.nbytes < nbytes:
            buf = self.buffers[name] = np.empty(max(nbytes, 1), np.uint8)
        return buf[:nbytes].view(dtype).reshape(shape)


_SCRATCH = _Scratch()


def blur_planar(x: np.ndarray, sigma: float, size: int, gain: float = 1.0,
                out: Optional[np.ndarray] = None) -> np.ndarray:
    """Gaussian blur of float32 planes (C, H, W) with replicate border, times ``gain``: a separable correlation
    per plane (``cv2.sepFilter2D``, ``BORDER_REPLICATE`` = ``imfilter(..., 'replicate')``) with the kernel's
    zero outer taps left out. ``uint8`` planes are read as value / 255 without a float copy (the x1 scale of an
    8-bit photo). Writes into ``out`` (float32, same shape) when given."""
    if np.asarray(x).dtype == np.uint8:
        x, gain = np.ascontiguousarray(x), gain / 255.0
    else:
        x = np.ascontiguousarray(x, dtype=np.float32)
    if x.ndim != 3:
        raise ValueError(f"blur_planar: expected planes C x H x W, got shape {x.shape}")
    g = gaussian_kernel1d(sigma, size)
    nz = np.flatnonzero(g)
    g = g[nz[0]:nz[-1] + 1]  # symmetric, so the centre stays the anchor
    kx, ky = (g * gain).astype(np.float32), g.astype(np.float32)  # gain folded into the row pass
    out = np.empty(x.shape, np.float32) if out is None else out
    for c in range(x.shape[0]):
        cv2.sepFilter2D(x[c], cv2.CV_32F, kx, ky, dst=out[c], borderType=cv2.BORDER_REPLICATE)
    return out


def to_planar(img: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(img, dtype=np.float32).transpose(2, 0, 1))


def apply_blur(img: np.ndarray, sigma: float, size: int = 21) -> np.ndarray:
    """Gaussian blur of a float H x W x C image (``size`` x ``size`` kernel, replicate border)."""
    return blur_planar(to_planar(img), sigma, size).transpose(1, 2, 0)


# ---------------------------------------------------------------------------------------------- noise
def noise_field(shape: tuple, sigma: float, rng: np.random.Generator, out: Optional[np.ndarray] = None) -> np.ndarray:
    """N(0, sigma^2) values in float32 from the sample's own generator (numpy's ziggurat), in C order."""
    out = rng.standard_normal(shape, dtype=np.float32, out=out)
    out *= np.float32(sigma)
    return out


def apply_noise(img: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Add N(0, (sigma/255)^2) noise to a float H x W x C image in [0, 1] and clip to [0, 1] (``imnoise``).
    The field is the one :func:`blur_noise_u8` adds for the same generator state (drawn plane by plane)."""
    x = np.asarray(img, dtype=np.float32)
    h, w, c = x.shape
    return np.clip(x + noise_field((c, h, w), sigma / 255.0, rng).transpose(1, 2, 0), 0.0, 1.0)


# ----------------------------------------------------------------------------------------------- JPEG
JPEG_MAX_SIDE = 65_500  # the largest width or height a baseline JPEG stream can carry (libjpeg's limit)


def check_jpeg_size(width: int, height: int, what: str) -> None:
    """Refuse an image the protocol's JPEG step cannot encode, naming ``what`` (a file or a set)."""
    if max(width, height) > JPEG_MAX_SIDE:
        raise ValueError(f"{what}: {width}x{height} pixels; the JPEG step of the protocol encodes at most "
                         f"{JPEG_MAX_SIDE:,} pixels per side (crop or scale the image first)")


def jpeg_roundtrip(u8: np.ndarray, quality: int) -> np.ndarray:
    """Encode ``uint8`` H x W x 3 as JPEG at integer ``quality`` with Pillow and decode it again."""
    check_jpeg_size(u8.shape[1], u8.shape[0], "JPEG step")
    buf = io.BytesIO()
    Image.fromarray(u8).save(buf, format="JPEG", quality=int(quality))
    buf.seek(0)
    with Image.open(buf) as im:
        return np.asarray(im if im.mode == "RGB" else im.convert("RGB"))


def apply_jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    """Quantise a float image in [0, 1] to 8 bits, JPEG round trip at ``quality``, back to float [0, 1]."""
    return to_float(jpeg_roundtrip(quantize(img), quality))


# ------------------------------------------------------------------------------------------- pipeline
def _blur_noise_u8(x: np.ndarray, params: DistortionParams, rng: np.random.Generator, cfg: SynthConfig,
                   out: np.ndarray) -> np.ndarray:
    c, h, w = x.shape
    y = blur_planar(x, params.blur_sigma, cfg.kernel_size, gain=255.0, out=_SCRATCH.get("blur", x.shape, np.float32))
    n = noise_field((c * h, w), params.noise_sigma, rng, out=_SCRATCH.get("noise", (c * h, w), np.float32))
    u = cv2.add(y.reshape(c * h, w), n, dst=_SCRATCH.get("sum", (c * h, w), np.uint8), dtype=cv2.CV_8U)
    return cv2.merge(list(u.reshape(c, h, w)), dst=out)


def blur_noise_u8(x: np.ndarray, params: DistortionParams, rng: np.random.Generator, cfg: SynthConfig) -> np.ndarray:
    """Blur and noise on planes (C, H, W): float32 in [0, 1] or ``uint8`` (read as value / 255), quantised: the
    ``uint8`` H x W x C the JPEG gets.

    Works on the 0-255 scale (the blur kernel carries the gain 255); OpenCV's saturating add then clips to
    [0, 255] and rounds in one pass (``im2uint8`` of ``imnoise``'s clipped result; exact ties, a few values
    per million, go to the even level where MATLAB rounds them up). The noise is drawn plane by plane.
    """
    c, h, w = np.shape(x)
    return _blur_noise_u8(x, params, rng, cfg, np.empty((h, w, c), np.uint8))


def distort_planar(x: np.ndarray, params: DistortionParams, rng: np.random.Generator, cfg: SynthConfig) -> np.ndarray:
    """Blur -> noise -> JPEG on planes (C, H, W), float32 in [0, 1] or ``uint8``; returns the decoded ``uint8``
    H x W x C."""
    c, h, w = np.shape(x)
    u8 = _blur_noise_u8(x, params, rng, cfg, _SCRATCH.get("jpeg_in", (h, w, c), np.uint8))
    return jpeg_roundtrip(u8, params.jpeg_quality)


def apply(img: np.ndarray, params: DistortionParams, rng: np.random.Generator, cfg: SynthConfig) -> np.ndarray:
    """The protocol on a float H x W x 3 image in [0, 1]: blur, then noise (clipped), then JPEG; float [0, 1]."""
    return to_float(distort_planar(to_planar(img), params, rng, cfg))
