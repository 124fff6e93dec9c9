"""Our numbers beside the paper's Tables 1-6: the one comparison model behind ``reports/report.md`` and
``python -m fdr compare``.

Our numbers are ``reports/metrics/<run>.json`` (``{"<set>": {"psnr", "ssim", "psnr_y", "ssim_y", "patches"}}``),
read from the files, plus the parameter counts of ``models/<run>/summary.json``; the paper's come from
:mod:`fdr.report.paper`. Which run answers which of the paper's rows is the run table's business
(:func:`fdr.config.runs.answers`: each row's ``paper`` key; the ablations' reference answers Table 5's full model
and Table 6's columns of its configuration; the sweeps ``fl<N>`` / ``ch<N>`` their columns).

Whole-image scores (``reports/metrics/whole/<run>.json``, :mod:`fdr.evaluate.whole`) join our numbers as the
set ``<track>_image``. Every table measured on whole images reads them when present (:data:`WHOLE_SETS`): Table 2
(DID-HY, 512 x 512), Tables 5-6 (the same DID-HY test images: the paper's full-model row in Table 5 is Table 2's,
24.97 / 0.680) and Tables 3-4 (GoPro and DID-MDN test images), the per-patch scores of the same runs staying
beside them. Tables 3-4 then read the metrics of the convention their captions cite (:data:`CITED_CONVENTION`:
``psnr_srn`` / ``ssim_srn``, ``psnr_spanet`` / ``ssim_spanet``, :mod:`fdr.evaluate.metrics`), OWAN's beside them.

Where the paper is silent or our data differ: Tables 5-6 are ablations on DID-HY; when our runs have no
``didhy`` numbers, they are compared on ``moderate`` (the training level) and every row says so; an ablation is
then read by its *effect* (run minus the full model on the same data), not by its absolute value.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional

from fdr.config.runs import INPUT, answers, imported, replica_of, replicas
from fdr.report.datanotes import cut_note, data_note
from fdr.report.paper import (
    ABLATION_TABLES,
    PAPER_DATA,
    PAPER_DIR,
    SCORES,
    PaperDataError,
    PaperTable,
    load_tables,
    paper_reference,
)

METRICS_DIR = Path("reports/metrics")
WHOLE_DIR = METRICS_DIR / "whole"
PER_PATCH_DIR = Path("reports/per_patch")
PER_IMAGE_DIR = Path("reports/per_image")
MODELS_DIR = Path("models")
METRIC_KEYS = ("psnr", "ssim", "psnr_y", "ssim_y", "psnr_srn", "ssim_srn", "psnr_spanet", "ssim_spanet",
               "patches", "images")  # what an evaluation writes per set
IMAGE_SUFFIX = "_image"  # our set key of a track's whole-image scores: didhy -> didhy_image
# Paper sets our whole-image scores answer (the paper scores these tables per whole image).
WHOLE_SETS = {"table2": {"didhy": "didhy" + IMAGE_SUFFIX}, "table3": {"deblur": "deblur" + IMAGE_SUFFIX},
              "table4": {"derain": "derain" + IMAGE_SUFFIX}, "table5": {"didhy": "didhy" + IMAGE_SUFFIX},
              "table6": {"didhy": "didhy" + IMAGE_SUFFIX}}
# The metric convention a table's caption cites (fdr.evaluate.metrics.CONVENTIONS), read from whole-image scores:
# our metric is <psnr|ssim>_<convention>. The other tables cite OP-Attention's, our psnr / ssim.
CITED_CONVENTION = {"table3": "srn", "table4": "spanet"}
INPUT_RUN = INPUT  # ours-only reference row: the distorted input itself
NOT_RUN = "not run"  # a run of ours that is missing
NOT_IMPLEMENTED = "n/a"  # a method of the paper's tables this project does not re-implement
# The paper's rows this project implements (paper row keys, reports/paper/*.json); the others read "n/a".
IMPLEMENTED = re.compile(r"fdrnet|dncnn|owan|nofdm|noaux|(fl|ch)[1-9][0-9]*")
IMPORTED = "@"  # row key of an imported run of ours: <paper row>@<run> (fdr.config.runs.imported)
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


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise PaperDataError(f"{path}: not valid JSON ({exc})") from exc


def _check_metrics(path: Path, data: Any) -> dict:
    """A metrics file maps sets to ``{metric: number}``; a metric value that is not a number is an error naming it."""
    if not isinstance(data, dict):
        raise PaperDataError(f"{path}: expected a JSON object of test sets")
    for set_, cell in data.items():
        if not isinstance(cell, dict):
            continue
        for metric, value in cell.items():
            if metric in METRIC_KEYS and value is not None and (isinstance(value, bool)
                                                                or not isinstance(value, (int, float))):
                raise PaperDataError(f"{path}: {set_}.{metric}: expected a number, got {value!r}")
    return data


def read_metrics(metrics_dir: str | Path = METRICS_DIR, cwd: str | Path = ".") -> dict:
    """Our metrics ``{run: {set: {metric: value}}}`` from ``<cwd>/<metrics_dir>/*.json`` (``run``: the file's stem)."""
    folder = Path(cwd) / metrics_dir
    return {f.stem: _check_metrics(f, _read_json(f)) for f in sorted(folder.glob("*.json"))}


def read_summaries(models_dir: str | Path = MODELS_DIR) -> dict[str, dict]:
    """``models/<run>/summary.json`` of every trained run (iterations, wall_s, params, device ...)."""
    out = {}
    for f in sorted(Path(models_dir).glob("*/summary.json")):
        data = _read_json(f)
        if isinstance(data, dict):
            out[f.parent.name] = data
    return out


