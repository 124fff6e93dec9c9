"""Our numbers beside the paper's Tables 1-6: the one comparison model behind ``reports/report.md`` and
``python -m fdr compare``.

Our numbers are ``reports/metrics/<run>.json`` (``{"<set>": {"psnr", "ssim", "psnr_y", "ssim_y", "patches"}}``),
read through ``dvc metrics show --json`` when DVC answers, else straight from the files, plus the parameter
counts of ``models/<run>/summary.json``; the paper's come from :mod:`fdr.paper`.

Whole-image scores (``reports/metrics/whole/<run>.json``, :mod:`fdr.evaluate_whole`) join our numbers as the
set ``<track>_image``; Table 2 (DID-HY, scored by the paper on whole 512 x 512 images) reads ``didhy_image`` when
present, and its per-patch ``didhy`` stays beside it as an extra column of ours.

Where the paper is silent or our data differ:
- Tables 5-6 are ablations on DID-HY. When our runs have no ``didhy`` numbers, they are compared on
  ``moderate`` (the training level) and every row says so; an ablation is then read by its *effect*
  (run minus the full model on the same data), not by its absolute value.
- Table 6's 3-FD-layer and 32-channel columns are the main model: when no explicit ``fl<N>``/``ch<N>``
  run exists for the configured ``model.n_flayers``/``model.channels``, the ``fdrnet`` run stands in.
"""
from __future__ import annotations

import json
import math
import re
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional

from fdr.paper import ABLATION_TABLES, PAPER_DATA, PAPER_DIR, SCORES, PaperDataError, PaperTable, load_tables, \
    paper_reference

METRICS_DIR = Path("reports/metrics")
WHOLE_DIR = METRICS_DIR / "whole"
PER_IMAGE_DIR = Path("reports/per_image")
IMAGE_SUFFIX = "_image"  # our set key of a track's whole-image scores: didhy -> didhy_image
# Paper sets our whole-image scores answer (the paper scores these tables per whole image).
WHOLE_SETS = {"table2": {"didhy": "didhy" + IMAGE_SUFFIX}}
MODELS_DIR = Path("models")
INPUT_RUN = "input"  # ours-only reference row: the distorted input itself
SEED_RE = re.compile(r"^(?:fdrnet[_-])?seed(\d+)$")
NOT_RUN = "not run"  # a run of ours that is missing
NOT_IMPLEMENTED = "n/a"  # a method of the paper's tables this project does not re-implement
OUR_RUNS = {"fdrnet", "dncnn", "owan", "noaux", "nofdm", INPUT_RUN}
ABLATION_RE = re.compile(r"^(fl|ch)[1-9][0-9]*$")
EMBEDDED_NOTE = (
    "Data source is 'embedded' (photos shipped with scikit-image/matplotlib), not the paper's images: "
    "these numbers are NOT comparable to the paper (different images, different training budget). "
    "Read only the ordering of methods and the sign of ablation effects."
)
EMBEDDED_TABLE_NOTE = "NOT comparable to the paper: different images (data source 'embedded')."
FOLDER_NOTE = ("Data source is 'folder' (the user's own images, data.folder): these numbers are NOT comparable "
               "to the paper (different images, different training budget).")
FOLDER_TABLE_NOTE = "NOT comparable to the paper: different images (data source 'folder')."
OWN_IMAGES = {"embedded": (EMBEDDED_NOTE, EMBEDDED_TABLE_NOTE), "folder": (FOLDER_NOTE, FOLDER_TABLE_NOTE)}
# Tables whose runs are trained on their own track: our ``didhy_fdrnet`` answers Table 2's ``fdrnet`` row.
TRACK_PREFIX = {"table2": "didhy_", "table3": "deblur_", "table4": "derain_"}


