"""``data.source: folder``: the user's own images, listed and split for the download stage.

- ``data.folder.clean``: clean images in any sub-folders; the synthesize stage distorts them with the same
  protocol as DIV2K's (hybrid levels, DID-HY, deblur / derain tracks).
- ``data.folder.pairs``: already-distorted inputs and their targets, matched by the path relative to each folder
  without the suffix (``input/a/b.jpg`` pairs with ``target/a/b.png``); used as they are, like the released test
  sets. An input without a target, a target without an input, or a pair whose sizes differ stops the stage.
- Split, per folder, by file: ``data.folder.test_files`` (relative paths) when given; otherwise the files are
  ordered by the SHA-256 of their relative path and the first ``max(1, round(test_fraction * n))`` are test.
  The order depends on names only, so retouching a photo never moves it between splits and adding photos moves
  none of the others out of the test split unless the count of test files grows.
"""
from __future__ import annotations

import hashlib
from pathlib import Path, PurePosixPath

from fdr.config.data import FolderConfig

from .imageio import IMAGE_SUFFIXES, BadImage, probe


def images_under(folder: Path) -> list[Path]:
    """The image files below ``folder`` in sorted order, anything hidden (a dot file or folder) left out; every
    source lists its images with this."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                  and not any(s.startswith(".") for s in p.relative_to(folder).parts))


def images_in(folder: Path, key: str) -> dict[str, Path]:
    """``{relative path without suffix: file}`` of the images below ``folder``."""
    if not folder.is_dir():
        raise FileNotFoundError(f"data.folder.{key}: {folder} is not a folder")
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


def clean_listing(cfg: FolderConfig) -> list[dict]:
    """Rows ``{stem, path}`` of the clean folder."""
    return [{"stem": n, "path": p} for n, p in images_in(Path(cfg.clean).expanduser(), "clean").items()]


def pairs_listing(cfg: FolderConfig, max_pixels: int) -> list[dict]:
    """Rows ``{stem, path, target}`` of the paired folders; ``[]`` when the input folder holds no image."""
    inputs = images_in(Path(cfg.pairs.input).expanduser(), "pairs.input")
    if not inputs:
        return []
    targets = images_in(Path(cfg.pairs.target).expanduser(), "pairs.target")
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
