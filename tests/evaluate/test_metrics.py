"""Golden tests for the OWAN metrics and the labelled Y-channel/uint8 variant (fdr.evaluate.metrics)."""
import math

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from fdr.evaluate import metrics


def fixed_pair():
    """A deterministic 20x24 RGB pair with two values outside [0, 1] (exercises the clipping)."""
    y, x = np.mgrid[0:20, 0:24].astype(np.float64)
    c = np.arange(3.0)
    gt = 0.5 + 0.45 * np.sin(0.3 * x[..., None] + 0.2 * y[..., None] + c)
    out = gt + 0.08 * np.cos(0.05 * x[..., None] * y[..., None] + 2 * c) + 0.02
    out[0, 0, 0] = 1.3
    out[5, 7, 1] = -0.2
    return out, gt


def ssim_by_formula(a, b, weights, sample_cov, data_range):
    """Wang et al.'s SSIM over every valid window position, written out independently of scikit-image."""
    k, n = weights.shape[0], weights.size
    wa, wb = sliding_window_view(a, (k, k)), sliding_window_view(b, (k, k))
    mu_a, mu_b = (wa * weights).sum((-1, -2)), (wb * weights).sum((-1, -2))
    va = (wa**2 * weights).sum((-1, -2)) - mu_a**2
    vb = (wb**2 * weights).sum((-1, -2)) - mu_b**2
    cab = (wa * wb * weights).sum((-1, -2)) - mu_a * mu_b
    if sample_cov:
        va, vb, cab = (v * n / (n - 1) for v in (va, vb, cab))
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    s = ((2 * mu_a * mu_b + c1) * (2 * cab + c2)) / ((mu_a**2 + mu_b**2 + c1) * (va + vb + c2))
    return s.mean()


def luma(img):
    return (np.round(np.clip(img, 0, 1) * 255) / 255) @ np.array([65.481, 128.553, 24.966]) + 16


def test_psnr_by_hand():
    gt = np.full((8, 8, 3), 0.25)
    assert metrics.psnr(gt + 0.1, gt) == pytest.approx(10 * math.log10(1 / (0.01 + 1e-10)), abs=1e-9)
    # values above 1 are clipped before comparing: a perfect match after clipping gives 10 log10(1e10) = 100
    assert metrics.psnr(np.full((8, 8, 3), 1.5), np.ones((8, 8, 3))) == pytest.approx(100.0, abs=1e-9)


def test_psnr_y_by_hand():
    gt = np.full((16, 16, 3), 0.5)  # 127.5 rounds (half to even) to 128
    out = gt + 10 / 255  # 137.5 -> 138: every channel is 10 levels higher
    diff = 10 / 255 * (65.481 + 128.553 + 24.966)
    assert metrics.psnr_y(out, gt) == pytest.approx(10 * math.log10(255**2 / diff**2), abs=1e-9)
    assert metrics.psnr_y(gt, gt) == math.inf


def test_golden_values_match_independent_formulas():
    out, gt = fixed_pair()
    o, g = np.clip(out, 0, 1), np.clip(gt, 0, 1)
    uniform = np.full((7, 7), 1 / 49)
    t = np.arange(11) - 5
    g1 = np.exp(-(t**2) / (2 * 1.5**2))
    g1 /= g1.sum()
    expected = {
        "psnr": 10 * math.log10(1 / (np.mean((o - g) ** 2) + 1e-10)),
        "ssim": np.mean([ssim_by_formula(o[..., i], g[..., i], uniform, True, 1.0) for i in range(3)]),
        "psnr_y": 10 * math.log10(255**2 / np.mean((luma(out) - luma(gt)) ** 2)),
        "ssim_y": ssim_by_formula(luma(out), luma(gt), np.outer(g1, g1), False, 255.0),
    }
    pinned = {"psnr": 24.526717031057515, "ssim": 0.9542373101372169,
              "psnr_y": 32.46959961873999, "ssim_y": 0.9774095545559784}
    for name, fn in metrics.METRICS.items():
        value = fn(out, gt)
        assert value == pytest.approx(expected[name], abs=1e-10), name
        assert value == pytest.approx(pinned[name], abs=1e-10), name


def test_no_rounding_in_owan_metrics():
    gt = np.full((16, 16, 3), 0.5)
    out = gt + 0.001  # below half an 8-bit level: invisible to the uint8 variant, not to OWAN's PSNR
    assert metrics.psnr(out, gt) == pytest.approx(10 * math.log10(1 / (1e-6 + 1e-10)), abs=1e-6)
    assert metrics.psnr_y(out, gt) == math.inf


def test_evaluate_arrays_averages_per_image():
    out, gt = fixed_pair()
    res = metrics.evaluate_arrays([out, gt], [gt, gt])
    assert res["patches"] == 2
    assert res["psnr"] == pytest.approx((metrics.psnr(out, gt) + 100.0) / 2)
    assert res["ssim"] == pytest.approx((metrics.ssim(out, gt) + 1.0) / 2)


def test_shape_mismatch_is_reported():
    with pytest.raises(ValueError, match="H x W x 3"):
        metrics.psnr(np.zeros((8, 8, 3)), np.zeros((8, 9, 3)))
    with pytest.raises(ValueError, match="no images"):
        metrics.evaluate_arrays([], [])


