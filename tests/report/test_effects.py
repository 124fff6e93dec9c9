"""Paired bootstrap intervals and verdicts (fdr.report.effects) against cases with known answers."""
import numpy as np
import pytest

from fdr.config import from_dict
from fdr.report.effects import (
    Effect,
    collect_effects,
    effect,
    paired_interval,
    pooled_seed_std,
    seed_interval,
    seed_pairs,
    seed_std,
)


def test_paired_interval_matches_the_normal_theory_interval():
    """Differences ~ N(0.3, 1) over 4,000 patches: the 95% interval of the mean is 0.3 +- 1.96 / sqrt(4000)
    (about +-0.031); the bootstrap's must agree within a few per cent of that width, and contain the mean."""
    rng = np.random.default_rng(7)
    b = rng.normal(25.0, 2.0, 4000)
    a = b + rng.normal(0.3, 1.0, 4000)
    mean, low, high = paired_interval(a, b)
    d = a - b
    half = 1.96 * d.std(ddof=1) / np.sqrt(len(d))
    assert mean == pytest.approx(d.mean())
    assert low == pytest.approx(d.mean() - half, abs=0.1 * half) and high == pytest.approx(d.mean() + half, abs=0.1 * half)
    assert low < 0.3 < high


def test_pairing_removes_the_shared_patch_difficulty():
    """Patches differ wildly in difficulty (std 5 dB) but a beats b by exactly 0.1 dB on each: the paired
    interval is the point 0.1, resolved, where an unpaired comparison could not tell."""
    b = np.random.default_rng(1).normal(25.0, 5.0, 300)
    mean, low, high = paired_interval(b + 0.1, b)
    assert mean == pytest.approx(0.1) and low == pytest.approx(0.1) and high == pytest.approx(0.1)


def test_interval_is_seeded_and_rejects_unpaired_input():
    a, b = np.arange(50.0), np.arange(50.0)[::-1]
    assert paired_interval(a, b, seed=3) == paired_interval(a, b, seed=3)
    with pytest.raises(ValueError, match="equal length"):
        paired_interval(np.zeros(5), np.zeros(6))


def test_seed_interval_is_the_student_t_interval_of_the_per_seed_differences():
    """Three seeds giving 0.1, 0.2, 0.3 dB: mean 0.2, sd 0.1, t(0.975, 2) = 4.303 -> 0.2 +- 0.248."""
    mean, low, high = seed_interval(np.array([0.1, 0.2, 0.3]))
    assert mean == pytest.approx(0.2) and high - mean == pytest.approx(4.302653 * 0.1 / np.sqrt(3), rel=1e-5)
    assert low == pytest.approx(0.2 - 0.24842, abs=1e-4)
    with pytest.raises(ValueError, match="at least two"):
        seed_interval(np.array([0.5]))


def _effect(effect, low, high, **kw):
    return Effect("a − b", "a", "b", "didhy", effect, low, high, 100, **kw)


@pytest.mark.parametrize("e, expected", [
    (_effect(-1.0, -1.2, -0.8, seeds=3, seed_low=-1.5, seed_high=-0.5, paper=-1.06), "agrees"),
    (_effect(0.7, 0.5, 0.9, seeds=3, seed_low=0.2, seed_high=1.2, paper=-0.7), "opposite"),
    # resolved over the patches of one pair, but the seeds disagree: training noise could flip it
    (_effect(-0.2, -0.25, -0.15, seeds=3, seed_low=-0.6, seed_high=0.2, paper=-1.06), "not resolved"),
    (_effect(0.3, 0.2, 0.4, seeds=3, seed_low=0.1, seed_high=0.5), "higher"),
    (_effect(2.0, 1.9, 2.1, noise=0.2), "higher"),  # a single-run difference far beyond 2.83 x the seed std
    (_effect(0.3, 0.2, 0.4, noise=0.2), "not resolved"),  # within the single-run margin of 0.57 dB
    (_effect(-0.3, -0.4, 0.1, noise=0.05), "not resolved"),  # the patch interval holds 0
    (_effect(2.0, 1.9, 2.1), "not replicated"),  # no seeds anywhere: no claim
])
def test_a_sign_is_claimed_only_beyond_training_noise(e, expected):
    assert e.verdict == expected


