"""``data.source: folder``: the user's own images, listed and split for the download stage.

- ``data.folder.clean``: clean images in any sub-folders; the synthesize stage distorts them with the same
  protocol as DIV2K's (hybrid levels, DID-HY, deblur / derain tracks).
- ``data.folder.pairs``: already-distorted inputs and their targets, matched by the path relative to each folder
  without the suffix (``input/a/b.jpg`` pairs with ``target/a/b.png``); used as they are, like the released test
  sets. Optional: missing or empty folders mean no pairs. An input without a target, a target without an input,
  a pair whose sizes differ, or one folder for both stops the stage.
- Refused before anything is written: a folder that overlaps what the pipeline writes (``<data.root>/raw``,
  ``synth``, ``patches``; the download stage replaces ``raw``), a linked sub-folder (its photos would be left out,
  and DVC does not track what a link points to), an empty clean folder, and the same file content in both splits
  (``coffee.png`` and ``IMG_0001.png`` with one SHA-256, one in train and one in test).
- Split, per folder, by file: ``data.folder.test_files`` (relative paths) when given; otherwise the files are
  ordered by the SHA-256 of their relative path and the first ``max(1, round(test_fraction * n))`` are test.
  The order depends on names only, so retouching a photo never moves it between splits and adding photos moves
  none of the others out of the test split unless the count of test files grows.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path, PurePosixPath

from fdr.config.data import FolderConfig

from .imageio import IMAGE_SUFFIXES, BadImage, probe, sha256_file


def images_under(folder: Path) -> list[Path]:
    """The image files below ``folder`` in sorted order, anything hidden (a dot file or folder) left out; every
    source lists its images with this."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                  and not any(s.startswith(".") for s in p.relative_to(folder).parts))


def refuse_linked_folders(folder: Path, key: str) -> None:
    """A linked sub-folder is not searched (nor tracked by DVC): refused, naming it."""
    for parent, dirs, _ in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for d in dirs:
            if os.path.islink(os.path.join(parent, d)):
                raise ValueError(f"data.folder.{key}: {Path(parent) / d} is a link to a folder; its images would not "
                                 f"be used and DVC does not track what a link points to: move them into {folder}")


def images_in(folder: Path, key: str, required: bool = True) -> dict[str, Path]:
    """``{relative path without suffix: file}`` of the images below ``folder`` (``{}`` for a missing folder that
    is not ``required``)."""
    if not folder.is_dir():
        if not required and not folder.exists():
            return {}
        raise FileNotFoundError(f"data.folder.{key}: {folder} is not a folder")
    refuse_linked_folders(folder, key)
    found: dict[str, Path] = {}
    for p in images_under(folder):
        stem = p.relative_to(folder).with_suffix("").as_posix()
        if stem in found:
            raise ValueError(f"data.folder.{key}: {found[stem].name} and {p.name} in {p.parent} are both named "
                             f"{stem!r}; rename one")
        found[stem] = p
    return found


def split(names: list[str], cfg: FolderConfig, key: str) -> dict[str, str]:
    """``{relative path: "train" | "test"}`` (see the module docstring)."""
    if len(names) < 2:
        raise ValueError(f"data.folder.{key}: {len(names)} image(s); at least 2 are needed (one to train, one to test)")
    if cfg.test_files:
        listed = {PurePosixPath(f).with_suffix("").as_posix() for f in cfg.test_files}
        test = listed & set(names)
    else:
        ordered = sorted(names, key=lambda n: hashlib.sha256(n.encode()).hexdigest())
        test = set(ordered[:max(1, round(cfg.test_fraction * len(names)))])
    if not test or len(test) == len(names):
        raise ValueError(f"data.folder.{key}: the split leaves {len(test)} of {len(names)} images for testing; "
                         f"both splits need at least one (data.folder.test_files / test_fraction)")
    return {n: ("test" if n in test else "train") for n in names}


def check_apart(cfg: FolderConfig, root: Path) -> None:
    """Each user folder lies apart from the folders the pipeline writes below ``data.root`` (neither inside one
    nor holding one): the download stage replaces ``raw`` whole. DVC refuses such a layout too."""
    written = [(Path(root) / name).resolve() for name in ("raw", "synth", "patches")]
    for key, given in (("clean", cfg.clean), ("pairs.input", cfg.pairs.input), ("pairs.target", cfg.pairs.target)):
        mine = Path(given).expanduser().resolve()
        for out in written:
            if mine == out or out in mine.parents or mine in out.parents:
                raise ValueError(f"data.folder.{key}: {given} overlaps {out}, which the pipeline writes (the download "
                                 f"stage replaces {Path(root) / 'raw'} whole); keep your images outside it")