@dataclass
class Row:
    """One cell pair: the paper's value and ours for (run, set, metric)."""

    table: str
    run: str  # the paper's row key
    label: str
    set: str  # the paper's test set
    metric: str  # psnr | ssim | params
    paper: Optional[float]
    ours: Optional[float]
    ours_run: Optional[str] = None  # our run that answered (fdrnet_ref for Table 5's full model)
    ours_set: Optional[str] = None  # set our numbers are taken from (differs from ``set`` when substituted)
    ours_metric: Optional[str] = None  # our metric, when another convention's than ``metric`` (Tables 3-4)
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


def _has(entry: Optional[dict], set_: str) -> bool:
    return isinstance((entry or {}).get(set_), dict)


def ours_set_for(table: PaperTable, ours: Mapping[str, dict], mine: Mapping[str, str],
                 reference: Optional[str]) -> dict[str, Optional[str]]:
    """Map each paper set to the set we compare on (``mine``: paper row -> our run): the whole-image set where the
    paper scores whole images and we have it, else the set itself when any of our rows has it; for ablation
    tables, else ``moderate`` (then any set the reference has)."""
    out: dict[str, Optional[str]] = {}
    entries = [ours.get(run) for run in mine.values()]
    for s in table.sets:
        whole = WHOLE_SETS.get(table.name, {}).get(s)
        if whole and any(_has(e, whole) for e in entries):
            out[s] = whole
        elif any(_has(e, s) for e in entries) or table.name not in ABLATION_TABLES:
            out[s] = s
        else:
            ref = ours.get(reference or "", {})
            candidates = ["moderate"] + [k for k, v in ref.items() if isinstance(v, dict)]
            out[s] = next((c for c in candidates if _has(ref, c)), None)
    return out


def our_metric(table: str, our_set: Optional[str], metric: str) -> str:
    """The metric of ours a paper cell is compared with: the cited convention's (``psnr_srn``) on whole-image
    scores of a table that cites one, else the OWAN metric of the same name."""
    if our_set and our_set.endswith(IMAGE_SUFFIX) and table in CITED_CONVENTION:
        return f"{metric}_{CITED_CONVENTION[table]}"
    return metric


