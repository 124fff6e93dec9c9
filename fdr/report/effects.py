"""Differences between runs with their uncertainty: a paired bootstrap over test patches, the seed spread, and
a verdict that claims a sign only when both resolve it.

Every difference the report states (ours vs the input, vs each baseline, each ablation vs its reference) is
``mean over patches of (PSNR_a - PSNR_b)`` on the same patches, with a 95% interval from
``scipy.stats.bootstrap`` (percentile method, resampling patches with replacement, seeded). Patches cut from
one image are not independent, so the interval is a lower bound on the true uncertainty; the seed spread
(the std over seed replicas of the reference run) covers what the patches cannot: training noise.

Verdicts: a difference is *resolved* when its interval excludes 0 and, where a seed spread exists, it exceeds
twice that spread. An ablation then *agrees* with the paper (same sign as the paper's effect) or is
*opposite*; otherwise it is *not resolved*. Without a paper effect a resolved difference reads *higher* /
*lower*.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional

import numpy as np
from scipy import stats

from fdr.config.runs import INPUT, replicas, resolve, with_role
from fdr.report.comparison import IMAGE_SUFFIX

PER_PATCH_DIR = Path("reports/per_patch")
N_RESAMPLES = 2000
LEVEL = 0.95


def paired_interval(a: np.ndarray, b: np.ndarray, seed: int = 0) -> tuple[float, float, float]:
    """``(mean(a - b), low, high)``: the 95% percentile-bootstrap interval of the mean paired difference."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1 or len(a) < 2:
        raise ValueError(f"paired values: expected two 1-D arrays of equal length >= 2, got {a.shape} and {b.shape}")
    d = a - b
    if np.all(d == d[0]):  # no spread: the interval is the value itself (scipy refuses degenerate samples)
        return float(d[0]), float(d[0]), float(d[0])
    res = stats.bootstrap((d,), np.mean, n_resamples=N_RESAMPLES, confidence_level=LEVEL, method="percentile",
                          rng=np.random.default_rng(seed))
    return float(d.mean()), float(res.confidence_interval.low), float(res.confidence_interval.high)


def verdict(low: float, high: float, effect: float, seed_std: Optional[float] = None,
            paper: Optional[float] = None) -> str:
    """``agrees`` / ``opposite`` (with a paper effect) or ``higher`` / ``lower`` when the sign is resolved by the
    interval and by twice the seed spread; ``not resolved`` otherwise."""
    resolved = (low > 0 or high < 0) and (seed_std is None or abs(effect) > 2 * seed_std)
    if not resolved:
        return "not resolved"
    if paper is None or paper == 0:
        return "higher" if effect > 0 else "lower"
    return "agrees" if (effect > 0) == (paper > 0) else "opposite"


@dataclass
class Effect:
    """One difference ``a - b`` on test set ``set``."""

    label: str
    a: str
    b: str
    set: str
    effect: float
    low: float
    high: float
    patches: int
    seed_std: Optional[float] = None
    paper: Optional[float] = None
    kind: str = ""  # input (a run against the distorted input) | baseline (FDR-Net against one) | ablation

    @property
    def verdict(self) -> str:
        return verdict(self.low, self.high, self.effect, self.seed_std, self.paper)


def load_per_patch(folder: Path = PER_PATCH_DIR) -> dict:
    """``{run: {set: {"psnr": array, "ssim": array}}}`` from ``<folder>/<run>.npz`` (keys ``<set>/<metric>``)."""
    out: dict = {}
    for path in sorted(Path(folder).glob("*.npz")):
        with np.load(path) as z:
            for key in z.files:
                set_, metric = key.split("/")
                out.setdefault(path.stem, {}).setdefault(set_, {})[metric] = z[key]
    return out


def effect(per_patch: Mapping, label: str, a: str, b: str, set_: str, seed_std: Optional[float] = None,
           paper: Optional[float] = None, kind: str = "", metric: str = "psnr") -> Optional[Effect]:
    """The paired difference of runs ``a`` and ``b`` on ``set_``; None when either has no values there, or fewer
    than two (no interval)."""
    va, vb = (per_patch.get(r, {}).get(set_, {}).get(metric) for r in (a, b))
    if va is None or vb is None or len(va) != len(vb) or len(va) < 2:
        return None
    mean, low, high = paired_interval(va, vb, seed=len(va))
    return Effect(label, a, b, set_, mean, low, high, len(va), seed_std, paper, kind)


def seed_std(means: Mapping[str, Mapping], runs: list[str], set_: str, metric: str = "psnr") -> Optional[float]:
    """Sample std of the mean ``metric`` over seed replicas ``runs`` on ``set_`` (None with fewer than two)."""
    vals = [means[r][set_][metric] for r in runs if isinstance(means.get(r, {}).get(set_), dict)]
    return float(np.std(vals, ddof=1)) if len(vals) >= 2 else None


def collect_effects(cfg, means: Mapping, per_patch: Mapping, paper_effects: Mapping[str, float]) -> list[Effect]:
    """The differences the report states, by the roles of the run table (:mod:`fdr.config.runs`): each main
    FDR-Net run and the baselines of its track against the distorted input, the main run against each baseline
    (every test set of the track), and every ablation and control trained on the reference's track (rows, then the
    sweeps) against ``ablations.reference`` on that track's test set (DID-HY for Tables 5-6: its whole images where
    both runs were scored on them, else its patches; the training level for a hybrid reference), with the reference's seed spread and the paper's effect (``paper_effects``: our run ->
    the paper's effect of the row it answers) where the paper has one."""
    out: list[Effect] = []
    for main in with_role(cfg, "main"):
        track = cfg.runs[main].track
        baselines = [r for r in with_role(cfg, "baseline") if cfg.runs[r].track == track]
        for set_ in per_patch.get(main, {}):
            pairs = [(f"{r} − input", r, INPUT, "input") for r in [main] + baselines]
            pairs += [(f"{main} − {b}", main, b, "baseline") for b in baselines]
            out += [e for e in (effect(per_patch, label, a, b, set_, kind=k) for label, a, b, k in pairs) if e]
    reference = cfg.ablations.reference
    if not reference:
        return out
    track = cfg.runs[reference].track
    patches = cfg.synthesis.train_level if track == "hybrid" else track
    whole = patches + IMAGE_SUFFIX  # whole images, as Tables 5-6 read them, where both runs were scored on them
    spread = {s: seed_std(means, replicas(cfg, reference), s) for s in (patches, whole)}
    for run in with_role(cfg, "ablation", "control"):
        if resolve(cfg, run).track != track:
            continue
        s = whole if all(whole in per_patch.get(r, {}) for r in (run, reference)) else patches
        e = effect(per_patch, f"{run} − {reference}", run, reference, s, spread[s], paper_effects.get(run),
                   "ablation")
        if e is not None:
            out.append(e)
    return out