def test_patch_set_evaluation_reads_batches_and_matches_per_patch_metrics(tmp_path):
    from torch import nn

    from fdr.evaluate.patches import evaluate_identity, evaluate_model, subset_indices
    from tests.helpers import make_patch_set

    folder = make_patch_set(tmp_path / "set", n=10, patch=16)
    inp = np.load(folder / "input.npy").astype(np.float32) / 255
    tgt = np.load(folder / "target.npy").astype(np.float32) / 255
    expected = metrics.evaluate_arrays(list(inp), list(tgt))
    assert evaluate_identity(folder, batch_size=3) == pytest.approx(expected)
    assert evaluate_model(nn.Identity(), folder, batch_size=4) == pytest.approx(expected)
    sub = subset_indices(10, 4)
    assert list(sub) == [0, 3, 6, 9]  # evenly spaced, not a prefix
    assert evaluate_identity(folder, max_patches=4) == pytest.approx(
        metrics.evaluate_arrays(list(inp[sub]), list(tgt[sub])))
    np.save(tmp_path / "set" / "target.npy", np.zeros((10, 16, 16, 3), np.float32))
    with pytest.raises(ValueError, match="target.npy: expected a uint8"):
        evaluate_identity(folder)


# ------------------------------------------------------------------ Tables 3-4: SRN's and SPANet's conventions


def matlab_ssim_volume(a, b):
    """MATLAB ssim.m on an H x W x 3 array, restated from its algorithm: the full 11 x 11 x 11 Gaussian kernel
    (taps below eps * max zeroed, normalised), replicate padding on all three axes, population statistics,
    L = 255, mean of the full-size map."""
    r = 5
    z, y, x = np.mgrid[-r:r + 1, -r:r + 1, -r:r + 1].astype(np.float64)
    k = np.exp(-(x**2 + y**2 + z**2) / (2 * 1.5**2))
    k[k < np.finfo(np.float64).eps * k.max()] = 0
    k /= k.sum()

    def filt(v):
        windows = sliding_window_view(np.pad(v, r, mode="edge"), (11, 11, 11))
        return (windows * k).sum((-1, -2, -3))

    mu_a, mu_b = filt(a), filt(b)
    va, vb, cab = filt(a * a) - mu_a**2, filt(b * b) - mu_b**2, filt(a * b) - mu_a * mu_b
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    return (((2 * mu_a * mu_b + c1) * (2 * cab + c2)) / ((mu_a**2 + mu_b**2 + c1) * (va + vb + c2))).mean()


def test_srn_convention_matches_matlab_restated_on_truncated_uint8():
    out, gt = fixed_pair()
    gt8 = np.round(np.clip(gt, 0, 1) * 255) / 255  # an 8-bit target, as GoPro's
    a = np.floor(np.clip(out, 0, 1) * 255)  # SRN's im2uint8: truncation, not rounding
    b = np.round(gt8 * 255)
    assert metrics.psnr_srn(out, gt8) == pytest.approx(10 * math.log10(255**2 / np.mean((a - b) ** 2)), abs=1e-10)
    assert metrics.ssim_srn(out, gt8) == pytest.approx(matlab_ssim_volume(a, b), abs=1e-12)
    # the colour planes are one volume: per-plane 2-D SSIM gives another number
    per_plane = np.mean([ssim_by_formula(a[..., i], b[..., i], np.full((7, 7), 1 / 49), True, 255.0)
                         for i in range(3)])
    assert abs(metrics.ssim_srn(out, gt8) - per_plane) > 1e-3
    assert metrics.psnr_srn(gt8, gt8) == math.inf and metrics.ssim_srn(gt8, gt8) == pytest.approx(1.0)


def test_srn_truncates_the_output_like_its_im2uint8():
    gt = np.full((12, 12, 3), 100 / 255)
    out = gt + 0.9 / 255  # 100.9 -> 100 when truncated (rounding would give 101)
    assert metrics.psnr_srn(out, gt) == math.inf


def test_spanet_convention_is_owan_ssim_with_skimage_float_range_two():
    out, gt = fixed_pair()
    o = np.clip(out, 0, 1).astype(np.float32).astype(np.float64)
    g = np.clip(gt, 0, 1).astype(np.float32).astype(np.float64)
    uniform = np.full((7, 7), 1 / 49)
    expected = np.mean([ssim_by_formula(o[..., i], g[..., i], uniform, True, 2.0) for i in range(3)])
    assert metrics.ssim_spanet(out, gt) == pytest.approx(expected, abs=1e-10)
    assert metrics.ssim_spanet(out, gt) > metrics.ssim(out, gt)  # C1, C2 four times OWAN's: higher
    assert metrics.psnr_spanet(out, gt) == pytest.approx(10 * math.log10(1 / np.mean((o - g) ** 2)), abs=1e-10)
    assert metrics.psnr_spanet(gt, gt) == math.inf  # no 1e-10: identical images are infinite


def test_each_cited_convention_scores_its_table_track_only():
    assert set(metrics.track_metrics("deblur")) == {"psnr_srn", "ssim_srn"}
    assert set(metrics.track_metrics("derain")) == {"psnr_spanet", "ssim_spanet"}
    assert metrics.track_metrics("didhy") == {} and metrics.track_metrics("moderate") == {}
    out, gt = fixed_pair()
    acc = metrics.MetricAccumulator(metrics.track_metrics("deblur"))
    acc.add(out, gt)
    res = acc.result()
    assert list(res) == ["psnr", "ssim", "psnr_y", "ssim_y", "psnr_srn", "ssim_srn", "patches"]
    assert res["ssim_srn"] == metrics.ssim_srn(out, gt) and res["psnr"] == metrics.psnr(out, gt)
    assert list(metrics.evaluate_arrays([out], [gt])) == ["psnr", "ssim", "psnr_y", "ssim_y", "patches"]
