"""Disentanglement, measured: do the FDM's features separate the distortions better than the alternatives?

The paper's evidence for "disentangled" is a picture (Fig. 8c). Here the claim is tested on numbers:

- **Inputs.** ``n`` clean test patches, each given ONE distortion (blur, noise or JPEG) at levels 2, 5 and 8 of
  the synthesis ranges (:func:`fdr.analysis.responses.level_value`: a level is one fixed strength), by the
  synthesis code itself: ``9 n`` inputs of known type and level, plus the clean patches.
- **Features** ("channel responses", as in Fig. 8c): per channel, the mean absolute activation over the patch,
  at two sites of phase 1: the FDM's input and its output. For ``use_fdm: false`` (``nofdm``) the sites are the
  same places of the lower branch: its input and the output of the ResBlocks standing in for the FD layers.
- **Type probe**: multinomial logistic regression on the standardised responses, two folds split by patch
  (the probe never sees the content it is tested on); held-out accuracy (chance 1/3).
- **Level probe**: per type, a ridge regression (penalty by leave-one-out on the training fold) from the
  responses to the level, same folds; held-out R² averaged over the types (0: no better than the mean level).
- **Selectivity**: per channel, the mean response change (distorted minus the same clean patch) per type,
  each type's profile scaled to a mean of 1 over the channels; ``max_t p_t / sum_t p_t`` averaged over channels:
  1/3 when every channel answers every type alike, 1 when each channel answers one type only (Fig. 8c's
  reading). ``channels_per_type`` counts the channels whose scaled profile is largest for each type.

Every number carries a 95% percentile-bootstrap interval over patches (the probes' held-out predictions and
the per-patch changes are resampled by patch); differences (after - before; one model - another, on the same
patches and distortions) are paired. A sign is claimed only when its interval excludes zero.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import nn

from fdr.data.imageio import to_float

from .correlation import batches, features
from .responses import DISTORTIONS, degrade_distort, level_value

PROBE_LEVELS = (2, 5, 8)
SITES = ("before", "after")
N_RESAMPLES = 2000
RIDGE_ALPHAS = np.logspace(-3, 3, 13)  # the level probe's penalty, chosen by leave-one-out on the training fold


def _stand_in_hooks(model: nn.Module, n_fd: int, got: dict) -> list:
    """``use_fdm: false`` has no FDM features: record phase 1's lower-branch input and the output of the
    ResBlocks that stand in for the FD layers."""
    lower = model.phases[0].lower

    def keep(name):
        def hook(module, args, out):
            got[name] = args[0] if name == "before" else out
        return hook

    return [lower.register_forward_hook(keep("before")), lower[n_fd - 1].register_forward_hook(keep("after"))]


@torch.no_grad()
def responses_of(model: nn.Module, images: np.ndarray, n_fd: int, batch_size: int, device) -> dict[str, np.ndarray]:
    """``{site: N x C}``: the channel responses (mean |activation| per channel) of phase 1 for float images
    N x H x W x 3 in [0, 1]; FDM models through their ``fdm_in`` / ``fdm_out`` features."""
    model = model.eval().to(device)
    stand_in = getattr(getattr(model, "phases", [None])[0], "use_fdm", True) is False
    got: dict = {}
    handles = _stand_in_hooks(model, n_fd, got) if stand_in else []
    out: dict[str, list] = {s: [] for s in SITES}
    try:
        for x in batches(images, batch_size):
            if stand_in:
                model(x.to(device))
            else:
                f = features(model, x.to(device))
                got.update(before=f["fdm_in"][0], after=f["fdm_out"][0])
            for s in SITES:
                out[s].append(got[s].detach().abs().mean(dim=(2, 3)).to("cpu", torch.float64).numpy())
    finally:
        for h in handles:
            h.remove()
    return {s: np.concatenate(v) for s, v in out.items()}


def probe_inputs(clean: np.ndarray, synth, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(images, patch, type, level)``: every clean patch with each type at each probe level (float32)."""
    clean_f = to_float(clean) if clean.dtype == np.uint8 else np.asarray(clean, dtype=np.float32)
    images, patch, kind, level = [], [], [], []
    for t, name in enumerate(DISTORTIONS):
        for lv in PROBE_LEVELS:
            value, rng = level_value(name, lv, synth), np.random.default_rng([seed, t, lv])
            for i, img in enumerate(clean_f):
                images.append(np.clip(degrade_distort(name, img.astype(np.float64), value, rng, synth), 0, 1))
                patch.append(i), kind.append(t), level.append(lv)
    return np.stack(images).astype(np.float32), np.array(patch), np.array(kind), np.array(level, dtype=np.float64)


def held_out(features: np.ndarray, patch: np.ndarray, kind: np.ndarray, level: np.ndarray) -> dict:
    """Two-fold (even / odd patches) held-out predictions: per-sample type correctness and level prediction."""
    correct, level_hat = np.zeros(len(kind)), np.zeros(len(kind))
    for fold in (0, 1):
        train, test = patch % 2 != fold, patch % 2 == fold
        clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
        correct[test] = clf.fit(features[train], kind[train]).predict(features[test]) == kind[test]
        for t in range(len(DISTORTIONS)):
            tr, te = train & (kind == t), test & (kind == t)
            reg = make_pipeline(StandardScaler(), RidgeCV(alphas=RIDGE_ALPHAS)).fit(features[tr], level[tr])
            level_hat[te] = reg.predict(features[te])
    return {"correct": correct, "level_hat": level_hat}


