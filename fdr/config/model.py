"""``model`` section of ``params.yaml`` (paper §3, Tables 5-6)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .base import require

ModelName = Literal["fdrnet", "dncnn", "owan"]


@dataclass(frozen=True)
class ModelConfig:
    """Architecture switches. Defaults are the paper's configuration (Table 6: 3 FD-layers, 32 channels)."""

    name: ModelName = "fdrnet"
    channels: int = 32  # feature channels C of the FD/FA layers
    n_flayers: int = 3  # FD-layers per FDM (= FA-layers per FAM), Table 6
    phases: int = 4  # number of phases (Fig. 5); not stated in the paper, see fdr/models/fdrnet.py
    use_fdm: bool = True  # false: FD/FA layers replaced by ResBlocks (Table 5 row 2)
    use_aux: bool = True  # false: no auxiliary ResBlock branch (Table 5 row 3)

    def validate(self, path: str) -> None:
        require(self.channels >= 1, path, "channels", "an integer >= 1", self.channels)
        require(self.n_flayers >= 1, path, "n_flayers", "an integer >= 1", self.n_flayers)
        require(self.phases >= 1, path, "phases", "an integer >= 1", self.phases)
