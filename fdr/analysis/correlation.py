"""Channel correlation of the features before and after the FDM (paper §4.5, Fig. 8a/b).

For every phase, the C x C Pearson correlation matrix between channels of ``feats["fdm_in"]``
(entering the first FD-layer) and of ``feats["fdm_out"]`` (leaving the last FD-layer), with every
pixel of every test patch one sample. The summary is the mean absolute off-diagonal correlation
(the paper reports 0.272 before and 0.164 after, without saying how it averages; we take
mean |r_ij| over i != j, and the mean over phases as the headline). A channel that is constant over
all samples has no correlation: its row/column is NaN and left out of the mean (counted as ``dead``).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from scipy import stats
from torch import nn

from fdr.plotting import pyplot, save_figure
from fdr.tensors import from_images

FEATURE_KEYS = ("fdm_in", "fdm_out")


class NoFDMFeatures(ValueError):
    """The model returns no FDM features (a baseline, or FDR-Net with ``use_fdm: false``)."""


class ChannelCorrelation:
    """Streaming channel correlation of B x C x H x W tensors: float64 sums kept per patch (one pass, any batch
    size), so :meth:`matrix` can also pool any resample of the patches (the bootstrap of :func:`change_interval`)."""

    def __init__(self) -> None:
        self.s: list[torch.Tensor] = []  # per patch: C sums
        self.ss: list[torch.Tensor] = []  # per patch: C x C sums of products
        self.pixels = 0  # samples per patch

    @property
    def n(self) -> int:
        return self.pixels * sum(len(s) for s in self.s)

    def update(self, f: torch.Tensor) -> None:
        if f.ndim != 4:
            raise ValueError(f"features: expected B x C x H x W, got shape {tuple(f.shape)}")
        x = f.detach().to("cpu", torch.float64).flatten(2)  # B x C x HW
        if self.s and x.shape[1] != self.s[0].shape[1]:
            raise ValueError(f"features: channel count changed from {self.s[0].shape[1]} to {x.shape[1]}")
        if self.s and x.shape[2] != self.pixels:
            raise ValueError(f"features: patch size changed from {self.pixels} to {x.shape[2]} pixels")
        self.s.append(x.sum(2))
        self.ss.append(x @ x.transpose(1, 2))
        self.pixels = x.shape[2]

    def matrix(self, patches: Optional[np.ndarray] = None) -> np.ndarray:
        """C x C Pearson correlation pooled over all patches, or over the patch indices ``patches`` (repeats
        allowed); dead (constant) channels are NaN rows and columns."""
        if not self.s:
            raise ValueError("correlation: no features accumulated")
        s, ss = torch.cat(self.s), torch.cat(self.ss)
        if patches is not None:
            idx = torch.as_tensor(np.asarray(patches), dtype=torch.long)
            s, ss = s[idx], ss[idx]
        n = self.pixels * len(s)
        if n < 2:
            raise ValueError("correlation: no features accumulated")
        mean = s.sum(0) / n
        cov = ss.sum(0) / n - torch.outer(mean, mean)
        var = torch.diagonal(cov).clamp_min(0)
        std = var.sqrt()
        scale = max(float(var.max()), 1e-300)
        dead = var <= 1e-12 * scale
        corr = (cov / torch.outer(std, std).clamp_min(1e-300)).clamp(-1.0, 1.0)
        corr[dead, :] = float("nan")
        corr[:, dead] = float("nan")
        return corr.numpy()


def mean_abs_offdiag(corr: np.ndarray) -> float:
    """Mean |r_ij| over i != j, ignoring NaN (dead channels); NaN when no pair is left."""
    c = np.asarray(corr, dtype=np.float64)
    mask = ~np.eye(c.shape[0], dtype=bool) & ~np.isnan(c)
    return float(np.abs(c[mask]).mean()) if mask.any() else float("nan")


@dataclass
class CorrelationResult:
    """Per-phase correlation matrices before (``fdm_in``) and after (``fdm_out``) the FDM."""

    before: list[np.ndarray]
    after: list[np.ndarray]
    samples: int
    patches: int
    label: str = "trained"
    change_interval: tuple[float, float] = (float("nan"), float("nan"))  # of after - before, over patches

    def summary(self) -> dict:
        b = [mean_abs_offdiag(m) for m in self.before]
        a = [mean_abs_offdiag(m) for m in self.after]
        dead = lambda ms: int(sum(np.isnan(np.diagonal(m)).sum() for m in ms))  # noqa: E731
        return {
            "before": float(np.nanmean(b)),
            "after": float(np.nanmean(a)),
            "change": float(np.nanmean(a) - np.nanmean(b)),
            "change_low": self.change_interval[0],
            "change_high": self.change_interval[1],
            "phases": len(b),
            "patches": self.patches,
            "dead_channels_before": dead(self.before),
            "dead_channels_after": dead(self.after),
            "per_phase": {f"phase{i + 1}": {"before": bi, "after": ai} for i, (bi, ai) in enumerate(zip(b, a))},
        }


def batches(images: np.ndarray, batch_size: int):
    """Yield float B x 3 x H x W tensors in [0, 1] from a uint8 (or float [0, 1]) N x H x W x 3 array."""
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"images: expected N x H x W x 3, got shape {images.shape}")
    for i in range(0, len(images), batch_size):
        yield from_images(np.asarray(images[i:i + batch_size]))


def features(model: nn.Module, x: torch.Tensor) -> dict:
    """``model(x, return_features=True)`` with a clear error when the model has no FDM features."""
    out = model(x, return_features=True)
    feats = out[1] if isinstance(out, tuple) and len(out) == 2 else None
    if not isinstance(feats, dict) or not all(feats.get(k) for k in FEATURE_KEYS):
        raise NoFDMFeatures("model: returned no feats['fdm_in'] / feats['fdm_out'] (is it an FDR-Net with use_fdm=true?)")
    return feats


@torch.no_grad()
def correlation_analysis(model: nn.Module, images: np.ndarray, batch_size: int = 16,
                         device: str | torch.device = "cpu", label: str = "trained") -> CorrelationResult:
    """Correlation matrices of every phase's FDM input and output over ``images`` (N x H x W x 3)."""
    model = model.eval().to(device)
    acc: dict[str, list[ChannelCorrelation]] = {}
    for x in batches(images, batch_size):
        feats = features(model, x.to(device))
        for key in FEATURE_KEYS:
            accs = acc.setdefault(key, [ChannelCorrelation() for _ in feats[key]])
            if len(accs) != len(feats[key]):
                raise ValueError(f"feats[{key!r}]: phase count changed between batches")
            for a, f in zip(accs, feats[key]):
                a.update(f)
    if not acc:
        raise ValueError("images: empty")
    return CorrelationResult(
        before=[a.matrix() for a in acc["fdm_in"]],
        after=[a.matrix() for a in acc["fdm_out"]],
        samples=acc["fdm_in"][0].n,
        patches=len(images),
        label=label,
        change_interval=change_interval(acc["fdm_in"], acc["fdm_out"], seed=len(images)),
    )