def clean_listing(cfg: FolderConfig) -> list[dict]:
    """Rows ``{stem, path}`` of the clean folder, which must hold images."""
    folder = Path(cfg.clean).expanduser()
    rows = [{"stem": n, "path": p} for n, p in images_in(folder, "clean").items()]
    if not rows:
        raise ValueError(f"data.folder.clean: no images in {folder} (expected {', '.join(IMAGE_SUFFIXES)} files)")
    return rows


def pairs_listing(cfg: FolderConfig, max_pixels: int) -> list[dict]:
    """Rows ``{stem, path, target}`` of the paired folders; ``[]`` when neither holds an image."""
    pin, ptg = Path(cfg.pairs.input).expanduser(), Path(cfg.pairs.target).expanduser()
    a, b = pin.resolve(), ptg.resolve()
    if a == b or a in b.parents or b in a.parents:
        raise ValueError(f"data.folder.pairs.target: {cfg.pairs.target} is data.folder.pairs.input "
                         f"({cfg.pairs.input}) or overlaps it; every image would be paired with itself")
    inputs, targets = images_in(pin, "pairs.input", required=False), images_in(ptg, "pairs.target", required=False)
    for stems, there, key in ((inputs, targets, "pairs.target"), (targets, inputs, "pairs.input")):
        alone = sorted(set(stems) - set(there))
        if alone:
            folder = getattr(cfg.pairs, key.split(".")[1])
            raise ValueError(f"data.folder.{key}: no partner for {stems[alone[0]]} (expected {alone[0]}.<image "
                             f"suffix> in {folder}; {len(alone)} unmatched)")
    for stem, p in inputs.items():
        try:
            a, b = probe(p, max_pixels)[:2], probe(targets[stem], max_pixels)[:2]
        except BadImage:
            continue  # judged with every other image (data.skip_bad)
        if a != b:
            raise ValueError(f"data.folder.pairs: {p} is {a[0]}x{a[1]} but its target {targets[stem]} is "
                             f"{b[0]}x{b[1]}; a pair must have one size")
    return [{"stem": n, "path": p, "target": targets[n]} for n, p in inputs.items()]


def refuse_shared_content(rows: list[dict]) -> None:
    """The same content (SHA-256) in both splits, under two names or in two folders, stops the stage naming both
    files: a test image that was also trained on is no test."""
    seen: dict[str, tuple[str, Path]] = {}
    for r in rows:
        for path in (r["path"], r.get("target")):
            if not path:
                continue
            digest = sha256_file(path)
            split_, first = seen.setdefault(digest, (r["split"], path))
            if split_ != r["split"]:
                raise ValueError(f"data.folder: {first} ({split_}) and {path} ({r['split']}) are the same image "
                                 f"(SHA-256 {digest[:16]}...); one would be trained on and the other tested: remove "
                                 "one, or list both in data.folder.test_files")


def listing(cfg: FolderConfig, root: Path, max_pixels: int) -> dict:
    """What the download stage reads of the user's folders, with each file's SHA-256: the ``photos`` stage writes
    it and the download stage depends on it (DVC cannot depend on a folder that may not exist)."""
    check_apart(cfg, root)
    clean, pairs = clean_listing(cfg), pairs_listing(cfg, max_pixels)
    return {"clean": {r["stem"]: sha256_file(r["path"]) for r in clean},
            "pairs": {r["stem"]: [sha256_file(r["path"]), sha256_file(r["target"])] for r in pairs}}


def assign_splits(cfg: FolderConfig, clean: list[dict], pairs: list[dict]) -> None:
    """Add ``split`` to the rows of each folder; every name in ``data.folder.test_files`` must be one of them."""
    stems = {r["stem"] for r in clean + pairs}
    unknown = sorted({PurePosixPath(f).with_suffix("").as_posix() for f in cfg.test_files} - stems)
    if unknown:
        raise ValueError(f"data.folder.test_files: {unknown[0]!r} is not an image of data.folder.clean or "
                         f"data.folder.pairs ({len(unknown)} unknown)")
    for rows, key in ((clean, "clean"), (pairs, "pairs.input")):
        if rows:
            splits = split([r["stem"] for r in rows], cfg, key)
            for r in rows:
                r["split"] = splits[r["stem"]]
