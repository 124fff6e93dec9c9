"""Model registry: FDR-Net (with its Table 5-6 variants) and the DnCNN / OWAN baselines.

``build(name, cfg)`` returns a module mapping a float B x 3 x H x W image in [0, 1] to the restored
image (same shape, not clamped); ``model(x, return_features=True)`` returns ``(y, feats)``.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, Optional

import torch
from torch import nn

from fdr.config import DnCNNConfig, ModelConfig, OWANConfig

from .dncnn import DnCNN
from .fdrnet import FDRNet
from .owan import OWAN

__all__ = ["BUILDERS", "CONFIGS", "DnCNN", "FDRNet", "OWAN", "VARIANT_LABELS", "build", "count_parameters",
           "paper_variants"]

BUILDERS: dict[str, Callable[[Any], nn.Module]] = {
    "fdrnet": FDRNet,
    "dncnn": lambda cfg: DnCNN(cfg.depth, cfg.channels),
    "owan": lambda cfg: OWAN(cfg.channels, cfg.groups, cfg.layers),
}
CONFIGS: dict[str, type] = {"fdrnet": ModelConfig, "dncnn": DnCNNConfig, "owan": OWANConfig}


def build(name: str, cfg: Any, seed: Optional[int] = None) -> nn.Module:
    """Build model ``name`` (fdrnet, dncnn, owan) from its configuration (``CONFIGS[name]``); with ``seed``
    the initial weights depend on ``seed`` only (the global RNG state is left untouched)."""
    if name not in BUILDERS:
        raise ValueError(f"model name: expected one of {', '.join(BUILDERS)}, got {name!r}")
    if not isinstance(cfg, CONFIGS[name]):
        raise TypeError(f"model {name!r}: expected a {CONFIGS[name].__name__}, got {type(cfg).__name__}")
    if seed is None:
        return BUILDERS[name](cfg)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return BUILDERS[name](cfg)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters (the figure the paper's tables report)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


VARIANT_LABELS: dict[str, str] = {
    "fdrnet": "Table 5: FDM + Aux (paper model)",
    "nofdm": "Table 5: Aux only (FD/FA layers -> ResBlocks)",
    "noaux": "Table 5: FDM only",
    **{f"fl{n}": f"Table 6: {n} FD-layer{'s' if n > 1 else ''}, 32 channels" for n in range(1, 6)},
    **{f"ch{c}": f"Table 6: 3 FD-layers, {c} channels" for c in (16, 32, 48, 64)},
    "dncnn": "Baseline: DnCNN (17 layers, 64 channels)",
    "owan": "Baseline: OWAN (10 groups x 4 layers, 16 channels)",
}


def paper_variants() -> dict[str, tuple[str, Any]]:
    """The paper's configurations, whatever ``params.yaml`` holds: Table 5 rows, Table 6 columns,
    baselines. Keys match the run names of :mod:`fdr.config.runs` (``fdrnet``, ``nofdm``, ``noaux``,
    ``fl<N>``, ``ch<N>``, ``dncnn``, ``owan``)."""
    base = ModelConfig()
    out: dict[str, tuple[str, Any]] = {
        "fdrnet": ("fdrnet", base),
        "nofdm": ("fdrnet", dataclasses.replace(base, use_fdm=False)),
        "noaux": ("fdrnet", dataclasses.replace(base, use_aux=False)),
    }
    for n in range(1, 6):
        out[f"fl{n}"] = ("fdrnet", dataclasses.replace(base, n_flayers=n))
    for c in (16, 32, 48, 64):
        out[f"ch{c}"] = ("fdrnet", dataclasses.replace(base, channels=c))
    out["dncnn"] = ("dncnn", DnCNNConfig())
    out["owan"] = ("owan", OWANConfig())
    return out
