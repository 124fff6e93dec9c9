"""Named training runs: the main model, the baselines, the Tables 5-6 ablations and seed replicas.

A run name resolves to a :class:`Run`: a model name, a :class:`ModelConfig` derived from
``params.yaml``'s ``model`` section with one switch changed, an iteration budget and a seed:

- ``fdrnet``: the main model as configured; ``dncnn`` / ``owan``: the baselines.
- ``fl<N>``: ``n_flayers = N`` (Table 6, left); ``ch<N>``: ``channels = N`` (Table 6, right).
- ``noaux``: ``use_aux = false``; ``nofdm``: ``use_fdm = false`` (Table 5).
- ``seed<N>``: the main model trained with seed ``seed + N`` (seed-to-seed spread).
- ``input``: not a model; the distorted input itself, for evaluation only.
- ``<track>_<run>`` with track ``didhy``, ``deblur`` or ``derain``: ``<run>`` trained on that track's
  training set and evaluated on its test set (Table 2: DID-HY; Tables 3-4: single distortions).
  Without a prefix a run is trained on the hybrid-distortion set at ``synthesis.train_level`` and
  evaluated on every ``synthesis.test_levels`` set (Table 1).

Ablation runs use ``ablations.iterations`` when it is non-zero, else ``train.iterations``.
"""
from __future__ import annotations

import dataclasses
import re
from typing import NamedTuple

from fdr.config import Config, ConfigError, ModelConfig

BASELINES = ("dncnn", "owan")
TRACKS = ("didhy", "deblur", "derain")


class Run(NamedTuple):
    model_name: str
    model_cfg: ModelConfig
    iterations: int
    seed: int
    train_set: str = "train"  # folder under <data.root>/patches
    val_set: str = "test_moderate"
    test_sets: dict = {}  # metrics key -> folder under <data.root>/patches


def test_sets(cfg: Config, run: str) -> dict[str, str]:
    """``{metrics key: patch folder}`` a run is evaluated on (``input`` = the hybrid levels and every track)."""
    track = run.split("_", 1)[0] if "_" in run else None
    if track in TRACKS:
        return {track: f"{track}_test"}
    sets = {level: f"test_{level}" for level in cfg.synthesis.test_levels}
    if run == "input":
        sets.update({t: f"{t}_test" for t in TRACKS})
    return sets


def resolve(cfg: Config, run: str) -> Run:
    """Resolve ``run`` against ``cfg``; raise :class:`ConfigError` for an unknown name."""
    track, _, rest = run.partition("_")
    if rest and track in TRACKS:
        spec = _resolve_model(cfg, rest)
        return spec._replace(train_set=f"{track}_train", val_set=f"{track}_test", test_sets=test_sets(cfg, run))
    return _resolve_model(cfg, run)._replace(
        val_set=f"test_{cfg.synthesis.train_level}", test_sets=test_sets(cfg, run)
    )


def _resolve_model(cfg: Config, run: str) -> Run:
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
        f"run {run!r}: unknown run name (expected fdrnet, dncnn, owan, noaux, nofdm, fl<N>, ch<N> seed<N>, optionally prefixed by didhy_, deblur_ or derain_)"
    )
