"""Synthetic rain streaks and motion blur for the offline DID-HY / derain / deblur tracks (paper §4.1-4.2).

DID-MDN (Zhang & Patel, CVPR 2018) renders rain in Photoshop at three densities (light, medium, heavy) and
composes it additively, O = B + S. Without that data set we draw S from a documented streak model:

1. streak seeds: each pixel is a seed with probability ``density``; seed brightness ~ U[0.5, 1];
2. motion: the seed map is correlated with an anti-aliased line of ``length`` pixels at ``angle`` degrees from
   vertical (one orientation per image, as in DID-MDN's images), weight 1 per pixel of line;
3. width: a Gaussian of ``width`` pixels (sigma) softens the streaks;
4. composition: O = clip(B + alpha * S, 0, 1), the same S in the three channels (white rain).

``RAIN_CLASSES`` gives the ranges of each class at 512 x 512 (DID-HY's resolution); values are drawn
uniformly per image and recorded in the manifest. Motion blur for the deblur track (GoPro's blur comes from
averaging video frames) is the normalised line kernel applied with a replicate border.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy import ndimage, signal

RAIN_CLASSES = {
    #          density          length (px)    alpha         width sigma (px)
    "light": ((0.0010, 0.0020), (10.0, 20.0), (0.5, 0.7), (0.4, 0.8)),
    "medium": ((0.0020, 0.0040), (15.0, 30.0), (0.6, 0.8), (0.5, 0.9)),
    "heavy": ((0.0040, 0.0080), (20.0, 40.0), (0.7, 0.9), (0.6, 1.0)),
}
ANGLE_RANGE = (-25.0, 25.0)  # degrees from vertical
MOTION_LENGTH = (5.0, 21.0)  # pixels; GoPro blur spans a few to ~20 pixels at 1280 x 720
MOTION_ANGLE = (0.0, 180.0)


@dataclass(frozen=True)
class RainParams:
    rain_class: str
    density: float
    length: float
    angle: float
    alpha: float
    width: float

    def record(self) -> dict:
        return {f"rain_{k}" if not k.startswith("rain") else k: v for k, v in asdict(self).items()}


@dataclass(frozen=True)
class MotionParams:
    length: float
    angle: float

    def record(self) -> dict:
        return {"motion_length": self.length, "motion_angle": self.angle}


def line_kernel(length: float, angle_deg: float, direction: str = "vertical") -> np.ndarray:
    """Anti-aliased line of ``length`` pixels through the centre of an odd square kernel, weight ~1 per pixel.
    ``angle_deg`` is measured from the vertical (``direction='vertical'``) or the horizontal axis."""
    size = int(math.ceil(length)) | 1  # odd; the array has one spare pixel each side for the splats
    c = size // 2
    theta = math.radians(angle_deg)
    dy, dx = (math.cos(theta), math.sin(theta)) if direction == "vertical" else (math.sin(theta), math.cos(theta))
    k = np.zeros((size + 2, size + 2), dtype=np.float64)
    steps = max(2, int(math.ceil(length)) * 4)
    for t in np.linspace(-(length - 1) / 2.0, (length - 1) / 2.0, steps):
        y, x = c + 1 + t * dy, c + 1 + t * dx
        y0, x0 = int(math.floor(y)), int(math.floor(x))
        fy, fx = y - y0, x - x0
        for yy, xx, w in ((y0, x0, (1 - fy) * (1 - fx)), (y0 + 1, x0, fy * (1 - fx)),
                          (y0, x0 + 1, (1 - fy) * fx), (y0 + 1, x0 + 1, fy * fx)):
            k[yy, xx] += w
    return k * (max(length, 1.0) / k.sum())


def draw_rain(rng: np.random.Generator, rain_class: str | None = None) -> RainParams:
    """Class uniformly from ``RAIN_CLASSES`` (unless given), then its values uniformly in their ranges."""
    names = list(RAIN_CLASSES)
    cls = rain_class if rain_class is not None else names[int(rng.integers(len(names)))]
    (d0, d1), (l0, l1), (a0, a1), (w0, w1) = RAIN_CLASSES[cls]
    return RainParams(cls, float(rng.uniform(d0, d1)), float(rng.uniform(l0, l1)),
                      float(rng.uniform(*ANGLE_RANGE)), float(rng.uniform(a0, a1)), float(rng.uniform(w0, w1)))


def rain_layer(shape: tuple[int, int], p: RainParams, rng: np.random.Generator) -> np.ndarray:
    """Streak layer S (float32 H x W, values >= 0) for ``p``."""
    h, w = shape
    seeds = (rng.random((h, w)) < p.density) * rng.uniform(0.5, 1.0, size=(h, w))
    s = signal.fftconvolve(seeds, line_kernel(p.length, p.angle)[::-1, ::-1], mode="same")  # = correlation
    s = ndimage.gaussian_filter(s, p.width, mode="constant")
    return np.clip(s, 0.0, 1.0).astype(np.float32)


def add_rain(img: np.ndarray, p: RainParams, rng: np.random.Generator) -> np.ndarray:
    """O = clip(B + alpha S, 0, 1) on a float H x W x 3 image in [0, 1]."""
    s = rain_layer(img.shape[:2], p, rng)
    return np.clip(img + p.alpha * s[..., None], 0.0, 1.0).astype(np.float32)


def draw_motion(rng: np.random.Generator, length: tuple = MOTION_LENGTH) -> MotionParams:
    """A motion blur: a length uniform in ``length`` (pixels; ``synthesis.motion_length``), an angle in [0, 180)."""
    return MotionParams(float(rng.uniform(*length)), float(rng.uniform(*MOTION_ANGLE)))


def motion_blur(img: np.ndarray, p: MotionParams) -> np.ndarray:
    """Linear motion blur (normalised line kernel, replicate border) of a float H x W x 3 image."""
    k = line_kernel(p.length, p.angle, direction="horizontal")
    k = (k / k.sum()).astype(np.float32)
    r = k.shape[0] // 2
    x = np.pad(np.asarray(img, dtype=np.float32), ((r, r), (r, r), (0, 0)), mode="edge")  # replicate border
    return signal.fftconvolve(x, k[::-1, ::-1, None], mode="valid", axes=(0, 1)).astype(np.float32)