def _scores(pred: dict, rows: np.ndarray, kind: np.ndarray, level: np.ndarray, change: np.ndarray,
            pick: np.ndarray) -> np.ndarray:
    """``[accuracy, level R², selectivity]`` on the patches ``pick`` (indices, repeats allowed) whose inputs
    are ``rows``."""
    acc = pred["correct"][rows].mean()
    r2 = []
    for t in range(len(DISTORTIONS)):
        r = rows[kind[rows] == t]
        sst = ((level[r] - level[r].mean()) ** 2).sum()
        r2.append(1 - ((level[r] - pred["level_hat"][r]) ** 2).sum() / sst if sst > 0 else np.nan)
    return np.array([acc, np.nanmean(r2), _selectivity(change[pick])])


def _profiles(change: np.ndarray) -> np.ndarray:
    """Types x C: |mean change| per channel, each type scaled to a mean of 1 over the channels (the types differ
    in strength by an order of magnitude; which channels answer is the question, as in Fig. 8c)."""
    mean = np.abs(change.mean(axis=0))
    return mean / np.maximum(mean.mean(axis=1, keepdims=True), 1e-12)


def _selectivity(change: np.ndarray) -> float:
    prof = _profiles(change)
    return float((prof.max(axis=0) / np.maximum(prof.sum(axis=0), 1e-12)).mean())


def measure(resp: dict, clean_resp: dict, patch, kind, level) -> dict:
    """Per site: held-out predictions and the per-patch mean response change per type (patches x types x C)."""
    out = {}
    n = clean_resp["after"].shape[0]
    for s in SITES:
        change = np.zeros((n, len(DISTORTIONS), resp[s].shape[1]))
        for t in range(len(DISTORTIONS)):
            for i in range(n):
                change[i, t] = (resp[s][(patch == i) & (kind == t)] - clean_resp[s][i]).mean(axis=0)
        out[s] = {"pred": held_out(resp[s], patch, kind, level), "change": change}
    return out


SCORES = ("type_accuracy", "level_r2", "selectivity")


def _all_scores(measured: dict, by_patch: list, kind, level, pick: np.ndarray) -> np.ndarray:
    """Every (model, site, score) on patches ``pick``, flattened in the order of ``measured`` x SITES x SCORES."""
    rows = np.concatenate([by_patch[p] for p in pick])
    return np.concatenate([_scores(m[s]["pred"], rows, kind, level, m[s]["change"], pick)
                           for m in measured.values() for s in SITES])


def summarize(measured: dict, patch, kind, level, reference: str, seed: int) -> dict:
    """Scores with intervals per model and site, after - before per model, and each model - ``reference``
    per site (all paired: one resampling of patches serves every number)."""
    from scipy import stats

    n = int(patch.max()) + 1
    names, shape = list(measured), (len(measured), len(SITES), len(SCORES))

    def derived(values: np.ndarray) -> np.ndarray:
        v = values.reshape(shape)
        return np.concatenate([v.ravel(), (v[:, 1] - v[:, 0]).ravel(),
                               (v - v[names.index(reference)] if reference in names else v * np.nan).ravel()])

    by_patch = [np.flatnonzero(patch == p) for p in range(n)]

    def stat(pick):
        return derived(_all_scores(measured, by_patch, kind, level, np.asarray(pick, dtype=np.int64)))

    point = stat(np.arange(n))
    ci = stats.bootstrap((np.arange(n),), stat, vectorized=False, method="percentile", n_resamples=N_RESAMPLES,
                         rng=np.random.default_rng(seed)).confidence_interval
    cells = [dict(value=float(p), low=float(lo), high=float(hi)) for p, lo, hi in zip(point, ci.low, ci.high)]
    k, c = int(np.prod(shape)), len(names) * len(SCORES)
    values, changes, versus = cells[:k], cells[k:k + c], cells[k + c:]
    out: dict = {"patches": n, "inputs": int(len(kind)), "levels": dict(zip(("low", "mid", "high"), PROBE_LEVELS)),
                 "chance_accuracy": 1 / len(DISTORTIONS), "models": {}}  # numbers only: DVC reads metrics
    for m, name in enumerate(names):
        entry: dict = {}
        for s, site in enumerate(SITES):
            entry[site] = {sc: values[(m * len(SITES) + s) * len(SCORES) + j] for j, sc in enumerate(SCORES)}
            entry[site]["channels_per_type"] = _dominant(measured[name][site]["change"])
            if name != reference and reference in names:
                entry[site]["minus_reference"] = {sc: versus[(m * len(SITES) + s) * len(SCORES) + j]
                                                  for j, sc in enumerate(SCORES)}
        entry["after_minus_before"] = {sc: changes[m * len(SCORES) + j] for j, sc in enumerate(SCORES)}
        out["models"][name] = entry
    return out


def _dominant(change: np.ndarray) -> dict[str, int]:
    """Channels whose largest mean |change| is for each type."""
    top = _profiles(change).argmax(axis=0)
    return {t: int((top == i).sum()) for i, t in enumerate(DISTORTIONS)}


def disentanglement(models: dict, clean: np.ndarray, synth, reference: str, seed: int, batch_size: int = 32,
                    device="cpu") -> Optional[dict]:
    """Measure every model of ``{name: (module, n_flayers)}`` on the same inputs and summarise (see above)."""
    if not models:
        return None
    images, patch, kind, level = probe_inputs(clean, synth, seed)
    clean_f = to_float(clean) if clean.dtype == np.uint8 else np.asarray(clean, dtype=np.float32)
    measured = {}
    for name, (model, n_fd) in models.items():
        resp = responses_of(model, images, n_fd, batch_size, device)
        base = responses_of(model, clean_f.astype(np.float32), n_fd, batch_size, device)
        measured[name] = measure(resp, base, patch, kind, level)
    return summarize(measured, patch, kind, level, reference, seed)
