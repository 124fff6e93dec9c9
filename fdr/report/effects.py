"""Differences between runs with their uncertainty, and verdicts that training noise cannot flip.

The unit of replication is a training run. Where both sides of a difference were trained with several seeds (seed
replicas in the run table, :func:`fdr.config.runs.replicas`), the difference is measured per seed (the runs with
the same seed offset paired: same batch order and crops) on the mean PSNR of the test set, and stated as the mean
over seeds with a 95% Student t interval over seeds: a sign is claimed only when that interval excludes 0.

A difference between single runs (the main models against their input and their baselines, the Table 6 sweeps)
has no interval over seeds. Its sign is claimed only when it exceeds what run-to-run noise does to a difference of
two runs: ``2.83 sigma`` (two-sided 95% for the difference of two runs, ``1.96 * sqrt(2)``), with ``sigma`` the
pooled std over the seed replicas measured in this report (:func:`pooled_seed_std`). Without any replicas the sign
of a single-run difference is not claimed.

Either way the paired bootstrap over test patches (``scipy.stats.bootstrap``, percentile, resampling patches,
seeded) is kept and shown as the **within-run** uncertainty: how well the test set pins down the difference of
these two trained models, not whether training again would give the same sign.
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
SINGLE_RUN_FACTOR = 1.96 * 2 ** 0.5  # a difference of two runs, each with run-to-run std sigma


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


def seed_interval(d: np.ndarray) -> tuple[float, float, float]:
    """``(mean, low, high)`` of per-seed differences ``d``: the 95% Student t interval of their mean (n - 1
    degrees of freedom; the point itself when every seed gave the same difference)."""
    d = np.asarray(d, dtype=np.float64)
    if d.ndim != 1 or len(d) < 2:
        raise ValueError(f"per-seed differences: expected at least two, got {d.shape}")
    half = stats.t.ppf(0.5 + LEVEL / 2, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d))
    return float(d.mean()), float(d.mean() - half), float(d.mean() + half)


def signed(effect: float, paper: Optional[float]) -> str:
    """``higher`` / ``lower``, or against the paper's effect ``agrees`` / ``opposite``."""
    if paper is None or paper == 0:
        return "higher" if effect > 0 else "lower"
    return "agrees" if (effect > 0) == (paper > 0) else "opposite"


@dataclass
class Effect:
    """One difference ``a - b`` on test set ``set``: over seeds when ``seeds`` >= 2, else of single runs."""

    label: str
    a: str
    b: str
    set: str
    effect: float  # mean over seeds (replicated), else the single runs' difference
    low: float  # within-run: the paired bootstrap over patches (of the seed-0 pair)
    high: float
    patches: int
    seeds: int = 1  # seed pairs the effect is measured on
    seed_low: Optional[float] = None  # 95% interval over seeds (seeds >= 2)
    seed_high: Optional[float] = None
    noise: Optional[float] = None  # single runs: the run-to-run std the sign must clear (times SINGLE_RUN_FACTOR)
    paper: Optional[float] = None
    kind: str = ""  # input (a run against the distorted input) | baseline (FDR-Net against one) | ablation

    @property
    def margin(self) -> Optional[float]:
        """Single runs: the size a difference must exceed for its sign to be claimed."""
        return None if self.noise is None else SINGLE_RUN_FACTOR * self.noise

    @property
    def verdict(self) -> str:
        if self.seeds >= 2:
            resolved = self.seed_low > 0 or self.seed_high < 0
        elif self.noise is None:
            return "not replicated"
        else:
            resolved = (self.low > 0 or self.high < 0) and abs(self.effect) > self.margin
        return signed(self.effect, self.paper) if resolved else "not resolved"


def load_per_patch(folder: Path = PER_PATCH_DIR) -> dict:
    """``{run: {set: {"psnr": array, "ssim": array}}}`` from ``<folder>/<run>.npz`` (keys ``<set>/<metric>``)."""
    out: dict = {}
    for path in sorted(Path(folder).glob("*.npz")):
        with np.load(path) as z:
            for key in z.files:
                set_, metric = key.split("/")
                out.setdefault(path.stem, {}).setdefault(set_, {})[metric] = z[key]
    return out


def _mean(means: Mapping, run: str, set_: str, metric: str = "psnr") -> Optional[float]:
    cell = means.get(run, {}).get(set_)
    return float(cell[metric]) if isinstance(cell, dict) and isinstance(cell.get(metric), (int, float)) else None


def effect(per_patch: Mapping, label: str, a: str, b: str, set_: str, paper: Optional[float] = None,
           kind: str = "", metric: str = "psnr", noise: Optional[float] = None) -> Optional[Effect]:
    """The single-run paired difference of runs ``a`` and ``b`` on ``set_`` (``noise``: the run-to-run std its
    sign must clear); None when either has no values there, or fewer than two (no interval)."""
    va, vb = (per_patch.get(r, {}).get(set_, {}).get(metric) for r in (a, b))
    if va is None or vb is None or len(va) != len(vb) or len(va) < 2:
        return None
    mean, low, high = paired_interval(va, vb, seed=len(va))
    return Effect(label, a, b, set_, mean, low, high, len(va), noise=noise, paper=paper, kind=kind)


