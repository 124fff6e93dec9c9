"""The drawn distortion values follow the protocol's distributions, not just its bounds.

The protocol's numbers are written here (RL-Restore's ``generate_train.m``, paper §4.1, and the documented
rain / motion model of :mod:`fdr.data.rain_motion`), not imported from the code under test. Every test uses
a fixed seed, so a pass or failure is reproducible. ``ALPHA`` is small because the file runs ~45 tests (a
correct sampler then fails one with probability ~5e-4 if the seeds or the order of draws change), while
the realistic bugs these tests are for give p-values far below it (a KS distance of ~0.5 or more on 20,000
draws, where ALPHA allows ~0.02).
"""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from fdr.config import SynthConfig
from fdr.data import rain_motion
from fdr.data.degrade import draw_params
from fdr.data.rain_motion import MotionParams

ALPHA = 1e-5
N_DRAWS = 20_000

# ---------------------------------------------------------------------------------------- the protocol
N_LEVELS = 10
BLUR_STEP = 0.5  # level i: sigma ~ U[0.5 (i-1), 0.5 i]
NOISE_STEP = 5.0  # level i: sigma ~ U[5 (i-1), 5 i] on the 0-255 scale
JPEG_Q = [100, 80, 60, 50, 40, 35, 30, 25, 20, 15, 10]  # q(1..11); level i draws between q(i) and q(i+1)
SEVERITY = {"mild": (9, 11), "moderate": (12, 17), "severe": (18, 20)}  # k + m + n - 2
N_TRIPLES = {"mild": 163, "moderate": 434, "severe": 163}

RAIN = {  # class: density, streak length (px), alpha, width sigma (px)
    "light": ((0.0010, 0.0020), (10.0, 20.0), (0.5, 0.7), (0.4, 0.8)),
    "medium": ((0.0020, 0.0040), (15.0, 30.0), (0.6, 0.8), (0.5, 0.9)),
    "heavy": ((0.0040, 0.0080), (20.0, 40.0), (0.7, 0.9), (0.6, 1.0)),
}
RAIN_ANGLE = (-25.0, 25.0)  # degrees from vertical
MOTION_LENGTH = (5.0, 21.0)  # pixels
MOTION_ANGLE = (0.0, 180.0)  # degrees


def protocol_ranges(triple) -> dict[str, tuple[float, float]]:
    k, m, n = triple
    return {"blur_sigma": (BLUR_STEP * (k - 1), BLUR_STEP * k),
            "noise_sigma": (NOISE_STEP * (m - 1), NOISE_STEP * m),
            "jpeg_quality_drawn": (JPEG_Q[n], JPEG_Q[n - 1])}  # q(n+1) < q(n)


def protocol_triples(level: str) -> list[tuple[int, int, int]]:
    lo, hi = SEVERITY[level]
    return [t for t in itertools.product(range(1, N_LEVELS + 1), repeat=3) if lo <= sum(t) - 2 <= hi]


def assert_uniform(x, lo: float, hi: float, what: str) -> None:
    x = np.asarray(x, dtype=np.float64)
    assert x.min() >= lo and x.max() <= hi, f"{what}: values outside [{lo}, {hi}]: {x.min()} .. {x.max()}"
    res = stats.kstest(x, "uniform", args=(lo, hi - lo))
    assert res.pvalue > ALPHA, f"{what}: not U[{lo}, {hi}] (KS D={res.statistic:.4f}, p={res.pvalue:.2e})"


def draws(level_or_triple, seed: int, n: int = N_DRAWS) -> list:
    rng, cfg = np.random.default_rng(seed), SynthConfig()
    return [draw_params(level_or_triple, rng, cfg) for _ in range(n)]


# ------------------------------------------------------------------------------------- hybrid triples
@pytest.mark.parametrize("triple", [(1, 1, 1), (3, 7, 5), (10, 10, 10), (6, 2, 9)])
def test_values_are_uniform_over_the_triples_ranges(triple):
    ps = draws(triple, seed=sum(v * 100 ** i for i, v in enumerate(triple)))
    assert all(p.triple == triple for p in ps)
    for key, (lo, hi) in protocol_ranges(triple).items():
        assert_uniform([getattr(p, key) for p in ps], lo, hi, f"{key} of {triple}")
    assert all(p.jpeg_quality == math.floor(p.jpeg_quality_drawn + 0.5) for p in ps)


