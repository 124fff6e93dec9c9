"""Visual comparison grids (paper Fig. 6): distorted input, DnCNN, OWAN, FDR-Net, ground truth.

One figure per test level; one row per test crop (drawn with a seeded generator), each tile
labelled with its PSNR against the ground truth (OWAN protocol, :func:`fdr.evaluate.metrics.psnr`). A model
that was not trained shows a grey "not run" tile instead of an image.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Mapping, Optional

import numpy as np
import torch
from torch import nn

from fdr.data.imageio import to_float
from fdr.plotting import pyplot, save_figure
from fdr.tensors import from_images, to_images

COLUMNS = (("input", "Distorted input"), ("dncnn", "DnCNN"), ("owan", "OWAN (OP-Attention)"),
           ("fdrnet", "FDR-Net"), ("target", "Ground truth"))


def pick(n_available: int, count: int, seed: int) -> list[int]:
    """``count`` distinct indices in ``range(n_available)`` from a seeded generator, sorted."""
    if n_available < 1:
        raise ValueError("test set: no patches")
    rng = np.random.default_rng(seed)
    return sorted(int(i) for i in rng.choice(n_available, size=min(count, n_available), replace=False))


@torch.no_grad()
def restore(model: nn.Module, inputs: np.ndarray, device: str | torch.device = "cpu") -> np.ndarray:
    """Run ``model`` on uint8 N x H x W x 3 inputs; float N x H x W x 3 outputs clipped to [0, 1]."""
    model = model.eval().to(device)
    return to_images(model(from_images(inputs, device)))


def default_psnr(out: np.ndarray, gt: np.ndarray) -> float:
    from fdr.evaluate.metrics import psnr

    return psnr(out, gt)


def build_tiles(inputs: np.ndarray, targets: np.ndarray, models: Mapping[str, Optional[nn.Module]],
                device: str | torch.device = "cpu",
                psnr_fn: Callable[[np.ndarray, np.ndarray], float] = default_psnr) -> list[dict]:
    """Per crop: ``{column: (image float HWC or None, psnr or None)}``."""
    gt = to_float(targets)
    columns = {"input": to_float(inputs)}
    for key, model in models.items():
        columns[key] = restore(model, inputs, device) if model is not None else None
    rows = []
    for i in range(len(inputs)):
        row = {}
        for key, _ in COLUMNS:
            if key == "target":
                row[key] = (gt[i], None)
            elif columns.get(key) is None:
                row[key] = (None, None)
            else:
                row[key] = (columns[key][i], float(psnr_fn(columns[key][i], gt[i])))
        rows.append(row)
    return rows


def plot_grid(rows: list[dict], path: str | Path, title: str) -> None:
    """Tiles in a grid with column headings and each tile's PSNR printed on it."""
    plt = pyplot()
    n = len(rows)
    fig, axes = plt.subplots(n, len(COLUMNS), figsize=(2.3 * len(COLUMNS), 2.4 * n + 0.6), squeeze=False,
                             constrained_layout=True)
    for r, row in enumerate(rows):
        best = max((p for k, (img, p) in row.items() if p is not None and k != "input"), default=None)
        for c, (key, heading) in enumerate(COLUMNS):
            ax = axes[r][c]
            image, value = row[key]
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(heading, fontsize=10)
            if c == 0:
                ax.set_ylabel(f"crop {r + 1}", fontsize=9)
            if image is None:
                ax.imshow(np.full(row["target"][0].shape, 0.85), vmin=0, vmax=1)
                ax.text(0.5, 0.5, "not run", ha="center", va="center", transform=ax.transAxes, fontsize=11)
                continue
            ax.imshow(np.clip(image, 0, 1), interpolation="nearest")
            if value is not None:
                bold = value == best
                ax.text(0.03, 0.04, f"{value:.2f} dB", transform=ax.transAxes, fontsize=9, color="white",
                        fontweight="bold" if bold else "normal", va="bottom",
                        bbox={"facecolor": "black", "alpha": 0.65, "pad": 2, "edgecolor": "none"})
    fig.suptitle(title + "\n(PSNR of each tile vs ground truth; best restoration in bold)", fontsize=11)
    save_figure(fig, path)
    plt.close(fig)
