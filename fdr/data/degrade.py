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
difference only moves values lying within ~1e-5 of a rounding boundary). The separable blur runs as banded
matrix products (BLAS) on channel planes, and the noise field comes from ``torch.Tensor.normal_`` seeded from
the caller's numpy Generator: both several times faster than ``scipy.ndimage`` / ``Generator.standard_normal``
(see ``scripts/bench_synthesis.py``) and deterministic on a given machine and library set.
"""
from __future__ import annotations

import io
import math
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Optional, Union

import numpy as np
import torch
from PIL import Image
from threadpoolctl import ThreadpoolController

from fdr.config import SynthConfig

LEVELS = {"mild": (9, 11), "moderate": (12, 17), "severe": (18, 20)}
N_LEVELS = 10
_TILE = 32  # output rows/columns per banded matrix product (fastest on 2-core AVX-512 CPU)
_CONTROLLER: Optional[ThreadpoolController] = None


@contextmanager
def single_thread():
    """One BLAS and one torch thread inside: the many small products here lose to thread hand-offs otherwise
    (the synthesize stage parallelises over images instead)."""
    global _CONTROLLER
    if _CONTROLLER is None:
        _CONTROLLER = ThreadpoolController()
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with _CONTROLLER.limit(limits=1, user_api="blas"):
            yield
    finally:
        torch.set_num_threads(n)


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
    """Normalised 1-D Gaussian of odd ``size`` (float64). ``fspecial('gaussian', size, sigma)`` is its outer
    product with itself; sigma -> 0 gives the identity (delta) kernel."""
    r = size // 2
    x = np.arange(-r, r + 1, dtype=np.float64)
    if sigma <= 1e-12:
        return (x == 0).astype(np.float64)
    g = np.exp(-(x * x) / (2.0 * sigma * sigma))
    return g / g.sum()


def _band_block(lo: int, hi: int, n: int, g: np.ndarray) -> tuple[int, int, np.ndarray]:
    """Rows lo..hi of the n x n matrix of a replicate-border correlation with ``g``: ``(c0, c1, block)``."""
    r = len(g) // 2
    c0, c1 = max(0, lo - r), min(n, hi + r)
    rows = np.arange(lo, hi)[:, None]
    cols = np.clip(rows + np.arange(-r, r + 1)[None, :], 0, n - 1) - c0
    block = np.zeros((hi - lo, c1 - c0), dtype=np.float64)
    np.add.at(block, (np.broadcast_to(rows - lo, cols.shape), cols), np.broadcast_to(g, cols.shape))
    return c0, c1, block.astype(np.float32)


def _correlate_axis(x: np.ndarray, g: np.ndarray, axis: int) -> np.ndarray:
    """Replicate-border correlation of planar float32 ``x`` (C, H, W) with ``g`` along axis 1 (H) or 2 (W),
    as banded matrix products over tiles of ``_TILE`` output lines."""
    n, r = x.shape[axis], len(g) // 2
    out = np.empty_like(x)
    interior = None  # every full tile away from the borders has the same block
    for lo in range(0, n, _TILE):
        hi = min(n, lo + _TILE)
        if lo >= r and hi + r <= n and hi - lo == _TILE:
            if interior is None:
                interior = _band_block(lo, hi, n, g)[2]
            c0, c1, block = lo - r, hi + r, interior
        else:
            c0, c1, block = _band_block(lo, hi, n, g)
        if axis == 1:
            np.matmul(block, x[:, c0:c1, :], out=out[:, lo:hi, :])
        else:
            np.matmul(x[:, :, c0:c1], block.T, out=out[:, :, lo:hi])
    return out


def blur_planar(x: np.ndarray, sigma: float, size: int, gain: float = 1.0) -> np.ndarray:
    """Gaussian blur of float32 planes (C, H, W) with replicate border, times ``gain``."""
    g = gaussian_kernel1d(sigma, size)
    with single_thread():  # gain folded into the first pass only
        return _correlate_axis(_correlate_axis(np.ascontiguousarray(x, dtype=np.float32), g * gain, 1), g, 2)


def to_planar(img: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(img, dtype=np.float32).transpose(2, 0, 1))


def apply_blur(img: np.ndarray, sigma: float, size: int = 21) -> np.ndarray:
    """Gaussian blur of a float H x W x C image (``size`` x ``size`` kernel, replicate border)."""
    return blur_planar(to_planar(img), sigma, size).transpose(1, 2, 0)


# ---------------------------------------------------------------------------------------------- noise
def torch_generator(rng: np.random.Generator) -> torch.Generator:
    """A torch CPU generator seeded from the next draw of ``rng`` (keeps numpy as the single seed source)."""
    return torch.Generator().manual_seed(int(rng.integers(0, 2**63 - 1)))


def _normal_(buf: np.ndarray, mean: float, std: float, rng: np.random.Generator) -> np.ndarray:
    torch.from_numpy(buf).normal_(mean, std, generator=torch_generator(rng))
    return buf


def apply_noise(img: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Add N(0, (sigma/255)^2) noise to a float image in [0, 1] and clip to [0, 1] (``imnoise``)."""
    x = to_planar(img)
    n = _normal_(np.empty_like(x), 0.0, sigma / 255.0, rng)
    return np.clip(x + n, 0.0, 1.0).transpose(1, 2, 0)


