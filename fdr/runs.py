"""Named runs: the rows of the run table (``params.yaml: runs``), the Table 6 sweeps and the input.

A run name resolves to a :class:`Run`: the architecture, its configuration (the ``params.yaml``
section the row names, with the row's ``set`` switch applied), the iteration budget, the seed and
the patch sets it trains, validates and is tested on.

- A row of ``runs`` (``fdrnet``, ``dncnn``, ``didhy_owan``, ``noaux``, ``seed1`` ...): as the row says.
- ``fl<N>`` / ``ch<N>``: the ``ablations.reference`` row (same data, budget and seed) with ``n_flayers = N`` /
  ``channels = N`` (Table 6 sweeps, listed in ``ablations.flayers`` / ``ablations.channels``).
- ``input``: not a model; the distorted input itself, evaluated on every test set.

Test sets: a run trained on ``train`` (the hybrid set at ``synthesis.train_level``) is tested on every
``synthesis.test_levels`` set (Table 1); one trained on ``<track>_train`` on ``<track>_test``
(Table 2: DID-HY; Tables 3-4: deblur, derain).
"""
from __future__ import annotations

import dataclasses
import re
from typing import Any, NamedTuple

from fdr.config import Config, ConfigError, RunConfig, TrainConfig, section
from fdr.config.runs import TRACKS

SWEEPS = {"fl": "n_flayers", "ch": "channels"}  # sweep prefix -> the model key it sets


class Run(NamedTuple):
    name: str
    model_name: str  # fdrnet | dncnn | owan
    model_cfg: Any  # ModelConfig, DnCNNConfig or OWANConfig
    train_cfg: TrainConfig  # the train section with the row's ``training`` switches applied
    seed: int
    train_set: str = "train"  # folder under <data.root>/patches
    val_set: str = "test_moderate"
    test_sets: dict = {}  # metrics key -> folder under <data.root>/patches


def test_sets(cfg: Config, track: str) -> dict[str, str]:
    """``{metrics key: patch folder}`` of a track (``input``: the hybrid levels and every track)."""
    if track in TRACKS:
        return {track: f"{track}_test"}
    sets = {level: f"test_{level}" for level in cfg.synthesis.test_levels}
    if cfg.data.source == "folder":
        sets["pairs"] = "pairs_test"  # the user's own pairs, scored where present
    if track == "input":
        sets.update({t: f"{t}_test" for t in TRACKS})
    return sets


def sweep_row(cfg: Config, run: str) -> RunConfig:
    """The run-table row a sweep run ``fl<N>`` / ``ch<N>`` stands for: the ``ablations.reference`` row with
    one model key changed."""
    match = re.fullmatch(r"(fl|ch)([1-9][0-9]*)", run)
    if not match:
        raise ConfigError(f"run {run!r}: unknown run name (expected a row of params.yaml's runs table: "
                          f"{', '.join(cfg.runs)}; or fl<N> / ch<N>)")
    ref = cfg.runs[cfg.ablations.reference]
    return dataclasses.replace(ref, set={**ref.set, SWEEPS[match.group(1)]: int(match.group(2))})


def resolve(cfg: Config, run: str) -> Run:
    """Resolve ``run`` against ``cfg``; raise :class:`ConfigError` for an unknown name."""
    row = cfg.runs[run] if run in cfg.runs else sweep_row(cfg, run)
    base = section(cfg, row.model)
    model_cfg = dataclasses.replace(base, **row.set) if row.set else base
    train_cfg = dataclasses.replace(cfg.train, **row.training) if row.training else cfg.train
    return Run(run, row.arch, model_cfg, train_cfg, cfg.seed + row.seed, row.train, row.val,
               test_sets(cfg, row.track))

