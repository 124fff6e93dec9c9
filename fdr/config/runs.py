"""The run table (``params.yaml: runs``): one row per trained run, and what each run is.

A row names the ``params.yaml`` section that configures the run's architecture (``model`` = FDR-Net,
``baselines.dncnn``, ``baselines.owan``), its training and validation patch sets (folders under
``<data.root>/patches``), what it changes (``set``: keys of that section; ``training``: keys of ``train``, such
as a budget or ``beta``; ``seed``: an offset of the global seed) and the paper's table row it answers (``paper``:
``table2.fdrnet``, ``table5.nofdm``; empty for runs the paper has no row for).

Run names resolve to a :class:`Run` (:func:`resolve`):

- a row of the table: as the row says;
- ``fl<N>`` / ``ch<N>``: the ``ablations.reference`` row with ``n_flayers = N`` / ``channels = N`` (the Table 6
  sweeps, listed in ``ablations.flayers`` / ``ablations.channels``);
- ``input`` is reserved: the distorted input itself, evaluated, never trained.

Every run has one **role** (:func:`role`), defined here and nowhere else:

- ``replica``: a seed replica of another row (:func:`replica_of`: the same row but for ``seed`` and ``paper``);
- ``baseline``: a row of another architecture (DnCNN, OWAN), trained or imported (``weights``: the released OWAN
  model, answering its paper row beside the trained one, :func:`imported`);
- ``main``: the FDR-Net row that answers one of the paper's comparison tables (Tables 1-4);
- ``reference``: ``ablations.reference`` (unless it is a main row), the FDR-Net row the ablations are trained
  like and compared with;
- ``ablation``: an FDR-Net row answering Table 5 or 6, and the Table 6 sweeps;
- ``control``: any other FDR-Net row (``beta0``, your own experiment).
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple, Optional

from .base import ConfigError, build, require, to_dict
from .train import TrainConfig

Section = Literal["model", "baselines.dncnn", "baselines.owan"]
ARCH = {"model": "fdrnet", "baselines.dncnn": "dncnn", "baselines.owan": "owan"}
TRACKS = ("didhy", "deblur", "derain", "pairs")  # tracks with <track>_train / _test sets (pairs: data.folder)
# The track each of the paper's tables is measured on (hybrid: the RL-Restore levels).
TABLE_TRACK = {"table1": "hybrid", "table2": "didhy", "table3": "deblur", "table4": "derain", "table5": "didhy",
               "table6": "didhy"}
COMPARISON_TABLES = ("table1", "table2", "table3", "table4")
ROLES = ("reference", "replica", "baseline", "main", "ablation", "control")
RUN_NAME = re.compile(r"[a-z][a-z0-9_]*")
RESERVED = re.compile(r"input|(fl|ch)[0-9]+")  # the distorted input and the sweep runs
PAPER_ROW = re.compile(r"(table[1-6])\.([a-z][a-z0-9_]*)")
SWEEPS = {"fl": "n_flayers", "ch": "channels"}  # sweep prefix -> the model key it sets
INPUT = "input"


@dataclass(frozen=True)
class RunConfig:
    """One row of the run table."""

    model: Section = "model"  # params section of the architecture
    train: str = "train"  # training patch set: train (hybrid, Table 1) or <track>_train
    val: str = "test_moderate"  # validation patch set (a test set of the same track)
    set: dict[str, Any] = field(default_factory=dict)  # the one switch: keys of the section, changed
    training: dict[str, Any] = field(default_factory=dict)  # keys of the train section, changed for this run
    seed: int = 0  # added to the global seed (seed replicas)
    paper: str = ""  # the paper's table row this run answers, <table>.<row> (reports/paper/<table>.json)
    weights: str = ""  # released weights the checkpoint is imported from instead of trained (fdr.train.imported)
    weights_sha256: str = ""  # the SHA-256 those weights must have ("": not checked)

    @property
    def arch(self) -> str:
        return ARCH[self.model]

    @property
    def track(self) -> str:
        """``hybrid`` for runs trained on ``train``, else the track prefix of the training set."""
        return "hybrid" if self.train == "train" else self.train[: -len("_train")]

    @property
    def paper_row(self) -> Optional[tuple[str, str]]:
        """``(table, row)`` of :attr:`paper`, or None."""
        return tuple(self.paper.split(".")) if self.paper else None

    def validate(self, path: str) -> None:
        tracks = "train or " + ", ".join(f"{t}_train" for t in TRACKS)
        require(self.train == "train" or self.train in {f"{t}_train" for t in TRACKS}, path, "train", tracks,
                self.train)
        val = {"test_mild", "test_moderate", "test_severe"} if self.track == "hybrid" else {f"{self.track}_test"}
        require(self.val in val, path, "val", f"a test set of the same track ({', '.join(sorted(val))})", self.val)
        require(0 <= self.seed < 2**16, path, "seed", "an integer offset in [0, 2^16)", self.seed)
        if self.weights:
            require(self.arch == "owan", path, "weights", "only on an OWAN row (model: baselines.owan): the released "
                    "OWAN model is the one importer", self.weights)
            require(not self.training and self.seed == 0, path, "weights", "a row that trains nothing (no training "
                    "switches, no seed offset)", self.weights)
        require(not self.weights_sha256 or re.fullmatch(r"[0-9a-f]{64}", self.weights_sha256) is not None, path,
                "weights_sha256", "64 lower-case hex digits", self.weights_sha256)
        match = PAPER_ROW.fullmatch(self.paper)
        require(not self.paper or match is not None, path, "paper", "<table>.<row>, e.g. table2.fdrnet", self.paper)
        if match:
            table = match.group(1)
            require(TABLE_TRACK[table] == self.track, path, "paper", f"a table of the run's track ({self.track}); "
                    f"{table} is measured on {TABLE_TRACK[table]}", self.paper)


def check_name(name: str, path: str) -> None:
    require(bool(RUN_NAME.fullmatch(name)) and not RESERVED.fullmatch(name), path, name,
            "a run name of lower-case letters, digits and _ (not input, fl<N> or ch<N>: those are reserved)", name)


# ------------------------------------------------------------------------------------------ roles


def replica_of(runs: dict[str, RunConfig], name: str) -> Optional[str]:
    """The row ``name`` replicates with another seed: the first other row equal to it but for ``seed`` and
    ``paper`` that has a lower seed offset (so the original of a group is the one with the lowest seed)."""
    row = runs[name]
    bare = dataclasses.replace(row, seed=0, paper="")
    for other, o in runs.items():
        if other != name and o.seed < row.seed and dataclasses.replace(o, seed=0, paper="") == bare:
            return other
    return None


def replicas(cfg, name: str) -> list[str]:
    """``name`` and its seed replicas, in table order (``[name]`` for a run without replicas or a sweep run)."""
    if name not in cfg.runs:
        return [name]
    return [name] + [r for r in cfg.runs if r != name and replica_of(cfg.runs, r) == name]


def role(cfg, name: str) -> str:
    """The role of run ``name`` (see the module docstring). A row that answers a comparison table is ``main``
    even when it is also the ablations' reference (the paper profile: Table 2's model is Table 5's full model)."""
    if name not in cfg.runs:
        sweep_row(cfg, name)  # raises for an unknown name
        return "ablation"
    row = cfg.runs[name]
    if replica_of(cfg.runs, name) is not None:
        return "replica"
    if row.model != "model":
        return "baseline"
    table = row.paper_row[0] if row.paper_row else None
    if table in COMPARISON_TABLES:
        return "main"
    if name == cfg.ablations.reference:
        return "reference"
    return "ablation" if table else "control"


