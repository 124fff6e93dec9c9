"""Distortion draws: one per crop window (``synthesis.draws: patch``) reproduces the whole image's distortion
at that window, and the embedded default has enough independent draws in every set."""
import numpy as np
import pandas as pd
import pytest

from fdr import config
from fdr.config import SynthConfig
from fdr.data import degrade
from fdr.data.patches import grid
from fdr.data.sources import prepare_raw
from fdr.data.synthesize import distort_window, synthesize


@pytest.mark.parametrize("quality", [90, 23])
def test_a_window_is_distorted_as_the_whole_image_would_be(quality):
    """No noise (sigma 0), so the two paths must agree exactly: the blur sees the same neighbours (the image's
    replicate border at its edges) and the JPEG blocks covering the patch are the whole image's."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:150, 0:217]
    img = np.stack([np.sin(xx / 7.0) * 0.4 + 0.5, np.cos(yy / 5.0) * 0.3 + 0.5, (xx + yy) % 64 / 64.0])
    img = np.clip(img + rng.random(img.shape) * 0.1, 0, 1).astype(np.float32)  # C x H x W
    syn = SynthConfig()
    p = degrade.DistortionParams(1.7, 0.0, quality, (4, 1, 5))
    whole = degrade.distort_planar(img, p, np.random.default_rng(1), syn)
    for y, x in zip(*grid(150, 217, 63, 56)):  # corners, edges and the interior
        window = distort_window(img, int(y), int(x), 63, p, np.random.default_rng(1), syn)
        assert np.array_equal(window, whole[y:y + 63, x:x + 63]), (y, x)


@pytest.fixture(scope="module")
def embedded_synth(tmp_path_factory):
    """The committed embedded default's synthesis (DID-HY and the single tracks at 64 px: their draw counts do
    not depend on the size)."""
    cfg = config.load("params.yaml", overrides={"data.root": str(tmp_path_factory.mktemp("draws") / "data"),
                                                "synthesis.didhy_size": 64})
    prepare_raw(cfg, progress=False, log=lambda m: None)
    synthesize(cfg, progress=False, log=lambda m: None)
    synth = cfg.data.root + "/synth"
    return cfg, {name: pd.read_csv(f"{synth}/{name}/manifest.csv") for name in
                 ("train", "test_mild", "test_moderate", "test_severe", "didhy_test", "deblur_test", "derain_test")}


def test_embedded_default_has_enough_independent_draws(embedded_synth):
    cfg, sets = embedded_synth
    train = sets["train"]
    assert len(train) >= 1000  # one manifest row per draw
    triples = set(zip(train.k, train.m, train.n))
    assert len(triples) >= 300 and all(12 <= k + m + n - 2 <= 17 for k, m, n in triples)  # spread over moderate
    for level in ("mild", "moderate", "severe"):
        assert len(sets[f"test_{level}"]) >= 300
    assert all(len(sets[f"{t}_test"]) >= 50 for t in ("didhy", "deblur", "derain"))
    assert sets["didhy_test"].rain_density.nunique() >= 50 and sets["deblur_test"].motion_angle.nunique() >= 50


def test_drawn_values_lie_in_their_triples_ranges(embedded_synth):
    """Ranges written from the protocol (RL-Restore's generator), not read from the code."""
    _, sets = embedded_synth
    q = [100, 80, 60, 50, 40, 35, 30, 25, 20, 15, 10]
    for name in ("train", "test_mild", "test_severe", "didhy_test"):
        m = sets[name]
        assert ((m.blur_sigma >= 0.5 * (m.k - 1)) & (m.blur_sigma <= 0.5 * m.k)).all(), name
        assert ((m.noise_sigma >= 5 * (m.m - 1)) & (m.noise_sigma <= 5 * m.m)).all(), name
        lo, hi = np.array(q)[m.n], np.array(q)[m.n - 1]
        assert ((m.jpeg_quality_drawn >= lo) & (m.jpeg_quality_drawn <= hi)).all(), name