def _dvc_metrics(files: list[Path], cwd: Path) -> Optional[dict[str, dict]]:
    """``dvc metrics show --json FILES`` -> ``{path: data}``; None when DVC does not answer."""
    try:
        proc = subprocess.run(
            ["dvc", "metrics", "show", "--json", *[str(f) for f in files]],
            cwd=cwd, capture_output=True, text=True, timeout=120,
        )
        if proc.returncode != 0 or not proc.stdout.strip():
            return None
        answer = json.loads(proc.stdout)
    except (OSError, subprocess.SubprocessError, json.JSONDecodeError):
        return None
    if not isinstance(answer, dict) or len(answer) != 1:
        return None
    (workspace,) = answer.values()
    data = workspace.get("data") if isinstance(workspace, dict) else None
    if not isinstance(data, dict):
        return None
    out = {}
    for path, entry in data.items():
        if isinstance(entry, dict) and isinstance(entry.get("data"), dict):
            out[path] = entry["data"]
    return out


def read_metrics(metrics_dir: str | Path = METRICS_DIR, use_dvc: bool = True, cwd: str | Path = ".") -> tuple[dict, str]:
    """Our metrics as ``({run: {set: {metric: value}}}, how)``; ``how`` says whether DVC or the files answered.

    ``run`` is the file's stem (``fdrnet``, ``dncnn``, ``input``, ``fl1``, ``seed1`` ...)."""
    cwd = Path(cwd)
    folder = Path(metrics_dir)
    files = sorted((cwd / folder).glob("*.json")) if not folder.is_absolute() else sorted(folder.glob("*.json"))
    if not files:
        return {}, "no metrics files"
    rel = [f.relative_to(cwd) if not folder.is_absolute() else f for f in files]
    if use_dvc:
        answered = _dvc_metrics(rel, cwd)
        if answered is not None:
            by_name = {Path(p).name: d for p, d in answered.items()}
            if all(f.name in by_name for f in files):
                return {f.stem: by_name[f.name] for f in files}, "dvc metrics show"
    out = {}
    for f in files:
        try:
            data = json.loads(f.read_text())
        except json.JSONDecodeError as exc:
            raise PaperDataError(f"{f}: not valid JSON ({exc})") from exc
        if isinstance(data, dict):
            out[f.stem] = data
    return out, f"files in {folder}"


def read_summaries(models_dir: str | Path = MODELS_DIR) -> dict[str, dict]:
    """``models/<run>/summary.json`` of every trained run (iterations, wall_s, params, device ...)."""
    out = {}
    for f in sorted(Path(models_dir).glob("*/summary.json")):
        try:
            data = json.loads(f.read_text())
        except json.JSONDecodeError as exc:
            raise PaperDataError(f"{f}: not valid JSON ({exc})") from exc
        if isinstance(data, dict):
            out[f.parent.name] = data
    return out


def aliases(n_flayers: int, channels: int, reference: str = "fdrnet") -> dict[str, str]:
    """The ablation tables' full-model entries our reference run answers (the run the ablations are trained
    like, ``ablations.reference``): Table 5's FDM + Aux row and Table 6's columns of its configuration."""
    return {"fdrnet": reference, f"fl{n_flayers}": reference, f"ch{channels}": reference}


def _lookup(ours: Mapping[str, dict], run: str, alias: Mapping[str, str],
            prefix: str = "") -> tuple[Optional[dict], Optional[str]]:
    if prefix:
        return (ours[prefix + run], prefix + run) if prefix + run in ours else (None, None)
    for name in (alias.get(run), run):
        if name in ours:
            return ours[name], name
    return None, None


@dataclass
class Row:
    """One cell pair: the paper's value and ours for (run, set, metric)."""

    table: str
    run: str
    label: str
    set: str  # the paper's test set
    metric: str  # psnr | ssim | params
    paper: Optional[float]
    ours: Optional[float]
    ours_run: Optional[str] = None  # metrics file that answered (fdrnet for an aliased fl3/ch32)
    ours_set: Optional[str] = None  # set our numbers are taken from (differs from ``set`` when substituted)
    paper_effect: Optional[float] = None  # ablation tables: run minus the paper's full model
    ours_effect: Optional[float] = None  # ablation tables: run minus our full model on the same set

    @property
    def delta(self) -> Optional[float]:
        if self.paper is None or self.ours is None:
            return None
        return self.ours - self.paper

    @property
    def substituted(self) -> bool:
        return self.ours_set is not None and self.ours_set != self.set

    def to_dict(self) -> dict:
        out = asdict(self)
        out["delta"] = self.delta
        return out