def with_role(cfg, *roles: str) -> list[str]:
    """Rows of the run table (then the sweep runs) whose role is one of ``roles``, in table order."""
    names = list(cfg.runs) + sweep_runs(cfg)
    return [n for n in names if role(cfg, n) in roles]


def main_run(cfg, track: str) -> Optional[str]:
    """The main FDR-Net run of ``track`` (the first, when several rows answer the track's table)."""
    return next((n for n in with_role(cfg, "main") if cfg.runs[n].track == track), None)


def answers(cfg) -> dict[tuple[str, str], str]:
    """``{(table, paper row): run}``: the run of ours that answers each of the paper's rows we run. The ablations'
    reference also answers Table 5's full model and Table 6's columns of its configuration; a sweep run ``fl<N>``
    / ``ch<N>`` answers Table 6's column of that name."""
    out = {cfg.runs[n].paper_row: n for n in cfg.runs
           if cfg.runs[n].paper_row and role(cfg, n) != "replica" and not cfg.runs[n].weights}
    ref = cfg.ablations.reference
    if ref:
        m = resolve(cfg, ref).model_cfg
        out.setdefault(("table5", "fdrnet"), ref)
        out.setdefault(("table6", f"fl{m.n_flayers}"), ref)
        out.setdefault(("table6", f"ch{m.channels}"), ref)
    for n in sweep_runs(cfg):
        out.setdefault(("table6", n), n)
    return out