def replicated(e: Effect, means: Mapping, pairs: list[tuple[str, str]]) -> Effect:
    """``e`` measured over the seed ``pairs`` (``(a run, b run)`` with the same seed) that both have means for."""
    d = [_mean(means, a, e.set) - _mean(means, b, e.set) for a, b in pairs
         if _mean(means, a, e.set) is not None and _mean(means, b, e.set) is not None]
    if len(d) < 2:
        return e
    e.effect, e.seed_low, e.seed_high = seed_interval(np.asarray(d))
    e.seeds, e.noise = len(d), None
    return e


def seed_pairs(cfg, a: str, b: str) -> list[tuple[str, str]]:
    """The replicas of ``a`` and of ``b`` paired by seed offset (rows of the run table; a sweep has none)."""
    def by_seed(run):
        return {cfg.runs[r].seed if r in cfg.runs else 0: r for r in replicas(cfg, run)}
    sa, sb = by_seed(a), by_seed(b)
    return [(sa[s], sb[s]) for s in sorted(set(sa) & set(sb))]


def seed_std(means: Mapping[str, Mapping], runs: list[str], set_: str, metric: str = "psnr") -> Optional[float]:
    """Sample std of the mean ``metric`` over seed replicas ``runs`` on ``set_`` (None with fewer than two)."""
    vals = [v for v in (_mean(means, r, set_, metric) for r in runs) if v is not None]
    return float(np.std(vals, ddof=1)) if len(vals) >= 2 else None


def pooled_seed_std(cfg, means: Mapping) -> Optional[float]:
    """The run-to-run std pooled over every group of seed replicas in the run table (each on its track's test set),
    ``sqrt(sum (n_g - 1) s_g^2 / sum (n_g - 1))``; None without replicas."""
    num = den = 0.0
    for run in cfg.runs:
        group = replicas(cfg, run)
        if len(group) < 2 or run != group[0]:
            continue
        set_ = ablation_set(cfg, run)
        vals = [v for v in (_mean(means, r, set_) for r in group) if v is not None]
        if len(vals) >= 2:
            num += (len(vals) - 1) * float(np.var(vals, ddof=1))
            den += len(vals) - 1
    return (num / den) ** 0.5 if den else None


def ablation_set(cfg, run: str) -> str:
    """The test set a run's ablations are measured on: its track, or the training level for a hybrid run."""
    track = resolve(cfg, run).track
    return cfg.synthesis.train_level if track == "hybrid" else track


def collect_effects(cfg, means: Mapping, per_patch: Mapping, paper_effects: Mapping[str, float]) -> list[Effect]:
    """The differences the report states, by the roles of the run table (:mod:`fdr.config.runs`): each main
    FDR-Net run and the baselines of its track against the distorted input, the main run against each baseline
    (every test set of the track), and every ablation and control trained on the reference's track (rows, then the
    sweeps) against ``ablations.reference`` on that track's test set (DID-HY for Tables 5-6: its whole images where
    both runs were scored on them, else its patches; the training level for a hybrid reference), over seeds where
    both were replicated, with the paper's effect (``paper_effects``: our run -> the paper's effect of the row it
    answers) where it has one."""
    noise = pooled_seed_std(cfg, means)
    out: list[Effect] = []
    for main in with_role(cfg, "main"):
        track = cfg.runs[main].track
        baselines = [r for r in with_role(cfg, "baseline") if cfg.runs[r].track == track]
        for set_ in per_patch.get(main, {}):
            pairs = [(f"{r} − input", r, INPUT, "input") for r in [main] + baselines]
            pairs += [(f"{main} − {b}", main, b, "baseline") for b in baselines]
            out += [e for e in (effect(per_patch, label, a, b, set_, kind=k, noise=noise)
                                for label, a, b, k in pairs) if e]
    reference = cfg.ablations.reference
    if not reference:
        return out
    track = resolve(cfg, reference).track
    patches = ablation_set(cfg, reference)
    whole = patches + IMAGE_SUFFIX  # whole images, as Tables 5-6 read them, where both runs were scored on them
    for run in with_role(cfg, "ablation", "control"):
        if resolve(cfg, run).track != track:
            continue
        s = whole if all(whole in per_patch.get(r, {}) for r in (run, reference)) else patches
        e = effect(per_patch, f"{run} − {reference}", run, reference, s, paper_effects.get(run), "ablation",
                   noise=noise)
        if e is not None:
            out.append(replicated(e, means, seed_pairs(cfg, run, reference)))
    return out