def ours_reference(ours: Mapping[str, dict], alias: Mapping[str, str]) -> Optional[str]:
    """Our full-model run an ablation row is measured against: the ablations' reference run."""
    ref = alias.get("fdrnet", "fdrnet")
    return ref if ref in ours else None


def ours_set_for(table: PaperTable, ours: Mapping[str, dict], alias: Mapping[str, str]) -> dict[str, Optional[str]]:
    """Map each paper set to the set we compare on: itself when any of our rows has it; for ablation
    tables, else ``moderate`` (then any set our full model has)."""
    out: dict[str, Optional[str]] = {}
    for s in table.sets:
        prefix = TRACK_PREFIX.get(table.name, "")
        whole = WHOLE_SETS.get(table.name, {}).get(s)
        if whole and any(isinstance((_lookup(ours, r, alias, prefix)[0] or {}).get(whole), dict) for r in table.rows):
            out[s] = whole
            continue
        have = any(isinstance((_lookup(ours, r, alias, prefix)[0] or {}).get(s), dict) for r in table.rows)
        if have or table.name not in ABLATION_TABLES:
            out[s] = s
            continue
        ref = ours.get(alias.get("fdrnet", "fdrnet"), {})
        candidates = ["moderate"] + [k for k, v in ref.items() if isinstance(v, dict)]
        out[s] = next((c for c in candidates if isinstance(ref.get(c), dict)), None)
    return out


def _value(entry: Optional[dict], set_: Optional[str], metric: str) -> Optional[float]:
    if entry is None or set_ is None:
        return None
    cell = entry.get(set_)
    if isinstance(cell, dict) and isinstance(cell.get(metric), (int, float)):
        return float(cell[metric])
    return None


def compare_table(
    table: PaperTable,
    ours: Mapping[str, dict],
    summaries: Optional[Mapping[str, dict]] = None,
    alias: Optional[Mapping[str, str]] = None,
) -> list[Row]:
    """Rows of paper vs ours for one table (every paper row; plus our ``input`` row when we have it). ``alias``
    (see :func:`aliases`) applies to the ablation tables only."""
    alias = dict(alias or {}) if table.name in ABLATION_TABLES else {}
    summaries = summaries or {}
    set_map = ours_set_for(table, ours, alias)
    rows: list[Row] = []
    runs = list(table.rows)
    if table.name not in ABLATION_TABLES and any(isinstance(ours.get(INPUT_RUN, {}).get(s), dict) for s in table.sets):
        runs.append(INPUT_RUN)
    for run in runs:
        paper_entry = table.rows.get(run, {})
        entry, answered = _lookup(ours, run, alias, TRACK_PREFIX.get(table.name, "") if run != INPUT_RUN else "")
        label = table.label(run) if run != INPUT_RUN else "Distorted input (ours)"
        if "params" in paper_entry:
            answered_p = answered or alias.get(run, run)
            p = (summaries.get(run) or summaries.get(answered_p) or {}).get("params")
            rows.append(Row(table.name, run, label, "-", "params", float(paper_entry["params"]),
                            float(p) if isinstance(p, (int, float)) else None,
                            ours_run=(run if run in summaries else answered_p) if p is not None else None))
        for s in table.sets:
            our_set = set_map.get(s)
            for metric in SCORES:
                paper_v = _value(paper_entry, s, metric)
                ours_v = _value(entry, our_set, metric)
                row = Row(table.name, run, label, s, metric, paper_v, ours_v,
                          ours_run=answered if ours_v is not None else None,
                          ours_set=our_set)
                if table.name in ABLATION_TABLES and run != INPUT_RUN:
                    p_ref = _value(table.rows.get(paper_reference(table.name, run)), s, metric)
                    if paper_v is not None and p_ref is not None:
                        row.paper_effect = paper_v - p_ref
                    o_ref_run = ours_reference(ours, alias)
                    o_ref = _value(ours.get(o_ref_run) if o_ref_run else None, our_set, metric)
                    if ours_v is not None and o_ref is not None:
                        row.ours_effect = ours_v - o_ref
                rows.append(row)
    return rows


