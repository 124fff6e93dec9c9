"""The synthesis' Gaussian sampler (fdr.data.gaussian) and the blur's exact 8-bit path."""
import numpy as np
import pytest
from scipy import stats

from fdr.config import SynthConfig
from fdr.data import degrade, gaussian
from fdr.data.imageio import quantize

N = 2_000_000


@pytest.fixture(scope="module")
def z():
    return gaussian.fill_normal((N,), 20240611)


def test_standard_normal_moments_and_ks(z):
    assert abs(float(z.mean())) < 5 / np.sqrt(N)
    assert abs(float(z.std()) - 1) < 5 / np.sqrt(2 * N)
    assert abs(stats.skew(z)) < 0.01 and abs(stats.kurtosis(z)) < 0.02
    assert stats.kstest(z, "norm").pvalue > 1e-3


def test_bin_probabilities_chi_square(z):
    edges = stats.norm.ppf(np.linspace(0, 1, 101))  # 100 equiprobable bins
    counts = np.histogram(z, bins=edges)[0]
    assert stats.chisquare(counts).pvalue > 1e-3


def test_tails_are_drawn_not_truncated():
    z = gaussian.fill_normal((8_000_001,), 7)
    beyond = np.abs(z) > gaussian.TAIL
    expected = 2 * z.size / gaussian.BINS  # the two outer bins
    assert abs(int(beyond.sum()) - expected) < 5 * np.sqrt(expected)
    assert (z > gaussian.TAIL).sum() > 0 and (z < -gaussian.TAIL).sum() > 0
    assert np.abs(z).max() > gaussian.TAIL + 0.3  # the tail sampler goes past the last bin edge
    assert abs(float(np.mean(np.abs(z[beyond]))) - 4.38) < 0.1  # E[|z| | |z| > 4.17] = 4.38


def test_same_seed_same_values_and_prefixes_agree():
    a = gaussian.fill_normal((3, 5, 4099), 11)
    assert np.array_equal(a, gaussian.fill_normal((3, 5, 4099), 11))
    assert not np.array_equal(a, gaussian.fill_normal((3, 5, 4099), 12))
    flat = a.reshape(-1)
    for n in (1, 2, 4095, 4096, 4097, 8193):  # odd and even sizes around the block boundary
        assert np.array_equal(gaussian.fill_normal((n,), 11), flat[:n])


def test_mean_std_and_out():
    base = gaussian.fill_normal((1000,), 3)
    np.testing.assert_allclose(gaussian.fill_normal((1000,), 3, 128.0, 20.0), 128.0 + 20.0 * base, rtol=0, atol=1e-4)
    buf = np.empty((10, 100), np.float32)
    assert gaussian.fill_normal(None, 3, out=buf) is buf and np.array_equal(buf.reshape(-1), base)
    with pytest.raises(ValueError, match="float32"):
        gaussian.fill_normal(None, 3, out=np.empty(10, np.float64))
    with pytest.raises(ValueError, match="seed"):
        gaussian.fill_normal((3,), -1)


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
