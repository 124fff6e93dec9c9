"""Pipeline sections of ``params.yaml``: ``evaluate``, ``ablations``, ``analysis`` and ``report``."""
from __future__ import annotations

from dataclasses import dataclass

from .base import require


@dataclass(frozen=True)
class EvalConfig:
    """Evaluation (OWAN protocol: RGB, clip to [0, 1], no rounding, per 63x63 patch, averaged)."""

    batch_size: int = 64
    max_patches: int = 0  # per test set; 0 = all

    def validate(self, path: str) -> None:
        require(self.batch_size >= 1, path, "batch_size", "an integer >= 1", self.batch_size)
        require(self.max_patches >= 0, path, "max_patches", "an integer >= 0", self.max_patches)


@dataclass(frozen=True)
class AblationConfig:
    """Tables 5-6 sweeps; each run is the main model with one switch changed."""

    iterations: int = 0  # training budget of each ablation run; 0 = train.iterations

    def validate(self, path: str) -> None:
        require(self.iterations >= 0, path, "iterations", "an integer >= 0", self.iterations)


@dataclass(frozen=True)
class AnalysisConfig:
    """Interpretative experiment (§4.5, Fig. 8)."""

    patches: int = 64  # test patches used for the correlation matrices

    def validate(self, path: str) -> None:
        require(self.patches >= 1, path, "patches", "an integer >= 1", self.patches)