def has_ours(rows: list[Row]) -> bool:
    return any(r.ours is not None and r.metric in SCORES and r.run != INPUT_RUN for r in rows)


def is_ours(run: str) -> bool:
    """Whether this project trains/evaluates ``run`` (the paper's other methods are not re-implemented)."""
    run = run.split("_", 1)[1] if run.split("_", 1)[0] in ("didhy", "deblur", "derain") else run
    return run in OUR_RUNS or bool(ABLATION_RE.match(run)) or bool(SEED_RE.match(run))


def missing_text(run: str) -> str:
    """What a missing number of ours reads: "not run" for our runs, "n/a" for methods not re-implemented."""
    return NOT_RUN if is_ours(run) else NOT_IMPLEMENTED


def datasets_used(data: Any) -> frozenset:
    """The data sets a pipeline with ``data`` (the config's data section) measures on: its source, plus GoPro and
    DID-MDN when their archives are given (the deblur track, DID-HY's rain and the derain track use them)."""
    extra = {name for name, arch in (("gopro", data.gopro), ("did-mdn", data.did_mdn)) if arch.url is not None}
    return frozenset({data.source} | extra)


def comparability(source: Optional[str], table: Optional[str] = None,
                  datasets: Optional[frozenset] = None) -> Optional[str]:
    """A plain warning when our numbers cannot be set against the paper's; None when the data match.
    ``datasets``: every data set used (:func:`datasets_used`; default: the source alone)."""
    if source is None:
        return "Data source unknown (no params.yaml): do not compare these numbers with the paper."
    if source in OWN_IMAGES:
        return OWN_IMAGES[source][table is not None]
    if table is None:
        return None
    needed, what = PAPER_DATA[table]
    if needed not in (datasets or {source}):
        return (f"The paper measured this table on {what}; data source here is {source!r}: "
                "numbers are not comparable to the paper.")
    return (f"Same kind of data as the paper ({what}), regenerated by this pipeline: the paper's exact "
            "test images/patches were not available, so expect differences beyond training noise.")


def seed_spread(ours: Mapping[str, dict], main: str = "fdrnet") -> dict:
    """Spread of the main model over seed replicas (``seed<N>.json`` / ``fdrnet_seed<N>.json`` beside ``fdrnet.json``).

    Returns ``{"runs": [...], "sets": {set: {metric: {"n", "mean", "std", "min", "max"}}}}``; ``sets`` is
    empty when fewer than two runs exist (spread not measured)."""
    runs = ([main] if main in ours else []) + sorted(r for r in ours if SEED_RE.match(r))
    out: dict = {"runs": runs, "sets": {}}
    if len(runs) < 2:
        return out
    sets = [k for k, v in ours[runs[0]].items() if isinstance(v, dict)]
    for s in sets:
        for metric in SCORES:
            vals = [_value(ours[r], s, metric) for r in runs]
            vals = [v for v in vals if v is not None]
            if len(vals) < 2:
                continue
            mean = sum(vals) / len(vals)
            std = math.sqrt(sum((v - mean) ** 2 for v in vals) / (len(vals) - 1))
            out["sets"].setdefault(s, {})[metric] = {
                "n": len(vals), "mean": mean, "std": std, "min": min(vals), "max": max(vals),
            }
    return out


def fmt(value: Optional[float], metric: str, signed: bool = False, missing: str = NOT_RUN) -> str:
    """PSNR to 2 decimals, SSIM to 4, parameter counts in millions."""
    if value is None:
        return missing
    sign = "+" if signed else ""
    if metric == "params":
        return f"{value / 1e6:{sign}.2f}M"
    if metric == "ssim":
        return f"{value:{sign}.4f}"
    return f"{value:{sign}.2f}"