@pytest.mark.parametrize("level", list(SEVERITY))
def test_triples_are_uniform_over_the_level(level):
    triples = protocol_triples(level)
    assert len(triples) == N_TRIPLES[level]
    ps = draws(level, seed=len(level))
    index = {t: i for i, t in enumerate(triples)}
    drawn = [p.triple for p in ps]
    assert set(drawn) <= set(index), f"{level}: triples outside the level: {set(drawn) - set(index)}"
    counts = np.bincount([index[t] for t in drawn], minlength=len(triples))
    res = stats.chisquare(counts)
    assert res.pvalue > ALPHA, f"{level}: triple not uniform over its {len(triples)} triples " \
                               f"(chi2={res.statistic:.1f}, p={res.pvalue:.2e}, min/max count {counts.min()}/{counts.max()})"
    # within each drawn triple, the values' positions in their ranges are U[0, 1] (pooled over the level)
    for key in ("blur_sigma", "noise_sigma", "jpeg_quality_drawn"):
        pos = []
        for p in ps:
            lo, hi = protocol_ranges(p.triple)[key]
            pos.append((getattr(p, key) - lo) / (hi - lo))
        assert_uniform(np.clip(pos, 0.0, 1.0), 0.0, 1.0, f"{key} position within its range, level {level}")


# ------------------------------------------------------------------------------------------------ rain
def test_rain_class_and_values_are_uniform():
    rng = np.random.default_rng(7)
    ps = [rain_motion.draw_rain(rng) for _ in range(N_DRAWS)]
    names = list(RAIN)
    counts = np.array([sum(p.rain_class == c for p in ps) for c in names])
    assert counts.sum() == len(ps), "rain classes outside light / medium / heavy"
    res = stats.chisquare(counts)
    assert res.pvalue > ALPHA, f"rain class not uniform: {dict(zip(names, counts))} (p={res.pvalue:.2e})"
    for c in names:
        sel = [p for p in ps if p.rain_class == c]
        for key, (lo, hi) in zip(("density", "length", "alpha", "width"), RAIN[c]):
            assert_uniform([getattr(p, key) for p in sel], lo, hi, f"rain {c} {key}")
        assert_uniform([p.angle for p in sel], *RAIN_ANGLE, f"rain {c} angle")


def test_rain_given_class_draws_that_class():
    rng = np.random.default_rng(8)
    ps = [rain_motion.draw_rain(rng, "heavy") for _ in range(5000)]
    assert {p.rain_class for p in ps} == {"heavy"}
    assert_uniform([p.density for p in ps], *RAIN["heavy"][0], "heavy density (class given)")


# ---------------------------------------------------------------------------------------------- motion
def test_motion_draws_are_uniform():
    rng = np.random.default_rng(9)
    ps = [rain_motion.draw_motion(rng) for _ in range(N_DRAWS)]
    assert_uniform([p.length for p in ps], *MOTION_LENGTH, "motion length")
    assert_uniform([p.angle for p in ps], *MOTION_ANGLE, "motion angle")


def smear_axis(intensity: np.ndarray) -> tuple[float, float, float]:
    """Principal axis of an intensity blob from its second moments: (angle in degrees in [0, 180) from the
    +x (column) axis towards +y (row, i.e. down the image), variance along it, variance across it)."""
    w = intensity / intensity.sum()
    y, x = np.mgrid[: w.shape[0], : w.shape[1]].astype(np.float64)
    cx, cy = (w * x).sum(), (w * y).sum()
    mxx, myy, mxy = (w * (x - cx) ** 2).sum(), (w * (y - cy) ** 2).sum(), (w * (x - cx) * (y - cy)).sum()
    angle = 0.5 * math.degrees(math.atan2(2 * mxy, mxx - myy)) % 180.0
    spread = math.hypot(mxx - myy, 2 * mxy) / 2
    return angle, (mxx + myy) / 2 + spread, (mxx + myy) / 2 - spread


@pytest.mark.parametrize("angle", [0.0, 30.0, 60.0, 90.0, 135.0, 170.0])
def test_motion_blur_smears_along_its_angle(angle):
    """``MotionParams.angle`` is measured from the horizontal axis (``line_kernel(..., direction='horizontal')``:
    step (dx, dy) = (cos a, sin a) in (column, row)); a dot becomes a line of ``length`` pixels along it."""
    img = np.zeros((61, 61, 3), np.float32)
    img[30, 30] = 1.0
    out = rain_motion.motion_blur(img, MotionParams(length=15.0, angle=angle))
    assert out.shape == img.shape
    assert np.allclose(out.sum(axis=(0, 1)), 1.0, atol=1e-4)  # normalised kernel, dot far from the border
    got, along, across = smear_axis(out[..., 0].astype(np.float64))
    diff = abs((got - angle + 90.0) % 180.0 - 90.0)
    assert diff < 2.0, f"motion blur at {angle} deg smears along {got:.1f} deg (from the horizontal axis)"
    assert along > 10 * across, f"not a line: variances {along:.2f} along, {across:.2f} across"
    assert abs(math.sqrt(12 * along) - 15.0) < 1.5, f"smear length {math.sqrt(12 * along):.2f}, expected ~15"