def _value(entry: Optional[dict], set_: Optional[str], metric: str) -> Optional[float]:
    if entry is None or set_ is None:
        return None
    cell = entry.get(set_)
    if isinstance(cell, dict) and isinstance(cell.get(metric), (int, float)):
        return float(cell[metric])
    return None


def _row_label(table: PaperTable, run: str, answered: Optional[str]) -> str:
    if run == INPUT_RUN:
        return "Distorted input (ours)"
    paper_row = run.split(IMPORTED)[0]
    return table.label(run) if run == paper_row else f"{table.label(paper_row)}, released weights (`{answered}`)"


def compare_table(table: PaperTable, ours: Mapping[str, dict], mine: Mapping[str, str],
                  summaries: Optional[Mapping[str, dict]] = None, reference: Optional[str] = None) -> list[Row]:
    """Rows of paper vs ours for one table: every paper row (``mine``: paper row -> our run answering it), then a
    row per imported run (``mine`` key ``<paper row>@<our run>``: the released OWAN model beside the one we train,
    against the same paper numbers), plus our ``input`` row for the comparison tables when we have it.
    ``reference``: our full model of the ablations."""
    summaries = summaries or {}
    mine = dict(mine)
    set_map = ours_set_for(table, ours, mine, reference)
    ablation = table.name in ABLATION_TABLES
    runs = list(table.rows) + [k for k in mine if IMPORTED in k]  # imported runs: <paper row>@<our run>
    if not ablation and any(_has(ours.get(INPUT_RUN), s) for s in table.sets):
        runs.append(INPUT_RUN)
        mine[INPUT_RUN] = INPUT_RUN
    rows: list[Row] = []
    for run in runs:
        paper_row = run.split(IMPORTED)[0]
        paper_entry = table.rows.get(paper_row, {})
        answered = mine.get(run)
        entry = ours.get(answered) if answered else None
        label = _row_label(table, run, answered)
        if "params" in paper_entry:
            p = (summaries.get(answered) or {}).get("params") if answered else None
            rows.append(Row(table.name, run, label, "-", "params", float(paper_entry["params"]),
                            float(p) if isinstance(p, (int, float)) else None,
                            ours_run=answered if p is not None else None))
        for s in table.sets:
            our_set = set_map.get(s)
            for metric in SCORES:
                mine_metric = our_metric(table.name, our_set, metric)
                paper_v, ours_v = _value(paper_entry, s, metric), _value(entry, our_set, mine_metric)
                row = Row(table.name, run, label, s, metric, paper_v, ours_v,
                          ours_run=answered if ours_v is not None else None, ours_set=our_set,
                          ours_metric=mine_metric if mine_metric != metric else None)
                if ablation:
                    p_ref = _value(table.rows.get(paper_reference(table.name, run)), s, metric)
                    if paper_v is not None and p_ref is not None:
                        row.paper_effect = paper_v - p_ref
                    o_ref = _value(ours.get(reference) if reference else None, our_set, metric)
                    if ours_v is not None and o_ref is not None:
                        row.ours_effect = ours_v - o_ref
                rows.append(row)
    return rows


def has_ours(rows: list[Row]) -> bool:
    return any(r.ours is not None and r.metric in SCORES and r.run != INPUT_RUN for r in rows)


def missing_text(run: str) -> str:
    """What a missing number of ours for the paper's row ``run`` reads: "not run" for a method this project
    implements (or an imported run of ours, ``<row>@<run>``), "n/a" for one it does not re-implement (RL-Restore,
    the deblurring and deraining methods)."""
    return NOT_RUN if run == INPUT_RUN or IMPORTED in run or IMPLEMENTED.fullmatch(run) else NOT_IMPLEMENTED


