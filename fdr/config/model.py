"""``model`` section of ``params.yaml`` (paper §3, Tables 5-6).

The paper states the channel count (32) and FD-layers per FDM (3) but neither the number of
phases nor the block internals. ``phases``, ``pm_blocks``, ``aux_blocks`` and ``ca_reduction``
default to the values derived in :mod:`fdr.models.fdrnet` so that the three Table 5 variants
have 1.66M / 1.62M / 1.21M parameters. The baselines keep their own width/depth fields so that
changing ``channels`` for FDR-Net does not change DnCNN or OWAN.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .base import require

ModelName = Literal["fdrnet", "dncnn", "owan"]


@dataclass(frozen=True)
class ModelConfig:
    """Architecture switches. Defaults are the paper's configuration (Table 6: 3 FD-layers, 32 channels)."""

    name: ModelName = "fdrnet"
    # FDR-Net
    channels: int = 32  # feature channels C of the FD/FA layers
    n_flayers: int = 3  # FD-layers per FDM (= FA-layers per FAM), Table 6
    phases: int = 7  # number of phases (Fig. 5); not stated in the paper, derived from Table 5
    use_fdm: bool = True  # false: FD/FA layers replaced by ResBlocks (Table 5 row 2)
    use_aux: bool = True  # false: no auxiliary ResBlock branch (Table 5 row 3)
    pm_blocks: int = 2  # ResBlocks in each FA-layer's process module (Eq. 6); derived from Table 5
    aux_blocks: int = 3  # ResBlocks in each phase's auxiliary branch (§3.4); derived from Table 5
    ca_reduction: int = 16  # channel-attention bottleneck ratio (hidden = max(1, C // ratio)), as RCAN
    # DnCNN baseline (Zhang et al. 2017)
    dncnn_depth: int = 17  # convolution layers
    dncnn_channels: int = 64
    # OWAN baseline (Suganuma et al. 2019)
    owan_groups: int = 10  # groups of operation-wise attention layers
    owan_layers: int = 4  # operation layers per group
    owan_channels: int = 16

    def validate(self, path: str) -> None:
        at_least = (
            ("channels", 1), ("n_flayers", 1), ("phases", 1), ("pm_blocks", 0), ("aux_blocks", 1),
            ("ca_reduction", 1), ("dncnn_depth", 2), ("dncnn_channels", 1), ("owan_groups", 1),
            ("owan_layers", 1), ("owan_channels", 1),
        )
        for key, low in at_least:
            value = getattr(self, key)
            require(value >= low, path, key, f"an integer >= {low}", value)
