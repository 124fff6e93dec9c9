"""Interpretative analysis (§4.5, Fig. 6-8) on small fake models and data."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from fdr.analysis import correlation, curves, grids, responses
from fdr.analysis.run import analyze, probe_runs
from fdr.config import SynthConfig, from_dict
from tests.helpers import RUNS


class TinyFDR(nn.Module):
    """Stand-in with the FDR-Net feature interface: feats["fdm_in"/"fdm_out"] per phase."""

    def __init__(self, channels: int = 4, phases: int = 2, seed: int = 0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.head = nn.Conv2d(3, channels, 3, padding=1)
        self.fd = nn.ModuleList(nn.Conv2d(channels, channels, 1) for _ in range(phases))
        self.tail = nn.Conv2d(channels, 3, 3, padding=1)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=g) * 0.3)

    def forward(self, x, return_features=False):
        h = self.head(x)
        feats = {"fdm_in": [], "fdm_out": []}
        for fd in self.fd:
            feats["fdm_in"].append(h)
            h = torch.tanh(fd(h))
            feats["fdm_out"].append(h)
        y = x + 0.01 * self.tail(h)
        return (y, feats) if return_features else y


class Baseline(nn.Module):
    def forward(self, x, return_features=False):
        return (x, {}) if return_features else x


def fake_distort(kind, image, value, rng, synth):
    if kind == "noise":
        return image + rng.normal(0, value / 255, image.shape)
    if kind == "blur":
        return image * (1 - 0.05 * value) + 0.05 * value * image.mean()
    return np.round(image * (110 - value) / 10) / ((110 - value) / 10)


def test_channel_correlation_matches_numpy_and_streams():
    rng = np.random.default_rng(0)
    f = torch.from_numpy(rng.normal(size=(6, 5, 7, 7)))
    f[:, 1] = 0.5 * f[:, 0] + 0.1 * f[:, 1]
    acc = correlation.ChannelCorrelation()
    acc.update(f[:2])
    acc.update(f[2:])
    expected = np.corrcoef(f.transpose(0, 1).reshape(5, -1).numpy())
    np.testing.assert_allclose(acc.matrix(), expected, atol=1e-10)
    assert acc.matrix()[0, 1] > 0.9


def test_mean_abs_offdiag_and_dead_channels():
    m = np.array([[1.0, -0.5, 0.1], [-0.5, 1.0, 0.3], [0.1, 0.3, 1.0]])
    assert correlation.mean_abs_offdiag(m) == pytest.approx((0.5 + 0.1 + 0.3) / 3)
    f = torch.randn(2, 3, 4, 4, dtype=torch.float64)
    f[:, 2] = 7.0  # constant channel
    acc = correlation.ChannelCorrelation()
    acc.update(f)
    corr = acc.matrix()
    assert np.isnan(corr[2]).all() and not np.isnan(corr[0, 1])
    assert np.isfinite(correlation.mean_abs_offdiag(corr))


def test_correlation_analysis_on_model_and_error_for_baseline(tmp_path):
    imgs = np.random.default_rng(1).integers(0, 256, (5, 12, 12, 3), dtype=np.uint8)
    res = correlation.correlation_analysis(TinyFDR(), imgs, batch_size=2)
    s = res.summary()
    assert s["phases"] == 2 and s["patches"] == 5 and res.samples == 5 * 12 * 12
    assert 0 <= s["before"] <= 1 and 0 <= s["after"] <= 1
    assert set(s["per_phase"]) == {"phase1", "phase2"}
    # batch size does not change the result
    s2 = correlation.correlation_analysis(TinyFDR(), imgs, batch_size=5).summary()
    assert s2["before"] == pytest.approx(s["before"], abs=1e-6)
    correlation.plot_correlation(res, tmp_path / "c.png", paper={"before": 0.272, "after": 0.164})
    assert Image.open(tmp_path / "c.png").size[0] > 400
    with pytest.raises(ValueError, match="fdm_in"):
        correlation.correlation_analysis(Baseline(), imgs)


def test_real_fdrnet_exposes_fdm_features():
    from fdr import models
    from fdr.config import ModelConfig

    model = models.build("fdrnet", ModelConfig(channels=8, phases=2, n_flayers=2), seed=0)
    imgs = np.random.default_rng(2).integers(0, 256, (2, 16, 16, 3), dtype=np.uint8)
    res = correlation.correlation_analysis(model, imgs)
    assert len(res.before) == 2 and res.before[0].shape == (8, 8) and res.after[0].shape == (8, 8)


def test_level_values_follow_synthesis_params():
    synth = SynthConfig()
    assert responses.level_value("blur", 1, synth) == pytest.approx(0.25)
    assert responses.level_value("blur", 10, synth) == pytest.approx(4.75)
    assert responses.level_value("noise", 10, synth) == pytest.approx(47.5)
    assert responses.level_value("jpeg", 1, synth) == 90 and responses.level_value("jpeg", 10, synth) == 13
    with pytest.raises(ValueError, match="level"):
        responses.level_value("blur", 11, synth)
    with pytest.raises(ValueError, match="distortion"):
        responses.level_value("rain", 1, synth)


def test_channel_responses_shape_determinism_and_plot(tmp_path):
    clean = np.random.default_rng(3).integers(0, 256, (3, 12, 12, 3), dtype=np.uint8)
    a = responses.channel_responses(TinyFDR(), clean, SynthConfig(), seed=5, distort=fake_distort)
    b = responses.channel_responses(TinyFDR(), clean, SynthConfig(), seed=5, distort=fake_distort)
    assert a["responses"].shape == (3, 10, 2, 4) and a["clean"].shape == (2, 4)
    np.testing.assert_array_equal(a["responses"], b["responses"])
    assert a["values"][2, 0] == 90
    responses.plot_responses(a, tmp_path / "r.png")
    assert (tmp_path / "r.png").stat().st_size > 10_000


def test_summary_separates_types_that_use_different_channels():
    rng = np.random.default_rng(4)
    c = 12
    resp = np.zeros((3, 10, 1, c))
    for d in range(3):
        pattern = np.zeros(c)
        pattern[4 * d:4 * d + 4] = 1.0
        for lv in range(10):
            resp[d, lv, 0] = (lv + 1) * pattern + 0.01 * rng.normal(size=c)
    s = responses.summarize({"clean": np.zeros((1, c)), "responses": resp, "patches": 1})
    assert s["within_type"] > 0.9 and s["between_type"] < 0
    assert s["channels_per_type"] == {"blur": 4, "noise": 4, "jpeg": 4}


def test_degrade_distortions_used_for_responses():
    rng = np.random.default_rng(0)
    img = rng.random((24, 24, 3))
    for kind in responses.DISTORTIONS:
        value = responses.level_value(kind, 8, SynthConfig())
        out = responses.degrade_distort(kind, img, value, np.random.default_rng(1), SynthConfig())
        assert out.shape == img.shape and np.abs(out - img).mean() > 1e-3


def test_grid_tiles_psnr_and_not_run(tmp_path):
    assert grids.pick(10, 4, seed=1) == grids.pick(10, 4, seed=1)
    assert len(set(grids.pick(10, 4, seed=1))) == 4 and grids.pick(2, 4, seed=0) == [0, 1]
    rng = np.random.default_rng(5)
    gt = rng.integers(0, 256, (2, 10, 10, 3), dtype=np.uint8)
    inp = np.clip(gt.astype(int) + 20, 0, 255).astype(np.uint8)

    def psnr(a, b):
        return float(10 * np.log10(1 / (np.mean((np.clip(a, 0, 1) - b) ** 2) + 1e-10)))

    rows = grids.build_tiles(inp, gt, {"dncnn": Baseline(), "owan": None, "fdrnet": TinyFDR()}, psnr_fn=psnr)
    assert rows[0]["owan"] == (None, None) and rows[0]["target"][1] is None
    assert rows[0]["dncnn"][1] == pytest.approx(rows[0]["input"][1], abs=1e-4)  # identity model = input
    grids.plot_grid(rows, tmp_path / "g.png", "test")
    assert Image.open(tmp_path / "g.png").size[1] > 300


def write_live(folder: Path, run: str, steps: int = 5):
    for name, f in (("train/loss", lambda i: 1.0 / (i + 1)), ("val/psnr", lambda i: 20.0 + i)):
        tsv = folder / run / "live" / "plots" / "metrics" / f"{name}.tsv"
        tsv.parent.mkdir(parents=True, exist_ok=True)
        rows = "".join(f"{i * 10}\t{f(i)}\t{1700000000 + i}\n" for i in range(steps))
        tsv.write_text("step\t" + name.split("/")[-1] + "\ttimestamp\n" + rows)


def test_curves_read_plot_and_errors(tmp_path):
    write_live(tmp_path, "fdrnet")
    write_live(tmp_path, "fl1", steps=3)
    (tmp_path / "empty" / "live").mkdir(parents=True)
    runs = curves.discover(tmp_path)
    assert list(runs) == ["fdrnet", "fl1"]
    logs = curves.read_live(runs["fdrnet"])
    steps, values = logs["train/loss"]
    assert list(steps) == [0, 10, 20, 30, 40] and values[1] == pytest.approx(0.5)
    last = curves.plot_curves(runs, tmp_path / "curves.png")
    assert last["fl1"]["val/psnr"] == 22.0 and (tmp_path / "curves.png").is_file()
    assert curves.plot_curves({}, tmp_path / "none.png") == {} and (tmp_path / "none.png").is_file()
    bad = tmp_path / "fl1" / "live" / "plots" / "metrics" / "val" / "psnr.tsv"
    bad.write_text("step\tpsnr\n0\tfast\n")
    with pytest.raises(ValueError, match="psnr.tsv:2"):
        curves.read_live(runs["fl1"])


def write_patches(root: Path, level: str, n: int = 6, size: int = 12):
    rng = np.random.default_rng(len(level))
    folder = root / "patches" / f"test_{level}"
    folder.mkdir(parents=True)
    gt = rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8)
    np.save(folder / "target.npy", gt)
    np.save(folder / "input.npy", np.clip(gt.astype(int) + rng.integers(-30, 30, gt.shape), 0, 255).astype(np.uint8))


def test_analyze_writes_metrics_and_figures(tmp_path):
    data = tmp_path / "data"
    for level in ("mild", "moderate", "severe"):
        write_patches(data, level)
    models = tmp_path / "models"
    (models / "fdrnet").mkdir(parents=True)
    (models / "fdrnet" / "checkpoint.pt").write_bytes(b"stand-in")
    (models / "dncnn").mkdir()
    (models / "dncnn" / "checkpoint.pt").write_bytes(b"stand-in")
    write_live(models, "fdrnet")
    cfg = from_dict({"data": {"root": str(data)}, "analysis": {"patches": 4}, "train": {"device": "cpu"},
                     "runs": RUNS, "ablations": {"reference": "fdrnet_ref"}})

    def loader(path, map_location="cpu"):
        model = TinyFDR() if Path(path).parent.name == "fdrnet" else Baseline()
        return model, {"model_name": "fdrnet", "model_cfg_obj": "tiny"}

    def builder(name, cfg, seed=None):
        return TinyFDR(seed=seed + 1)

    figures = tmp_path / "figs"
    metrics_path = tmp_path / "metrics" / "analysis.json"
    metrics = analyze(cfg, models, figures, metrics_path, {"before": 0.272, "after": 0.164},
                      loader=loader, builder=builder, distort=fake_distort)
    saved = json.loads(metrics_path.read_text())
    assert saved["correlation"]["patches"] == 4 and saved["correlation"]["phases"] == 2
    assert saved["correlation"]["change"] == pytest.approx(saved["correlation"]["after"] - saved["correlation"]["before"])
    assert "init" in saved["correlation"] and saved["correlation"]["init"]["before"] != saved["correlation"]["before"]
    assert set(saved["responses"]["per_phase"]) == {"phase1", "phase2"}
    assert metrics["responses"]["within_type"] == saved["responses"]["within_type"]
    for name in ("correlation", "responses", "grid_mild", "grid_moderate", "grid_severe", "curves"):
        assert (figures / f"{name}.png").is_file(), name
    details = json.loads((figures / "details.json").read_text())
    assert len(details["correlation"]["before"]) == 2 and details["patch_indices"] == [0, 2, 3, 5]

    # a main model without FDM (model.use_fdm=false): correlation/responses skipped, the rest still runs
    plain = analyze(cfg, models, figures, metrics_path, loader=lambda p, map_location="cpu": (Baseline(), {}),
                    builder=builder, distort=fake_distort)
    assert "skipped" in plain["correlation"] and not (figures / "correlation.png").exists()
    assert (figures / "grid_moderate.png").is_file()

    (models / "fdrnet" / "checkpoint.pt").unlink()
    with pytest.raises(FileNotFoundError, match="fdrnet/checkpoint.pt"):
        analyze(cfg, models, figures, metrics_path, loader=loader, builder=builder, distort=fake_distort)
    no_main = from_dict({"data": {"root": str(data)}, "runs": {"mine": {"train": "didhy_train", "val": "didhy_test"}}})
    with pytest.raises(FileNotFoundError, match="no main FDR-Net row on the hybrid track"):
        analyze(no_main, models, figures, metrics_path, loader=loader, builder=builder, distort=fake_distort)


def test_probe_runs_follow_the_run_table():
    """The probes compare the main run, the reference and the rows trained like it without the FDM or without
    SVDO, whatever their names."""
    cfg = from_dict({"runs": RUNS, "ablations": {"reference": "fdrnet_ref"}})
    assert probe_runs(cfg) == ["fdrnet", "fdrnet_ref", "nofdm", "beta0"]
    didhy = {"train": "didhy_train", "val": "didhy_test"}
    own = from_dict({"runs": {"main": {"paper": "table1.fdrnet"}, "ref": didhy, "plain": {**didhy, "set": {"use_fdm": False}},
                              "free": {**didhy, "training": {"beta": 0.0}}, "wide": {**didhy, "set": {"channels": 48}},
                              "other_track": {"set": {"use_fdm": False}}},
                     "ablations": {"reference": "ref"}})
    assert probe_runs(own) == ["main", "ref", "plain", "free"]


def test_correlation_change_interval_resolves_a_real_change_and_not_noise():
    """Channels correlated before and independent after: the interval of the change excludes 0; the same
    features before and after: the interval holds 0 (and the change is exactly 0)."""
    rng = np.random.default_rng(1)
    base = torch.from_numpy(rng.normal(size=(12, 1, 6, 6)))
    mixed = torch.cat([base + 0.3 * torch.from_numpy(rng.normal(size=(12, 1, 6, 6))) for _ in range(4)], dim=1)
    independent = torch.from_numpy(rng.normal(size=(12, 4, 6, 6)))
    before, after, same = correlation.ChannelCorrelation(), correlation.ChannelCorrelation(), correlation.ChannelCorrelation()
    for lo in range(0, 12, 5):
        before.update(mixed[lo:lo + 5])
        after.update(independent[lo:lo + 5])
        same.update(mixed[lo:lo + 5])
    np.testing.assert_allclose(before.matrix(np.arange(12)), before.matrix(), atol=1e-12)
    np.testing.assert_allclose(before.matrix([0, 0, 1]), np.corrcoef(mixed[[0, 0, 1]].transpose(0, 1).reshape(4, -1).numpy()),
                               atol=1e-10)  # a resample pools the chosen patches, repeats counted
    low, high = correlation.change_interval([before], [after], seed=0, n_resamples=300)
    assert high < -0.5
    low, high = correlation.change_interval([before], [same], seed=0, n_resamples=300)
    assert low <= 0 <= high
