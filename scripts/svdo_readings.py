"""How large is the SVDO term against L1 under each reading of Eq. 5? The paper model, at initialisation and
after a short training with that reading, on real 63x63 training patches.

For each reading of ``train.svdo`` (fdr.train.losses.READINGS): ``beta * SVDO / L1`` and the gradient ratio
``|d(beta SVDO)/dw| / |d L1/dw|`` on the head convolution and the first FD-layer's convolution (the layers
SVDO reaches first), measured on one fixed batch at initialisation and again after ``--steps`` optimisation
steps of :func:`fdr.train.trainer.train_step` (Adam, the paper's lr 1e-4, beta 1e-5) with that reading
(``--steps 0``: at initialisation only).

    python scripts/svdo_readings.py [--patches data/patches/train] [--steps 60] [--batch 4]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

from fdr.config import ModelConfig, TrainConfig
from fdr.data.dataset import PatchDataset
from fdr.models import build
from fdr.report.tables import render
from fdr.tensors import to_device
from fdr.train.losses import READINGS, svdo_mean
from fdr.train.trainer import make_optimizer, train_step

LAYERS = {"head": "head.weight", "first FD conv": "phases.0.fdm.layers.0.conv.weight"}


def batch(patches: Path, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    ds = PatchDataset(patches)
    idx = np.random.default_rng(seed).choice(len(ds), size=n, replace=False)
    pairs = [ds[int(i)] for i in idx]
    return tuple(to_device(torch.stack([p[k] for p in pairs])) for k in (0, 1))


def measure(model, x, t, beta: float, reading: str) -> dict:
    """Loss ratio and per-layer gradient-norm ratio of ``beta * SVDO`` (Eq. 5, mean over phases) to L1."""
    params = [dict(model.named_parameters())[name] for name in LAYERS.values()]
    y, feats = model(x, return_features=True)
    l1 = torch.nn.functional.l1_loss(y, t)
    reg = beta * svdo_mean(feats["fdm_out"], reading)
    g_l1 = torch.autograd.grad(l1, params, retain_graph=True)
    g_reg = torch.autograd.grad(reg, params)
    out = {"l1": float(l1), "beta_svdo": float(reg), "loss_ratio": float(reg) / float(l1)}
    out.update({f"grad_ratio_{k}": float(b.norm() / a.norm()) for k, a, b in zip(LAYERS, g_l1, g_reg)})
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--patches", type=Path, default=Path("data/patches/train"))
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--batch", type=int, default=4)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    x, t = batch(args.patches, args.batch, seed=1)
    rows = []
    for reading in READINGS:
        tc = TrainConfig(svdo=reading)
        model = build("fdrnet", ModelConfig(), seed=0)
        at_init = measure(model, x, t, tc.beta, reading)
        optimizer, scheduler, scaler = make_optimizer(model, tc, cuda=False)
        t0 = time.perf_counter()
        for k in range(args.steps):
            xb, tb = batch(args.patches, args.batch, seed=100 + k)
            train_step(model, xb, tb, optimizer, scheduler, scaler, tc.beta, reading)
        measured = [("init", at_init)]
        if args.steps:
            measured.append((f"after {args.steps} steps", measure(model, x, t, tc.beta, reading)))
        for when, m in measured:
            rows.append([reading, when, f"{m['l1']:.4f}", f"{m['beta_svdo']:.3g}", f"{m['loss_ratio']:.3g}",
                         f"{m['grad_ratio_head']:.3g}", f"{m['grad_ratio_first FD conv']:.3g}"])
        print(f"{reading}: {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    print("\n".join(render(["reading", "when", "L1", "beta·SVDO", "beta·SVDO / L1", "grad ratio, head",
                            "grad ratio, first FD conv"], rows)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