def change_interval(before: list[ChannelCorrelation], after: list[ChannelCorrelation], seed: int = 0,
                    n_resamples: int = 1000, level: float = 0.95) -> tuple[float, float]:
    """95% percentile-bootstrap interval over test patches (``scipy.stats.bootstrap``, seeded) of the change
    ``after - before`` in the headline (mean over phases of the mean |r_ij|, i != j)."""
    patches = len(torch.cat(before[0].s))
    if patches < 2:
        return float("nan"), float("nan")

    def change(idx: np.ndarray) -> float:
        mean = lambda accs: np.nanmean([mean_abs_offdiag(a.matrix(idx)) for a in accs])  # noqa: E731
        return float(mean(after) - mean(before))

    res = stats.bootstrap((np.arange(patches),), change, vectorized=False, n_resamples=n_resamples,
                          confidence_level=level, method="percentile", rng=np.random.default_rng(seed))
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def plot_correlation(result: CorrelationResult, path: str | Path, paper: Optional[dict] = None,
                     max_phases: int = 4) -> None:
    """Fig. 8a/b: |correlation| matrices before (top) and after (bottom) the FDM, one column per phase."""
    plt = pyplot()
    n = len(result.before)
    shown = list(range(n)) if n <= max_phases else sorted({0, n // 3, (2 * n) // 3, n - 1})
    fig, axes = plt.subplots(2, len(shown), figsize=(3.2 * len(shown) + 1.2, 6.8), squeeze=False,
                             constrained_layout=True)
    image = None
    for col, p in enumerate(shown):
        for row, (name, mats) in enumerate((("before FDM", result.before), ("after FDM", result.after))):
            ax = axes[row][col]
            m = np.abs(mats[p])
            image = ax.imshow(m, cmap="viridis", vmin=0, vmax=1, interpolation="nearest")
            ax.set_title(f"phase {p + 1}, {name}\nmean |r| off-diag = {mean_abs_offdiag(mats[p]):.3f}", fontsize=10)
            ax.set_xlabel("channel")
            ax.set_ylabel("channel")
    fig.colorbar(image, ax=axes, shrink=0.8, label="|Pearson correlation| between channels")
    s = result.summary()
    title = (f"Channel correlation before/after the FDM ({result.label} model, {result.patches} test patches)\n"
             f"mean |r| off-diagonal, mean over {s['phases']} phases: {s['before']:.3f} -> {s['after']:.3f}")
    if paper:
        title += f"   (paper: {paper['before']:.3f} -> {paper['after']:.3f})"
    if len(shown) < n:
        title += f"\nphases shown: {', '.join(str(p + 1) for p in shown)} of {n}"
    fig.suptitle(title, fontsize=11)
    save_figure(fig, path)
    plt.close(fig)