def test_effect_pairs_two_runs_on_a_set_and_seed_std():
    per = {"a": {"moderate": {"psnr": np.array([25.0, 26.0, 27.0])}},
           "b": {"moderate": {"psnr": np.array([24.0, 25.5, 26.0])}}}
    e = effect(per, "a − b", "a", "b", "moderate", kind="input")
    assert isinstance(e, Effect) and e.effect == pytest.approx(2.5 / 3) and e.patches == 3 and e.kind == "input"
    assert effect(per, "a − c", "a", "c", "moderate") is None and effect(per, "a − b", "a", "b", "mild") is None
    one = {r: {"didhy_image": {"psnr": np.array([v])}} for r, v in (("a", 25.0), ("b", 24.0))}
    assert effect(one, "a − b", "a", "b", "didhy_image") is None  # one image: no interval, no claim
    means = {r: {"moderate": {"psnr": v}} for r, v in (("ref", 25.0), ("s1", 25.2), ("s2", 24.8))}
    assert seed_std(means, ["ref", "s1", "s2"], "moderate") == pytest.approx(0.2)
    assert seed_std(means, ["ref"], "moderate") is None


def _replicated_table():
    didhy = {"train": "didhy_train", "val": "didhy_test"}
    runs = {"main": {"paper": "table1.fdrnet"}, "input_free": {"model": "baselines.dncnn", "paper": "table1.dncnn"}}
    for arm, extra in (("ref", {}), ("nofdm", {"set": {"use_fdm": False}, "paper": "table5.nofdm"})):
        runs[arm] = {**didhy, **extra}
        runs.update({f"{arm}_s{k}": {**didhy, **extra, "seed": k} for k in (1, 2)})
    return from_dict({"runs": runs, "ablations": {"reference": "ref", "flayers": [2]}})


def test_ablations_are_measured_over_seeds_paired_by_seed_and_single_runs_against_the_pooled_noise():
    cfg = _replicated_table()
    psnr = {"ref": 25.0, "ref_s1": 25.2, "ref_s2": 24.8, "nofdm": 24.0, "nofdm_s1": 24.3, "nofdm_s2": 23.9,
            "fl2": 25.1}
    means = {r: {"didhy": {"psnr": v}} for r, v in psnr.items()}
    rng = np.random.default_rng(0)
    per_patch = {r: {"didhy": {"psnr": v + rng.normal(0, 0.01, 50)}} for r, v in psnr.items()}
    effects = {e.a: e for e in collect_effects(cfg, means, per_patch, {"nofdm": -1.06})}
    nofdm = effects["nofdm"]
    d = np.array([24.0 - 25.0, 24.3 - 25.2, 23.9 - 24.8])  # paired by seed offset, not by name order
    assert nofdm.seeds == 3 and nofdm.effect == pytest.approx(d.mean())
    assert (nofdm.seed_low, nofdm.seed_high) == pytest.approx(seed_interval(d)[1:])
    assert nofdm.verdict == "agrees" and nofdm.paper == -1.06
    sweep = effects["fl2"]  # a sweep run is not replicated: judged against the pooled run-to-run std
    pooled = np.sqrt((np.var([25.0, 25.2, 24.8], ddof=1) + np.var([24.0, 24.3, 23.9], ddof=1)) / 2)
    assert sweep.seeds == 1 and sweep.noise == pytest.approx(pooled) and sweep.verdict == "not resolved"
    assert pooled_seed_std(cfg, means) == pytest.approx(pooled)
    assert seed_pairs(cfg, "nofdm", "ref") == [("nofdm", "ref"), ("nofdm_s1", "ref_s1"), ("nofdm_s2", "ref_s2")]
