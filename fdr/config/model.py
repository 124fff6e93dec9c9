"""Architecture sections of ``params.yaml``: ``model`` (FDR-Net, paper §3, Tables 5-6) and ``baselines``.

The paper states the channel count (32) and FD-layers per FDM (3) but neither the number of
phases nor the block internals. ``phases``, ``pm_blocks``, ``aux_blocks`` and ``ca_reduction``
default to the values derived in :mod:`fdr.models.fdrnet` so that the three Table 5 variants
have 1.66M / 1.62M / 1.21M parameters. The baselines have sections of their own
(``baselines.dncnn``, ``baselines.owan``), so changing ``model.channels`` touches FDR-Net alone.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from .base import require

# Upper bounds: far above the paper's sizes (32 channels, 7 phases, DnCNN 17 x 64), low enough that a typo such as
# channels: 1000000000 is a one-line error naming the key, not an allocator failure. The parameter count of a
# combination is checked against fdr.train.checkpoint.MAX_PARAMETERS before any weight is allocated.
MAX_CHANNELS, MAX_REPEATS = 1024, 64


def _in_range(obj, path: str, bounds: tuple[tuple[str, int, int], ...]) -> None:
    for key, low, high in bounds:
        value = getattr(obj, key)
        require(low <= value <= high, path, key, f"an integer in [{low}, {high}]", value)


@dataclass(frozen=True)
class ModelConfig:
    """FDR-Net. Defaults are the paper's configuration (Table 6: 3 FD-layers, 32 channels)."""

    channels: int = 32  # feature channels C of the FD/FA layers
    n_flayers: int = 3  # FD-layers per FDM (= FA-layers per FAM), Table 6
    phases: int = 7  # number of phases (Fig. 5); not stated in the paper, derived from Table 5
    use_fdm: bool = True  # false: FD/FA layers replaced by ResBlocks (Table 5 row 2)
    use_aux: bool = True  # false: no auxiliary ResBlock branch (Table 5 row 3)
    pm_blocks: int = 2  # ResBlocks in each FA-layer's process module (Eq. 6); derived from Table 5
    aux_blocks: int = 3  # ResBlocks in each phase's auxiliary branch (§3.4); derived from Table 5
    ca_reduction: int = 16  # channel-attention bottleneck ratio (hidden = max(1, C // ratio)), as RCAN
    # Dual residual phase (fdr.models.fdrnet): durn_p = DuRN-P's block (relu(body + x) inside, ReLU after T2);
    # plain = without those two ReLU joins (what the embedded default trains). Same parameters either way.
    phase: Literal["plain", "durn_p"] = "plain"

    def validate(self, path: str) -> None:
        _in_range(self, path, (("channels", 1, MAX_CHANNELS), ("n_flayers", 1, MAX_REPEATS), ("phases", 1, MAX_REPEATS),
                               ("pm_blocks", 0, MAX_REPEATS), ("aux_blocks", 1, MAX_REPEATS),
                               ("ca_reduction", 1, MAX_CHANNELS)))


@dataclass(frozen=True)
class DnCNNConfig:
    """DnCNN baseline (Zhang et al. 2017): ``depth`` convolutions of ``channels`` features."""

    depth: int = 17
    channels: int = 64

    def validate(self, path: str) -> None:
        _in_range(self, path, (("depth", 2, 4 * MAX_REPEATS), ("channels", 1, MAX_CHANNELS)))


@dataclass(frozen=True)
class OWANConfig:
    """OWAN baseline (Suganuma et al. 2019): ``groups`` x ``layers`` operation-wise attention layers."""

    groups: int = 10
    layers: int = 4
    channels: int = 16

    def validate(self, path: str) -> None:
        _in_range(self, path, (("groups", 1, MAX_REPEATS), ("layers", 1, MAX_REPEATS), ("channels", 1, MAX_CHANNELS)))


@dataclass(frozen=True)
class BaselinesConfig:
    """The comparison methods of Tables 1-2 (defaults: the published sizes)."""

    dncnn: DnCNNConfig = field(default_factory=DnCNNConfig)
    owan: OWANConfig = field(default_factory=OWANConfig)
