"""Disentanglement probes (fdr.analysis.probe) and their report section (fdr.report.probe)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from fdr import config
from fdr.analysis import probe
from fdr.analysis.correlation import batches
from fdr.config import ModelConfig
from fdr.models import build
from fdr.report import probe as report_probe

N = 24  # patches


def _design():
    patch = np.tile(np.arange(N), 9)
    kind = np.repeat(np.arange(3), 3 * N)
    level = np.tile(np.repeat(np.array(probe.PROBE_LEVELS, float), N), 3)
    return patch, kind, level


def _measured(resp: np.ndarray, clean: np.ndarray, patch, kind, level) -> dict:
    one = {s: resp for s in probe.SITES}
    base = {s: clean for s in probe.SITES}
    return probe.measure(one, base, patch, kind, level)


def test_one_channel_per_type_is_decoded_and_fully_selective():
    """Channel t answers type t only, in proportion to the level: the probes must find it all."""
    patch, kind, level = _design()
    rng = np.random.default_rng(0)
    clean = rng.uniform(1, 2, (N, 6))  # content: differs per patch
    resp = clean[patch] + np.eye(6)[kind] * level[:, None] + np.eye(6)[kind + 3] * 2 * level[:, None]
    out = probe.summarize({"m": _measured(resp, clean, patch, kind, level)}, patch, kind, level, "m", seed=0)
    after = out["models"]["m"]["after"]
    assert after["type_accuracy"]["value"] == 1.0 and after["level_r2"]["value"] > 0.99
    assert after["selectivity"]["value"] == pytest.approx(1.0)
    assert after["channels_per_type"] == {"blur": 2, "noise": 2, "jpeg": 2}


def test_features_unrelated_to_the_distortion_decode_at_chance():
    patch, kind, level = _design()
    rng = np.random.default_rng(1)
    resp, clean = rng.normal(size=(len(kind), 8)), rng.normal(size=(N, 8))
    out = probe.summarize({"m": _measured(resp, clean, patch, kind, level)}, patch, kind, level, "m", 0)
    after = out["models"]["m"]["after"]
    acc = after["type_accuracy"]
    assert acc["low"] < 1 / 3 < acc["high"] and after["level_r2"]["value"] < 0.1


def test_selectivity_is_max_over_sum_of_the_scaled_profiles():
    change = np.zeros((2, 3, 2))  # patches x types x channels
    change[:, 0] = [4.0, 0.0]  # blur: channel 0 only
    change[:, 1] = [1.0, 1.0]  # noise: both alike
    change[:, 2] = [0.0, 0.5]  # jpeg: channel 1 only (weak; scaled to mean 1)
    # scaled profiles: blur [2, 0], noise [1, 1], jpeg [0, 2] -> channel 0: 2 / 3, channel 1: 2 / 3
    assert probe._selectivity(change) == pytest.approx(2 / 3)


def test_differences_are_paired_and_signed_by_their_interval():
    patch, kind, level = _design()
    rng = np.random.default_rng(2)
    clean = rng.uniform(1, 2, (N, 6))
    good = clean[patch] + np.eye(6)[kind] * level[:, None]
    bad = clean[patch] + rng.normal(0, 1, good.shape)
    models = {"ref": _measured(good, clean, patch, kind, level), "ctl": _measured(bad, clean, patch, kind, level)}
    out = probe.summarize(models, patch, kind, level, "ref", 0)
    vs = out["models"]["ctl"]["after"]["minus_reference"]["type_accuracy"]
    assert vs["high"] < 0 and report_probe.verdict(vs) == "lower"
    assert "minus_reference" not in out["models"]["ref"]["after"]
    text = "\n".join(report_probe.finding(out, "ref"))
    assert "`ref` − `ctl` after the FDM: type accuracy +" in text and ": higher" in text


@pytest.mark.parametrize("use_fdm", [True, False])
def test_probe_reads_phase_one_of_a_real_network(use_fdm):
    cfg = ModelConfig(channels=6, phases=2, n_flayers=2, pm_blocks=1, aux_blocks=1, use_fdm=use_fdm)
    net = build("fdrnet", cfg, seed=0)
    clean = (np.random.default_rng(3).random((4, 20, 20, 3)) * 255).astype(np.uint8)
    out = probe.disentanglement({"net": (net, 2)}, clean, config.from_dict({}).synthesis, "net", seed=0, batch_size=8)
    assert out["patches"] == 4 and out["inputs"] == 36
    e = out["models"]["net"]
    for site in probe.SITES:
        assert 0 <= e[site]["type_accuracy"]["value"] <= 1 and sum(e[site]["channels_per_type"].values()) == 6
    images, *_ = probe.probe_inputs(clean, config.from_dict({}).synthesis, 0)
    resp = probe.responses_of(net, images[:3], 2, 8, "cpu")
    x = next(batches(images[:3], 8))
    phase = net.phases[0]
    with torch.no_grad():
        h = net.head(x)
        site_in = h
        site_out = phase.fdm(h)[-1] if use_fdm else phase.lower[:2](h)
    assert np.allclose(resp["before"], site_in.abs().mean(dim=(2, 3)).double().numpy(), atol=1e-6)
    assert np.allclose(resp["after"], site_out.abs().mean(dim=(2, 3)).double().numpy(), atol=1e-6)


def test_report_section_says_not_run_or_shows_intervals():
    skipped = report_probe.section({"skipped": "no trained FDR-Net run"}, "r")
    assert "Not run (no trained FDR-Net run)." in "\n".join(skipped)
    cell = {"value": 0.5, "low": 0.4, "high": 0.6}
    d = {"patches": 2, "inputs": 18, "levels": {"low": 2, "mid": 5, "high": 8}, "chance_accuracy": 1 / 3,
         "models": {"r": {s: {k: cell for k, _ in report_probe.SCORES} | {"channels_per_type": {"blur": 1}}
                          for s in ("before", "after")} | {"after_minus_before": {"type_accuracy": cell}}}}
    text = "\n".join(report_probe.section(d, "r"))
    assert "| `r` | after | 0.500 [0.400, 0.600] |" in text and "+0.500 [+0.400, +0.600]: higher" in text
