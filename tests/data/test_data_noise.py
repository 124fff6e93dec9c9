"""The synthesis' noise field and the blur's exact 8-bit path (fdr.data.degrade)."""
import numpy as np
from scipy import stats

from fdr.config import SynthConfig
from fdr.data import degrade
from fdr.data.imageio import quantize


def test_noise_field_is_gaussian_with_the_drawn_sigma_and_seeded():
    z = degrade.noise_field((1_000_000,), 7.5, np.random.default_rng(5))
    assert z.dtype == np.float32 and stats.kstest(z / 7.5, "norm").pvalue > 1e-5
    assert abs(float(z.std()) - 7.5) < 0.05
    assert np.array_equal(z, degrade.noise_field((1_000_000,), 7.5, np.random.default_rng(5)))
    assert not np.array_equal(z[:10], degrade.noise_field((10,), 7.5, np.random.default_rng(6)))


def test_noise_field_is_the_one_the_synthesis_adds():
    """blur_noise_u8 adds exactly apply_noise's field (same generator state), up to float rounding."""
    img = np.random.default_rng(0).random((40, 50, 3), dtype=np.float32)
    p = degrade.DistortionParams(0.0, 30.0, 90, (1, 7, 2))
    fused = degrade.blur_noise_u8(degrade.to_planar(img), p, np.random.default_rng(4), SynthConfig())
    by_hand = quantize(degrade.apply_noise(img, 30.0, np.random.default_rng(4)))
    assert (fused.astype(int) - by_hand).__abs__().max() <= 1 and (fused == by_hand).mean() > 0.999


def test_uint8_planes_blur_like_their_float_values():
    u8 = np.random.default_rng(1).integers(0, 256, (3, 70, 90), dtype=np.uint8)
    for sigma in (0.0, 0.7, 3.3):
        a = degrade.blur_planar(u8, sigma, 21, gain=255.0)
        b = degrade.blur_planar(u8.astype(np.float32) / 255, sigma, 21, gain=255.0)
        assert np.abs(a - b).max() < 1e-3


def test_kernel_drops_only_taps_below_float32_resolution():
    for sigma in (0.2, 0.9, 1.6, 2.5, 5.0):
        x = np.arange(-10, 11, dtype=np.float64)
        full = np.exp(-x * x / (2 * sigma * sigma))
        full /= full.sum()
        g = degrade.gaussian_kernel1d(sigma, 21)
        assert np.abs(g - full).max() < 1e-7 and abs(g.sum() - 1) < 1e-12
        assert (g[g > 0] >= np.finfo(np.float32).eps * g.max()).all()
    assert np.count_nonzero(degrade.gaussian_kernel1d(0.5, 21)) == 5  # |x| <= 2 = 4 sigma
    assert np.count_nonzero(degrade.gaussian_kernel1d(2.5, 21)) == 21
