"""Paired bootstrap intervals and verdicts (fdr.report.effects) against cases with known answers."""
import numpy as np
import pytest

from fdr.report.effects import Effect, effect, paired_interval, seed_std, verdict


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


@pytest.mark.parametrize("low, high, effect, std, paper, expected", [
    (0.1, 0.3, 0.2, None, None, "higher"),
    (-0.3, -0.1, -0.2, None, None, "lower"),
    (-0.1, 0.3, 0.1, None, -0.7, "not resolved"),  # the interval contains 0
    (0.1, 0.3, 0.2, 0.15, -0.7, "not resolved"),  # resolved over patches, but within twice the seed std
    (-1.2, -0.8, -1.0, 0.2, -1.06, "agrees"),
    (0.5, 0.9, 0.7, 0.2, -0.7, "opposite"),
])
def test_verdict_claims_a_sign_only_when_both_resolve_it(low, high, effect, std, paper, expected):
    assert verdict(low, high, effect, std, paper) == expected


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
