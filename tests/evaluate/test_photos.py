"""Photos the model never saw (fdr.evaluate.photos, fdr.evaluate.heldout, stages.evaluate_photos): the colour shift,
the Gaussian baseline, the held-out set in other palettes, and the stage's rows."""
import json

import numpy as np
import pytest
import yaml
from PIL import Image

from fdr import config
from fdr.data.sources import prepare_raw
from fdr.evaluate import heldout, photos
from fdr.evaluate.metrics import psnr
from stages.evaluate_photos import main as stage
from tests.helpers import TINY_MODEL, tiny_checkpoint


def test_colour_shift_is_the_mean_difference_per_channel_after_clipping():
    clean = np.full((8, 8, 3), 0.5)
    out = clean + np.array([0.04, 0.0, -0.02])
    np.testing.assert_allclose(photos.colour_shift(out, clean), [0.04, 0.0, -0.02], atol=1e-12)
    bright = np.full((4, 4, 3), 0.99)
    np.testing.assert_allclose(photos.colour_shift(bright + 0.5, bright), [0.01] * 3, atol=1e-12)  # clipped at 1


def test_the_gaussian_baseline_takes_the_sigma_with_the_best_mean_psnr():
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:48, 0:48] / 48.0
    clean = np.stack([0.5 + 0.3 * np.sin(6 * xx), 0.5 + 0.3 * np.cos(5 * yy), 0.5 + 0.2 * np.sin(4 * (xx + yy))], -1)
    noisy = [(np.clip(clean + rng.normal(0, 0.08, clean.shape), 0, 1), clean) for _ in range(2)]
    best = photos.choose_sigma(noisy)
    brute = {s: np.mean([psnr(photos.gaussian(d, s), c) for d, c in noisy]) for s in photos.SIGMAS}
    assert best == max(brute, key=brute.get) and best > 0
    assert photos.choose_sigma([(clean, clean)]) == 0.0  # nothing to remove: the identity wins


def _workspace(tmp_path):
    """Three folder photos (two train, one test), the held-out test in two palettes, a tiny trained-like model."""
    clean = tmp_path / "photos"
    clean.mkdir()
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:72, 0:88]
    for name in ("a", "b", "t"):
        base = np.stack([120 + 60 * np.sin(xx / (5 + rng.integers(5))), 90 + 50 * np.cos(yy / 7),
                         60 + 40 * np.sin((xx + yy) / 9)], -1)
        Image.fromarray(np.clip(base, 0, 255).astype(np.uint8)).save(clean / f"{name}.png")
    for empty in ("pin", "ptg"):
        (tmp_path / empty).mkdir()
    pairs = {"input": str(tmp_path / "pin"), "target": str(tmp_path / "ptg")}
    tree = {"data": {"root": str(tmp_path / "data"), "source": "folder",
                     "folder": {"clean": str(clean), "pairs": pairs, "test_files": ["t.png"]}},
            "synthesis": {"test_levels": ["moderate"]}, "model": dict(TINY_MODEL), "train": {"device": "cpu"},
            "runs": {"fdrnet": {"paper": "table1.fdrnet"}},
            "evaluate": {"photos": {"runs": ["fdrnet"], "palettes": [{"order": "RGB"}, {"order": "GRB"}]}}}
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(tree))
    cfg = config.load(params)
    prepare_raw(cfg, progress=False, log=lambda m: None)
    tiny_checkpoint(tmp_path / "models" / "fdrnet" / "checkpoint.pt")
    return cfg, params


def test_the_held_out_set_is_the_test_photos_in_each_palette_and_the_baseline_learns_on_training_photos(tmp_path):
    cfg, _ = _workspace(tmp_path)
    test = heldout.heldout(cfg)["moderate"]
    assert [label for label, _, _ in test] == ["t/RGB", "t/GRB"]
    own, swapped = test[0][2], test[1][2]
    np.testing.assert_array_equal(swapped, own[..., [1, 0, 2]])  # GRB: red and green exchanged
    assert not np.array_equal(test[0][1], test[1][1])  # each its own draw
    train = heldout.heldout(cfg, "train")["moderate"]
    assert sorted(label for label, _, _ in train) == ["a/RGB", "b/RGB"]
    pairs = photos.as_float_pairs([(d, c) for _, d, c in train])
    assert heldout.gaussian_sigmas(cfg) == {"moderate": photos.choose_sigma(pairs)}


def test_the_stage_writes_every_row_and_the_input_row_is_the_distorted_photo(tmp_path, monkeypatch):
    cfg, params = _workspace(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert stage(["fdrnet", "input", "gaussian", "--params", str(params), "--no-progress"]) == 0
    rows = {r: json.loads((tmp_path / "reports" / "per_photo" / f"{r}.json").read_text())
            for r in ("fdrnet", "input", "gaussian")}
    assert all(r["images"] == ["t/RGB", "t/GRB"] for r in rows.values())
    test = heldout.heldout(cfg)["moderate"]
    want = [psnr(d / 255.0, c / 255.0) for _, d, c in test]
    np.testing.assert_allclose(rows["input"]["moderate"]["psnr"], want, rtol=1e-6)  # float32 images
    assert rows["fdrnet"]["tile"] == 0  # a checkpoint without its training window: restored whole
    assert set(rows["gaussian"]["sigma"]) == {"moderate"}
    metrics = json.loads((tmp_path / "reports" / "metrics" / "photos" / "input.json").read_text())
    assert metrics["moderate"]["images"] == 2 and metrics["moderate"]["psnr"] == pytest.approx(np.mean(want))
    assert stage(["nothing", "--params", str(params), "--no-progress"]) == 2