@dataclass
class Comparison:
    """Our numbers beside the paper's: per-table rows, the data-source notes, the seed spread."""

    source: Optional[str]  # data.source of params.yaml (None: no params.yaml)
    how: str  # what answered for our metrics (DVC or the files)
    tables: dict[str, PaperTable]
    rows: dict[str, list[Row]] = field(default_factory=dict)
    ours: dict = field(default_factory=dict)  # {run: metrics} as read
    summaries: dict = field(default_factory=dict)  # {run: models/<run>/summary.json}
    alias: dict = field(default_factory=dict)  # Table 6 columns the main run stands in for
    params: Optional[dict] = None  # params.yaml as plain data
    analysis: Optional[dict] = None  # reports/metrics/analysis.json (the analyze stage's metrics, not a run)

    per_patch: dict = field(default_factory=dict)  # reports/per_patch: {run: {set: {metric: array}}}
    datasets: frozenset = frozenset()  # every data set used (datasets_used); empty: the source alone

    @property
    def reference(self) -> str:
        """Our run the ablations are compared with (``ablations.reference``)."""
        return self.alias.get("fdrnet", "fdrnet")

    @property
    def spread(self) -> dict:
        return seed_spread(self.ours, self.reference)

    def effects(self) -> list:
        """Every difference the report states, with its paired interval and verdict (:mod:`fdr.effects`)."""
        from fdr.effects import collect_effects

        paper = {r.run: r.paper_effect for name in ABLATION_TABLES for r in self.rows.get(name, [])
                 if r.metric == "psnr" and r.paper_effect is not None}
        return collect_effects(self.ours, self.per_patch, self.params, self.reference, paper)

    def note(self, table: Optional[str] = None) -> Optional[str]:
        return comparability(self.source, table, self.datasets or None)

    def to_dict(self) -> dict:
        return {
            "data_source": self.source,
            "comparable": self.source is not None and self.source not in OWN_IMAGES,
            "note": self.note(),
            "metrics_read_with": self.how,
            "tables": {
                name: {
                    "title": self.tables[name].title,
                    "source": self.tables[name].source,
                    "note": self.note(name),
                    "have_ours": has_ours(rows),
                    "rows": [r.to_dict() for r in rows],
                }
                for name, rows in self.rows.items()
            },
        }


def merge_whole(into: dict, whole: Mapping[str, Mapping]) -> None:
    """Add each run's whole-image sets to ``into`` (``{run: {set: ...}}``) as ``<set>_image``."""
    for run, sets in whole.items():
        for set_, value in sets.items():
            if isinstance(value, dict):
                into.setdefault(run, {})[set_ + IMAGE_SUFFIX] = value


def load(root: str | Path = ".", params: str = "params.yaml", use_dvc: bool = True) -> Comparison:
    """Read params.yaml (data source, main model), the paper's tables, our metrics and run summaries below
    ``root`` and pair them up. A missing params.yaml leaves the source unknown; a bad one raises ConfigError."""
    from fdr.config import load as load_params, to_dict

    root = Path(root)
    source, alias, tree, datasets = None, aliases(3, 32), None, frozenset()
    if (root / params).is_file():
        cfg = load_params(root / params)
        alias = aliases(cfg.model.n_flayers, cfg.model.channels, cfg.ablations.reference)
        source, tree, datasets = cfg.data.source, to_dict(cfg), datasets_used(cfg.data)
    tables = load_tables(root / PAPER_DIR)
    ours, how = read_metrics(METRICS_DIR, use_dvc=use_dvc, cwd=root)
    from fdr.effects import PER_PATCH_DIR, load_per_patch

    per_patch = load_per_patch(root / PER_PATCH_DIR)
    whole, _ = read_metrics(WHOLE_DIR, use_dvc=use_dvc, cwd=root)
    merge_whole(ours, whole)
    merge_whole(per_patch, load_per_patch(root / PER_IMAGE_DIR))
    result = Comparison(source, how, tables, ours=ours, summaries=read_summaries(root / MODELS_DIR), alias=alias,
                        params=tree, analysis=ours.pop("analysis", None), per_patch=per_patch, datasets=datasets)
    for name, table in tables.items():
        result.rows[name] = compare_table(table, ours, result.summaries, alias)
    return result
