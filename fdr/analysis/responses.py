"""Channel responses after the FDM per distortion type and level (paper §4.5, Fig. 8c).

Clean test patches receive ONE distortion (blur, noise or JPEG) at level 1..10, made by the
synthesis code (``fdr.data.degrade.apply_blur / apply_noise / apply_jpeg``). Each level uses the
midpoint of its interval in ``synthesis`` (blur sigma ``step * (l - 0.5)``, noise sigma likewise on
the 0-255 scale, JPEG quality ``round((q[l-1] + q[l]) / 2)``), so a level is one fixed strength; noise
draws are seeded per (seed, type, level).

The paper does not define "response". We take, per channel, the mean absolute activation of
``feats["fdm_out"]`` of one phase over all pixels and patches, and plot it minus the same quantity on
the clean patches: what the distortion adds to each channel. Two summaries test the paper's reading
("different distortions in different channels, levels only change the strength"): the mean Pearson
correlation between the channel profiles of two levels of the SAME type (``within_type``) and of
two DIFFERENT types (``between_type``). Disentangled channels give within >> between.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch
from torch import nn

from fdr.data.imageio import to_float
from fdr.plotting import pyplot, save_figure

from .correlation import batches, features

DISTORTIONS = ("blur", "noise", "jpeg")
LEVELS = tuple(range(1, 11))
RANGE_KEYS = {"blur": "blur_sigma", "noise": "noise_sigma", "jpeg": "jpeg_quality"}
TITLES = {"blur": "Gaussian blur", "noise": "Gaussian noise", "jpeg": "JPEG compression"}


def level_value(kind: str, level: int, synth) -> float:
    """The fixed strength used for ``kind`` at ``level``: the midpoint of the level's interval
    (:func:`fdr.data.degrade.level_ranges`; the JPEG quality rounded as the synthesis rounds it)."""
    from fdr.data import degrade

    if level not in LEVELS:
        raise ValueError(f"level: expected 1..10, got {level!r}")
    if kind not in RANGE_KEYS:
        raise ValueError(f"distortion: expected one of {', '.join(DISTORTIONS)}, got {kind!r}")
    lo, hi = degrade.level_ranges((level, level, level), synth)[RANGE_KEYS[kind]]
    return float(degrade.round_quality((lo + hi) / 2)) if kind == "jpeg" else (lo + hi) / 2


def degrade_distort(kind: str, image: np.ndarray, value: float, rng: np.random.Generator, synth) -> np.ndarray:
    """One distortion on a float HxWx3 image in [0, 1] by the synthesis code of ``fdr.data.degrade``."""
    from fdr.data import degrade

    if kind == "blur":
        return degrade.apply_blur(image, value, synth.kernel_size)
    if kind == "noise":
        return degrade.apply_noise(image, value, rng)
    if kind == "jpeg":
        return degrade.apply_jpeg(image, int(value))
    raise ValueError(f"distortion: expected one of {', '.join(DISTORTIONS)}, got {kind!r}")


Distort = Callable[[str, np.ndarray, float, np.random.Generator, object], np.ndarray]


@torch.no_grad()
def _mean_abs(model: nn.Module, images: np.ndarray, batch_size: int, device) -> np.ndarray:
    """Per phase, per channel mean |fdm_out| over all pixels of ``images``: P x C."""
    total: Optional[list[torch.Tensor]] = None
    count = 0
    for x in batches(images, batch_size):
        outs = features(model, x.to(device))["fdm_out"]
        sums = [f.detach().to("cpu", torch.float64).abs().sum(dim=(0, 2, 3)) for f in outs]
        total = sums if total is None else [t + s for t, s in zip(total, sums)]
        count += outs[0].shape[0] * outs[0].shape[2] * outs[0].shape[3]
    if total is None:
        raise ValueError("images: empty")
    return torch.stack(total).numpy() / count


def channel_responses(model: nn.Module, clean: np.ndarray, synth, seed: int = 0, batch_size: int = 16,
                      device: str | torch.device = "cpu", distort: Distort = degrade_distort) -> dict:
    """Responses for every (type, level): ``{"clean": P x C, "responses": 3 x 10 x P x C, "values": 3 x 10}``.

    ``clean`` is uint8 (or float [0, 1]) N x H x W x 3."""
    model = model.eval().to(device)
    clean_f = to_float(clean) if clean.dtype == np.uint8 else np.asarray(clean, dtype=np.float64)
    base = _mean_abs(model, clean_f.astype(np.float32), batch_size, device)
    resp = np.zeros((len(DISTORTIONS), len(LEVELS)) + base.shape)
    values = np.zeros((len(DISTORTIONS), len(LEVELS)))
    for d, kind in enumerate(DISTORTIONS):
        for l, level in enumerate(LEVELS):
            value = level_value(kind, level, synth)
            rng = np.random.default_rng([seed, d, level])
            distorted = np.stack([np.clip(distort(kind, img, value, rng, synth), 0.0, 1.0) for img in clean_f])
            resp[d, l] = _mean_abs(model, distorted.astype(np.float32), batch_size, device)
            values[d, l] = value
    return {"clean": base, "responses": resp, "values": values, "patches": int(len(clean))}


def _profile_corr(a: np.ndarray, b: np.ndarray) -> float:
    a = a - a.mean()
    b = b - b.mean()
    den = math.sqrt(float((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / den) if den > 0 else float("nan")


def summarize(result: dict, phase: int = 0) -> dict:
    """Within-type vs between-type correlation of the channel profiles (response minus clean) of ``phase``."""
    delta = result["responses"][:, :, phase, :] - result["clean"][phase][None, None, :]
    n_types, n_levels, _ = delta.shape
    within, between = [], []
    for d1 in range(n_types):
        for d2 in range(d1, n_types):
            for l1 in range(n_levels):
                for l2 in range(n_levels):
                    if d1 == d2 and l2 <= l1:
                        continue
                    (within if d1 == d2 else between).append(_profile_corr(delta[d1, l1], delta[d2, l2]))
    dominant = np.abs(delta).mean(axis=1).argmax(axis=0)  # per channel: type with largest mean |change|
    return {
        "phase": phase + 1,
        "within_type": float(np.nanmean(within)),
        "between_type": float(np.nanmean(between)),
        "channels_per_type": {k: int((dominant == d).sum()) for d, k in enumerate(DISTORTIONS)},
        "patches": result["patches"],
    }


def plot_responses(result: dict, path: str | Path, phase: int = 0) -> None:
    """Fig. 8c: per type a level x channel heat map of the response change vs the clean patches.

    Each type has its own symmetric colour scale (and colour bar): the types differ in strength by an
    order of magnitude, and Fig. 8c is about which channels respond, not how much."""
    plt = pyplot()
    delta = result["responses"][:, :, phase, :] - result["clean"][phase][None, None, :]
    n_ch = delta.shape[-1]
    fig, axes = plt.subplots(len(DISTORTIONS), 1, figsize=(max(7.0, 0.22 * n_ch + 2.5), 8.5),
                             constrained_layout=True)
    for d, kind in enumerate(DISTORTIONS):
        ax = axes[d]
        vmax = float(np.abs(delta[d]).max()) or 1.0
        image = ax.imshow(delta[d], cmap="RdBu_r", vmin=-vmax, vmax=vmax, aspect="auto", interpolation="nearest",
                          extent=(-0.5, n_ch - 0.5, LEVELS[-1] + 0.5, LEVELS[0] - 0.5))
        unit = {"blur": "sigma", "noise": "sigma (0-255)", "jpeg": "quality"}[kind]
        vals = result["values"][d]
        ax.set_title(f"{TITLES[kind]}: level 1..10 = {unit} {vals[0]:g} .. {vals[-1]:g}", fontsize=10)
        ax.set_ylabel("distortion level")
        ax.set_yticks(list(LEVELS))
        step = max(1, n_ch // 16)
        ax.set_xticks(list(range(0, n_ch, step)))
        fig.colorbar(image, ax=ax, label="change of mean |activation|\nvs clean patches")
    axes[-1].set_xlabel("channel after the FDM")
    s = summarize(result, phase)
    fig.suptitle(f"Channel responses after the FDM of phase {phase + 1} ({result['patches']} clean test patches)\n"
                 f"profile correlation: same type {s['within_type']:.2f}, different types {s['between_type']:.2f}",
                 fontsize=11)
    save_figure(fig, path)
    plt.close(fig)
