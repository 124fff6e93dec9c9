"""The paper's data sets, the tables each one feeds, and the check that a run on the paper's images has them.

With ``data.source: div2k`` the pipeline measures on the paper's images, but three of the paper's data sets
are downloads the user must name, and without them the pipeline quietly builds its own (``fdr/data/synthesize.py``):

- ``rl-restore`` (``data.rl_restore_testsets``): the test patches RL-Restore released, Table 1's test sets
  (§4.1); without them the levels are regenerated from DIV2K 751-800 (no seed was published).
- ``did-mdn`` (``data.did_mdn``): DID-MDN's 12,000 training and 1,200 test rain pairs, the images of DID-HY
  (Tables 2, 5, 6) and of deraining (Table 4); without them: DIV2K's 750 / 50 images with synthetic rain.
- ``gopro`` (``data.gopro``): GoPro's 2,103 / 1,111 blur pairs (Table 3); without them: DIV2K with synthetic
  motion blur.

:func:`check` refuses such a configuration before the first download (``python -m fdr profile``, the download
stage), naming each key to set, unless ``data.substitutes`` lists the data set: a deliberate choice that every
table the substitute touches then states (:func:`fdr.report.comparison.comparability`).
"""
from __future__ import annotations

from dataclasses import dataclass

from .base import ConfigError
from .data import SUBSTITUTE_KEYS
from .runs import TABLE_TRACK, resolve, sweep_runs


@dataclass(frozen=True)
class PaperDataset:
    """One of the paper's data sets: the archive key, what to give, the tracks it feeds, what replaces it."""

    key: str  # data.<key> is its ArchiveConfig
    archive: str  # what the user gives, as its authors release it
    tracks: tuple[str, ...]  # our tracks (fdr.config.runs.TABLE_TRACK) measured on it
    substitute: str  # what this pipeline uses without it


PAPER_DATASETS = {
    "rl-restore": PaperDataset(
        SUBSTITUTE_KEYS["rl-restore"], "the RL-Restore test sets as released ({mild,moderate,severe}_{in,gt}, "
        "63x63 PNGs, 3,584 patches per level)", ("hybrid",),
        "test levels regenerated from DIV2K 751-800 by the RL-Restore protocol, not the released patches"),
    "did-mdn": PaperDataset(
        SUBSTITUTE_KEYS["did-mdn"], "the DID-MDN archive (DID-MDN-datasets: DID-MDN-training, 12,000 rain/clean "
        "pairs; DID-MDN-test, 1,200)", ("didhy", "derain"),
        "DIV2K images with synthetic rain (750 training / 50 test images instead of DID-MDN's 12,000 / 1,200)"),
    "gopro": PaperDataset(
        SUBSTITUTE_KEYS["gopro"], "GoPro (GOPRO_Large: 2,103 training / 1,111 test blur/sharp pairs)", ("deblur",),
        "DIV2K images with synthetic motion blur (750 training / 50 test images instead of GoPro's 2,103 / 1,111)"),
}
TRACK_DATASET = {track: name for name, d in PAPER_DATASETS.items() for track in d.tracks}


def tables(name: str) -> str:
    """The paper's tables measured on data set ``name``, as text (``Tables 2, 4, 5, 6``)."""
    numbers = [t[len("table"):] for t, track in TABLE_TRACK.items() if track in PAPER_DATASETS[name].tracks]
    return ("Table " if len(numbers) == 1 else "Tables ") + ", ".join(numbers)


def table_dataset(table: str) -> str:
    """The paper data set table ``table`` (``table1`` .. ``table6``) is measured on."""
    return TRACK_DATASET[TABLE_TRACK[table]]


def given(data, name: str) -> bool:
    """Whether data set ``name``'s archive is set (``data.<key>.url``)."""
    return getattr(data, PAPER_DATASETS[name].key).url is not None


def required(cfg) -> dict[str, list[str]]:
    """``{data set: runs measured on it}`` when ``cfg`` measures on the paper's images (``data.source: div2k``;
    every other source is its own, and the report says so); else ``{}``."""
    if cfg.data.source != "div2k":
        return {}
    out: dict[str, list[str]] = {}
    for run in list(cfg.runs) + sweep_runs(cfg):
        name = TRACK_DATASET.get(resolve(cfg, run).track)
        if name:
            out.setdefault(name, []).append(run)
    return out


def missing(cfg) -> dict[str, list[str]]:
    """The required data sets that are neither given nor listed in ``data.substitutes``, with their runs."""
    return {name: runs for name, runs in required(cfg).items()
            if not given(cfg.data, name) and name not in cfg.data.substitutes}


def check(cfg) -> None:
    """Raise :class:`ConfigError` naming every missing data set's key, what to set it to, the runs that need it and
    the substitute the switch would accept instead."""
    gone = missing(cfg)
    if not gone:
        return
    parts = [f"data.{PAPER_DATASETS[n].key}.url ({tables(n)}; {len(runs)} run{'s' * (len(runs) != 1)}): expected "
             f"{PAPER_DATASETS[n].archive}, a URL or local path (without it: {PAPER_DATASETS[n].substitute})"
             for n, runs in gone.items()]
    names = ", ".join(gone)
    raise ConfigError(f"data.source: div2k measures on the paper's data, and {len(gone)} of its data sets are not "
                      f"given: {'; '.join(parts)}. Set each archive, or accept this pipeline's substitute on purpose "
                      f"with data.substitutes: [{names}] (every table it touches then says so)")
