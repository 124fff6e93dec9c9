"""Typed configuration built once from ``params.yaml``.

``load()`` returns a frozen :class:`Config`; any unknown key, wrong type or out-of-range value
raises :class:`ConfigError` naming the dotted key path (e.g. ``model.channels``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional

import yaml

from . import yamlio
from .base import ConfigError, build, require, to_dict
from .data import ArchiveConfig, CopiesConfig, CropConfig, DataConfig, SynthConfig
from .model import BaselinesConfig, DnCNNConfig, ModelConfig, OWANConfig
from .pipeline import AblationConfig, AnalysisConfig, EvalConfig
from .runs import TRACKS, RunConfig, check_name, section, sweep_runs
from .train import TrainConfig

__all__ = [
    "ArchiveConfig", "AblationConfig", "CopiesConfig", "AnalysisConfig", "BaselinesConfig", "Config", "ConfigError", "CropConfig",
    "DataConfig", "DnCNNConfig", "EvalConfig", "ModelConfig", "OWANConfig", "RunConfig", "SynthConfig",
    "TrainConfig", "load", "from_dict", "section", "to_dict",
]


@dataclass(frozen=True)
class Config:
    """The whole ``params.yaml``."""

    seed: int = 0  # every random choice (data, init, batch order) derives from this
    data: DataConfig = field(default_factory=DataConfig)
    synthesis: SynthConfig = field(default_factory=SynthConfig)
    crop: CropConfig = field(default_factory=CropConfig)
    model: ModelConfig = field(default_factory=ModelConfig)  # FDR-Net
    baselines: BaselinesConfig = field(default_factory=BaselinesConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    evaluate: EvalConfig = field(default_factory=EvalConfig)
    runs: dict[str, RunConfig] = field(default_factory=dict)  # the run table (fdr.config.runs); params.yaml gives it
    ablations: AblationConfig = field(default_factory=AblationConfig)
    analysis: AnalysisConfig = field(default_factory=AnalysisConfig)

    def validate(self, path: str) -> None:
        require(0 <= self.seed < 2**32, path, "seed", "an integer in [0, 2^32)", self.seed)
        for name, row in self.runs.items():
            check_name(name, "runs")
            base = section(self, row.model)  # the switches must name keys of their sections, well typed
            build(type(base), {**to_dict(base), **row.set}, f"runs.{name}.set")
            build(TrainConfig, {**to_dict(self.train), **row.training}, f"runs.{name}.training")
        sweeps = sweep_runs(self)
        for i, name in enumerate(self.evaluate.whole.runs):  # dvc.yaml's evaluate-whole stage runs these
            row = self.runs.get(self.ablations.reference if name in sweeps else name)  # a sweep: trained like it
            require(row is not None and row.train.endswith("_train") and row.train != "train",
                    "evaluate.whole", f"runs[{i}]", "a row of runs trained on a track with whole test images "
                    f"({', '.join(f'{t}_train' for t in TRACKS)})", name)
        for i, name in enumerate(self.evaluate.photos.runs):  # dvc.yaml's evaluate-photos stage runs these
            row = self.runs.get(name)
            require(row is not None and row.train == "train", "evaluate.photos", f"runs[{i}]",
                    "a row of runs trained on the hybrid set (train): the photo test restores hybrid distortions", name)
        ref = self.ablations.reference
        if not ref:
            require(not (self.ablations.flayers or self.ablations.channels), "ablations", "reference",
                    "a row of runs for the sweeps ablations.flayers / ablations.channels to copy", ref)
            return
        require(ref in self.runs, "ablations", "reference", f"a row of runs ({', '.join(self.runs) or 'none'})", ref)
        row = self.runs[ref]  # Tables 5-6 are measured on DID-HY; dvc.yaml's sweep stages list these sets
        require(row.model == "model" and row.train == "didhy_train" and row.val == "didhy_test", "ablations",
                "reference", "an FDR-Net row trained on didhy_train and validated on didhy_test (Tables 5-6 are "
                "DID-HY ablations; the sweeps train like it)", ref)

def _set_dotted(tree: dict, dotted: str, value: Any) -> None:
    """Set ``tree[a][b][c] = value`` for ``a.b.c``; ``~a.b.c`` deletes the key (DVC's ``-S ~key`` override)."""
    delete = dotted.startswith("~")
    node = tree
    keys = dotted.lstrip("~").split(".")
    for key in keys[:-1]:
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            raise ConfigError(f"{dotted}: cannot set below {key!r}, which is not a mapping")
        node = child
    if delete:
        node.pop(keys[-1], None)
    else:
        node[keys[-1]] = value


def from_dict(raw: Mapping[str, Any], overrides: Optional[Mapping[str, Any]] = None) -> Config:
    """Build a :class:`Config` from a parsed YAML mapping plus dotted ``overrides`` (``{"model.channels": 48}``)."""
    tree = yaml.safe_load(yaml.safe_dump(dict(raw), sort_keys=False)) or {}  # a deep copy, in the file's order
    for key, value in (overrides or {}).items():
        _set_dotted(tree, key, value)
    return build(Config, tree, "")


def load(path: str | Path = "params.yaml", overrides: Optional[Mapping[str, Any]] = None) -> Config:
    """Read ``path`` (YAML) and build the validated :class:`Config`."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: parameter file not found")
    raw = yamlio.read(path) or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return from_dict(raw, overrides)