def imported(cfg) -> dict[str, tuple[str, str]]:
    """``{run: (table, paper row)}``: rows whose checkpoint is imported (``weights``), beside the paper's row they
    answer (Table 1's OP-Attention: the released OWAN model, shown next to the one we train)."""
    return {n: row.paper_row for n, row in cfg.runs.items() if row.weights and row.paper_row}


# ------------------------------------------------------------------------------------------ resolving


class Run(NamedTuple):
    name: str
    model_name: str  # fdrnet | dncnn | owan
    model_cfg: Any  # ModelConfig, DnCNNConfig or OWANConfig
    train_cfg: TrainConfig  # the train section with the row's ``training`` switches applied
    seed: int
    train_set: str = "train"  # folder under <data.root>/patches
    val_set: str = "test_moderate"
    test_sets: dict = {}  # metrics key -> folder under <data.root>/patches
    track: str = "hybrid"


def section(cfg, dotted: str):
    """The config object at a dotted section path (``model``, ``baselines.dncnn``)."""
    node = cfg
    for key in dotted.split("."):
        node = getattr(node, key)
    return node


def test_sets(cfg, track: str) -> dict[str, str]:
    """``{metrics key: patch folder}`` of a track (``input``: the hybrid levels and every track)."""
    if track in TRACKS:
        return {track: f"{track}_test"}
    sets = {level: f"test_{level}" for level in cfg.synthesis.test_levels}
    if cfg.data.source == "folder":
        sets["pairs"] = "pairs_test"  # the user's own pairs, scored where present
    if track == INPUT:
        sets.update({t: f"{t}_test" for t in TRACKS})
    return sets


def sweep_runs(cfg) -> list[str]:
    """The Table 6 sweep runs: ``fl<N>`` for ``ablations.flayers``, ``ch<N>`` for ``ablations.channels``."""
    return [f"fl{n}" for n in cfg.ablations.flayers] + [f"ch{c}" for c in cfg.ablations.channels]


def sweep_row(cfg, run: str) -> RunConfig:
    """The run-table row a sweep run ``fl<N>`` / ``ch<N>`` stands for: the ``ablations.reference`` row with
    one model key changed."""
    match = re.fullmatch(r"(fl|ch)([1-9][0-9]*)", run)
    if not match or not cfg.ablations.reference:
        raise ConfigError(f"run {run!r}: unknown run name (expected a row of params.yaml's runs table: "
                          f"{', '.join(cfg.runs) or 'none'}; or fl<N> / ch<N> with ablations.reference set)")
    ref = cfg.runs[cfg.ablations.reference]
    return dataclasses.replace(ref, set={**ref.set, SWEEPS[match.group(1)]: int(match.group(2))}, paper="")


def resolve(cfg, run: str) -> Run:
    """Resolve ``run`` against ``cfg``; raise :class:`ConfigError` for an unknown name."""
    if run == INPUT:
        raise ConfigError("run 'input': the distorted input is evaluated, not trained")
    row = cfg.runs[run] if run in cfg.runs else sweep_row(cfg, run)
    base = section(cfg, row.model)  # the row's switches, typed as their sections type them (lr: "2e-3" a number)
    model_cfg = build(type(base), {**to_dict(base), **row.set}, f"runs.{run}.set") if row.set else base
    train_cfg = build(TrainConfig, {**to_dict(cfg.train), **row.training}, f"runs.{run}.training") \
        if row.training else cfg.train
    return Run(run, row.arch, model_cfg, train_cfg, cfg.seed + row.seed, row.train, row.val,
               test_sets(cfg, row.track), row.track)