# ----------------------------------------------------------------------------------------------- JPEG
def jpeg_roundtrip(u8: np.ndarray, quality: int) -> np.ndarray:
    """Encode ``uint8`` H x W x 3 as JPEG at integer ``quality`` with Pillow and decode it again."""
    buf = io.BytesIO()
    Image.fromarray(u8).save(buf, format="JPEG", quality=int(quality))
    buf.seek(0)
    with Image.open(buf) as im:
        return np.asarray(im if im.mode == "RGB" else im.convert("RGB"))


def quantize(img: np.ndarray) -> np.ndarray:
    """float [0, 1] -> uint8 with round-half-up (MATLAB ``im2uint8``)."""
    return np.floor(np.clip(np.asarray(img, dtype=np.float32), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def apply_jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    """Quantise a float image in [0, 1] to 8 bits, JPEG round trip at ``quality``, back to float [0, 1]."""
    return jpeg_roundtrip(quantize(img), quality).astype(np.float32) / 255.0


# ------------------------------------------------------------------------------------------- pipeline
def blur_noise_u8(x: np.ndarray, params: DistortionParams, rng: np.random.Generator, cfg: SynthConfig,
                  noise_buffer: Optional[np.ndarray] = None) -> np.ndarray:
    """Blur and noise on float32 planes (C, H, W) in [0, 1], quantised: the ``uint8`` H x W x 3 the JPEG gets.

    Works on the 0-255 scale so quantisation folds into the same pass: the blur kernel carries the gain 255,
    the noise carries the rounding offset 0.5, and clipping to [0.5, 255.5] followed by truncation equals
    ``round(255 * clip(v, 0, 1))``.
    """
    with single_thread():
        y = torch.from_numpy(blur_planar(x, params.blur_sigma, cfg.kernel_size, gain=255.0))
        n = noise_buffer if noise_buffer is not None and noise_buffer.shape == tuple(y.shape) else np.empty_like(y.numpy())
        y.add_(torch.from_numpy(_normal_(n, 0.5, params.noise_sigma, rng))).clamp_(0.5, 255.5)
        return y.to(torch.uint8).permute(1, 2, 0).contiguous().numpy()


def distort_planar(x: np.ndarray, params: DistortionParams, rng: np.random.Generator, cfg: SynthConfig,
                   noise_buffer: Optional[np.ndarray] = None) -> np.ndarray:
    """Blur -> noise -> JPEG on float32 planes (C, H, W) in [0, 1]; returns the decoded ``uint8`` H x W x 3."""
    return jpeg_roundtrip(blur_noise_u8(x, params, rng, cfg, noise_buffer), params.jpeg_quality)


def apply(img: np.ndarray, params: DistortionParams, rng: np.random.Generator, cfg: SynthConfig) -> np.ndarray:
    """The protocol on a float H x W x 3 image in [0, 1]: blur, then noise (clipped), then JPEG; float [0, 1]."""
    return distort_planar(to_planar(img), params, rng, cfg).astype(np.float32) / 255.0
