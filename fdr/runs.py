"""Named training runs: the main model, the baselines, the Tables 5-6 ablations and seed replicas.

A run name resolves to a :class:`Run`: a model name, a :class:`ModelConfig` derived from
``params.yaml``'s ``model`` section with one switch changed, an iteration budget and a seed:

- ``fdrnet``: the main model as configured; ``dncnn`` / ``owan``: the baselines.
- ``fl<N>``: ``n_flayers = N`` (Table 6, left); ``ch<N>``: ``channels = N`` (Table 6, right).
- ``noaux``: ``use_aux = false``; ``nofdm``: ``use_fdm = false`` (Table 5).
- ``seed<N>``: the main model trained with seed ``seed + N`` (seed-to-seed spread).
- ``input``: not a model; the distorted input itself, for evaluation only.

Ablation runs use ``ablations.iterations`` when it is non-zero, else ``train.iterations``.
"""
from __future__ import annotations

import dataclasses
import re
from typing import NamedTuple

from fdr.config import Config, ConfigError, ModelConfig

BASELINES = ("dncnn", "owan")


class Run(NamedTuple):
    model_name: str
    model_cfg: ModelConfig
    iterations: int
    seed: int


def resolve(cfg: Config, run: str) -> Run:
    """Resolve ``run`` against ``cfg``; raise :class:`ConfigError` for an unknown name."""
    base = dataclasses.replace(cfg.model, name="fdrnet")
    iterations = cfg.train.iterations
    ablation_iters = cfg.ablations.iterations or iterations
    if run == "fdrnet":
        return Run("fdrnet", base, iterations, cfg.seed)
    if run in BASELINES:
        return Run(run, dataclasses.replace(cfg.model, name=run), iterations, cfg.seed)
    if run == "noaux":
        return Run("fdrnet", dataclasses.replace(base, use_aux=False), ablation_iters, cfg.seed)
    if run == "nofdm":
        return Run("fdrnet", dataclasses.replace(base, use_fdm=False), ablation_iters, cfg.seed)
    match = re.fullmatch(r"(fl|ch|seed)([1-9][0-9]*)", run)
    if match:
        kind, value = match.group(1), int(match.group(2))
        if kind == "seed":
            return Run("fdrnet", base, iterations, cfg.seed + value)
        key = "n_flayers" if kind == "fl" else "channels"
        return Run("fdrnet", dataclasses.replace(base, **{key: value}), ablation_iters, cfg.seed)
    raise ConfigError(
        f"run {run!r}: unknown run name (expected fdrnet, dncnn, owan, noaux, nofdm, fl<N>, ch<N> or seed<N>)"
    )