def datasets_used(data: Any) -> frozenset:
    """The data sets a pipeline with ``data`` (the config's data section) measures on: its source, plus GoPro and
    DID-MDN when their archives are given (the deblur track, DID-HY's rain and the derain track use them)."""
    extra = {name for name, arch in (("gopro", data.gopro), ("did-mdn", data.did_mdn)) if arch.url is not None}
    return frozenset({data.source} | extra)


def comparability(source: Optional[str], table: Optional[str] = None,
                  datasets: Optional[frozenset] = None, cfg: Any = None) -> Optional[str]:
    """A plain warning when our numbers cannot be set against the paper's; None when the data match.
    ``datasets``: every data set used (:func:`datasets_used`; default: the source alone). With ``cfg`` (the typed
    params) a table's note says which of the paper's data sets it used or replaced (:mod:`fdr.report.datanotes`)
    and names any subset of its test sets."""
    note = _source_note(source, table, datasets, cfg)
    cut = cut_note(cfg, table) if cfg is not None and table is not None else None
    return " ".join(t for t in (note, cut) if t) or None


def _source_note(source: Optional[str], table: Optional[str], datasets: Optional[frozenset],
                 cfg: Any) -> Optional[str]:
    if source is None:
        return "Data source unknown (no params.yaml): do not compare these numbers with the paper."
    if source in OWN_IMAGES:
        return OWN_IMAGES[source][table is not None]
    if table is None:
        return None
    if cfg is not None and source == "div2k":
        return data_note(cfg, table)
    needed, what = PAPER_DATA[table]
    if needed not in (datasets or {source}):
        return (f"The paper measured this table on {what}; data source here is {source!r}: "
                "numbers are not comparable to the paper.")
    return (f"Same kind of data as the paper ({what}), regenerated by this pipeline: the paper's exact "
            "test images/patches were not available, so expect differences beyond training noise.")


def seed_spread(ours: Mapping[str, dict], runs: list[str]) -> dict:
    """Spread of a run over its seed replicas ``runs`` (:func:`fdr.config.runs.replicas`; those with metrics).

    Returns ``{"runs": [...], "sets": {set: {metric: {"n", "mean", "std", "min", "max"}}}}``; ``sets`` is
    empty when fewer than two runs exist (spread not measured)."""
    runs = [r for r in runs if r in ours]
    out: dict = {"runs": runs, "sets": {}}
    if len(runs) < 2:
        return out
    for s in (k for k, v in ours[runs[0]].items() if isinstance(v, dict)):
        for metric in SCORES:
            vals = [v for v in (_value(ours[r], s, metric) for r in runs) if v is not None]
            if len(vals) < 2:
                continue
            mean = sum(vals) / len(vals)
            std = math.sqrt(sum((v - mean) ** 2 for v in vals) / (len(vals) - 1))
            out["sets"].setdefault(s, {})[metric] = {"n": len(vals), "mean": mean, "std": std, "min": min(vals),
                                                     "max": max(vals)}
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
    tables: dict[str, PaperTable]
    cfg: Any = None  # the typed params.yaml (None: no params.yaml)
    rows: dict[str, list[Row]] = field(default_factory=dict)
    ours: dict = field(default_factory=dict)  # {run: metrics} as read
    summaries: dict = field(default_factory=dict)  # {run: models/<run>/summary.json}
    mine: dict = field(default_factory=dict)  # {(table, paper row): our run} (fdr.config.runs.answers)
    params: Optional[dict] = None  # params.yaml as plain data
    analysis: Optional[dict] = None  # reports/metrics/analysis.json (the analyze stage's metrics, not a run)
    per_patch: dict = field(default_factory=dict)  # reports/per_patch: {run: {set: {metric: array}}}
    datasets: frozenset = frozenset()  # every data set used (datasets_used); empty: the source alone

    @property
    def reference(self) -> Optional[str]:
        """Our run the ablations are compared with (``ablations.reference``)."""
        return self.cfg.ablations.reference or None if self.cfg is not None else None

    @property
    def stand_ins(self) -> list[str]:
        """The ablation tables' rows the reference answers (Table 5's full model, Table 6's columns)."""
        return [row for (table, row), run in self.mine.items() if run == self.reference and table in ABLATION_TABLES]

    @property
    def spreads(self) -> dict:
        """``{run: seed_spread}`` of every row of the run table that has seed replicas."""
        if self.cfg is None:
            return {}
        heads = [r for r in self.cfg.runs if len(replicas(self.cfg, r)) > 1 and replica_of(self.cfg.runs, r) is None]
        return {r: seed_spread(self.ours, replicas(self.cfg, r)) for r in heads}

    @property
    def pooled_std(self) -> Optional[float]:
        from fdr.report.effects import pooled_seed_std

        return pooled_seed_std(self.cfg, self.ours) if self.cfg is not None else None

    def effects(self) -> list:
        """Every difference the report states, with its paired interval and verdict (:mod:`fdr.report.effects`)."""
        from fdr.report.effects import collect_effects

        if self.cfg is None:
            return []
        paper = {self.mine.get((name, r.run)): r.paper_effect for name in ABLATION_TABLES
                 for r in self.rows.get(name, []) if r.metric == "psnr" and r.paper_effect is not None}
        return collect_effects(self.cfg, self.ours, self.per_patch, paper)

    def note(self, table: Optional[str] = None) -> Optional[str]:
        return comparability(self.source, table, self.datasets or None, self.cfg)

    def to_dict(self) -> dict:
        return {
            "data_source": self.source,
            "comparable": self.source is not None and self.source not in OWN_IMAGES,
            "note": self.note(),
            "tables": {
                name: {"title": self.tables[name].title, "source": self.tables[name].source, "note": self.note(name),
                       "have_ours": has_ours(rows), "rows": [r.to_dict() for r in rows]}
                for name, rows in self.rows.items()
            },
        }


