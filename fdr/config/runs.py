"""``runs`` section of ``params.yaml``: the run table, one row per trained run.

A row names the ``params.yaml`` section that configures the run's architecture (``model`` = FDR-Net,
``baselines.dncnn``, ``baselines.owan``), its training and validation patch sets (folders under
``<data.root>/patches``) and what it changes: ``set`` overrides keys of that section, ``training`` keys of
the ``train`` section (a budget, a learning rate, ``beta``), ``seed`` offsets the global seed. The sweeps of
Table 6 are not rows: they come from ``ablations.flayers`` / ``ablations.channels`` (see :mod:`fdr.runs`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from .base import require

Section = Literal["model", "baselines.dncnn", "baselines.owan"]
ARCH = {"model": "fdrnet", "baselines.dncnn": "dncnn", "baselines.owan": "owan"}
TRACKS = ("didhy", "deblur", "derain", "pairs")  # tracks with <track>_train / _test sets (pairs: data.folder)
RUN_NAME = re.compile(r"[a-z][a-z0-9_]*")
RESERVED = re.compile(r"input|(fl|ch)[0-9]+")  # the distorted input and the sweep runs


@dataclass(frozen=True)
class RunConfig:
    """One row of the run table."""

    model: Section = "model"  # params section of the architecture
    train: str = "train"  # training patch set: train (hybrid, Table 1) or <track>_train
    val: str = "test_moderate"  # validation patch set (a test set of the same track)
    set: dict[str, Any] = field(default_factory=dict)  # the one switch: keys of the section, changed
    training: dict[str, Any] = field(default_factory=dict)  # keys of the train section, changed for this run
    seed: int = 0  # added to the global seed (seed replicas)

    @property
    def arch(self) -> str:
        return ARCH[self.model]

    @property
    def track(self) -> str:
        """``hybrid`` for runs trained on ``train``, else the track prefix of the training set."""
        return "hybrid" if self.train == "train" else self.train[: -len("_train")]

    def validate(self, path: str) -> None:
        tracks = "train or " + ", ".join(f"{t}_train" for t in TRACKS)
        require(self.train == "train" or self.train in {f"{t}_train" for t in TRACKS}, path, "train", tracks,
                self.train)
        val = {"test_mild", "test_moderate", "test_severe"} if self.track == "hybrid" else {f"{self.track}_test"}
        require(self.val in val, path, "val", f"a test set of the same track ({', '.join(sorted(val))})", self.val)
        require(0 <= self.seed < 2**16, path, "seed", "an integer offset in [0, 2^16)", self.seed)


def default_runs() -> dict[str, RunConfig]:
    """The paper's runs: FDR-Net and the baselines on the hybrid set (Table 1) and DID-HY (Table 2), FDR-Net on
    the single-distortion tracks (Tables 3-4), the Table 5 ablations and two seed replicas of the DID-HY model
    (Tables 5-6 are measured on DID-HY)."""
    didhy = {"train": "didhy_train", "val": "didhy_test"}
    rows = {"fdrnet": RunConfig(), "didhy_fdrnet": RunConfig(**didhy)}
    for section in ("baselines.dncnn", "baselines.owan"):
        rows[ARCH[section]] = RunConfig(model=section)
        rows[f"didhy_{ARCH[section]}"] = RunConfig(model=section, **didhy)
    rows.update({f"{t}_fdrnet": RunConfig(train=f"{t}_train", val=f"{t}_test") for t in ("deblur", "derain")})
    rows["noaux"] = RunConfig(set={"use_aux": False}, **didhy)
    rows["nofdm"] = RunConfig(set={"use_fdm": False}, **didhy)
    rows.update({f"seed{k}": RunConfig(seed=k, **didhy) for k in (1, 2)})
    return rows


def check_name(name: str, path: str) -> None:
    require(bool(RUN_NAME.fullmatch(name)) and not RESERVED.fullmatch(name), path, name,
            "a run name of lower-case letters, digits and _ (not input, fl<N> or ch<N>: those are reserved)", name)