def merge_whole(into: dict, whole: Mapping[str, Mapping]) -> None:
    """Add each run's whole-image sets to ``into`` (``{run: {set: ...}}``) as ``<set>_image``."""
    for run, sets in whole.items():
        for set_, value in sets.items():
            if isinstance(value, dict):
                into.setdefault(run, {})[set_ + IMAGE_SUFFIX] = value


def load(root: str | Path = ".", params: str = "params.yaml") -> Comparison:
    """Read params.yaml (data source, run table), the paper's tables, our metrics and run summaries below ``root``
    and pair them up. A missing params.yaml leaves the source unknown and no run answering any row; a bad one
    raises ConfigError."""
    from fdr.config import load as load_params
    from fdr.config import to_dict
    from fdr.report.effects import load_per_patch

    root = Path(root)
    cfg = load_params(root / params) if (root / params).is_file() else None
    tables = load_tables(root / PAPER_DIR)
    ours = read_metrics(METRICS_DIR, cwd=root)
    per_patch = load_per_patch(root / PER_PATCH_DIR)
    merge_whole(ours, read_metrics(WHOLE_DIR, cwd=root))
    merge_whole(per_patch, load_per_patch(root / PER_IMAGE_DIR))
    mine = answers(cfg) if cfg else {}
    mine.update({(t, f"{row}{IMPORTED}{run}"): run for run, (t, row) in (imported(cfg) if cfg else {}).items()})
    result = Comparison(cfg.data.source if cfg else None, tables, cfg, ours=ours,
                        summaries=read_summaries(root / MODELS_DIR), mine=mine,
                        params=to_dict(cfg) if cfg else None, analysis=ours.pop("analysis", None),
                        per_patch=per_patch, datasets=datasets_used(cfg.data) if cfg else frozenset())
    for name, table in tables.items():
        mine = {row: run for (t, row), run in result.mine.items() if t == name}
        result.rows[name] = compare_table(table, ours, mine, result.summaries, result.reference)
    return result
