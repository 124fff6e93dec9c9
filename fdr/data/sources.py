"""Image sources and the ``download`` stage: ``data/raw/manifest.csv`` plus the images it lists.

- ``embedded`` (offline default): the colour photos shipped with scikit-image and matplotlib, copied as PNG to
  ``raw/images/``. Split by scene (the two stereo motorcycle views are one scene; ``chelsea`` is the same array
  as ``cat`` and is listed once): the first ``data.test_count`` scenes of ``TEST_PREFERENCE`` are held out.
  The preference starts with natural PNG photos (``coffee``, ``chelsea``) so that the test targets carry no
  JPEG artefacts of their own and are not scientific images; the scientific ones come last.
- ``div2k``: DIV2K HR train archive (official host by default); images 1..``div2k_train_images`` train, the rest
  of 0001-0800 test (paper §4.1: 750 / 50).
- ``did-mdn`` / ``gopro``: archives the user gives (URL or local path). DID-MDN images are side-by-side pairs
  (``data.did_mdn_layout``), split by the archive's folders: ``DID-MDN-training`` trains, ``DID-MDN-test`` (the
  paper's 1,200) tests, its other test folder is left out (:func:`list_did_mdn`). GoPro pairs
  ``<seq>/<gopro_blur>/x.png`` with ``<seq>/sharp/x.png``, split by a ``train`` / ``test`` folder in the path.
  When the paper's tables need them (``data.source: div2k``), their counts are checked against the paper's.
- With ``data.source: div2k`` the paper's other data sets must be given or deliberately substituted
  (``data.substitutes``; :mod:`fdr.config.datasets`): the stage refuses before the first download otherwise.
- ``rl_restore_testsets`` (optional): the released ``{mild,moderate,severe}_{in,gt}`` test patches.

Manifest columns: ``name, split, path, sha256, width, height`` (the contract) and ``dataset, kind, target,
layout, level, scene, status, source_sha256``. Paths are relative to ``data.root``. ``status`` is ``ok`` or
the reason an image is skipped (``grayscale``, ``multi_frame``, ``corrupt``, ``too_large``); such images stop the
stage with an error naming the file unless ``data.skip_bad`` is true (RL-Restore's generator skips one-channel
images silently; here they are named, see reports/choices.md).
"""
from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import pandas as pd

from fdr.atomic import write_json
from fdr.config import Config, datasets
from fdr.config.data import DIV2K_TRAIN_SIZE, DIV2K_TRAIN_URL, ArchiveConfig

from . import folder
from .download import DownloadError, fetch, is_local
from .extract import safe_extract
from .folder import images_under
from .imageio import BadImage, probe, read_rgb, sha256_file, write_png
from .layout import built_aside

RAW_COLUMNS = ["name", "split", "path", "sha256", "width", "height", "dataset", "kind", "target", "layout",
               "level", "scene", "status", "source_sha256"]


@dataclass(frozen=True)
class EmbeddedImage:
    name: str
    scene: str
    package: str  # "scikit-image", "matplotlib" or "scikit-learn"
    file: str
    natural: bool  # photograph of an everyday scene (vs scientific imaging)


EMBEDDED = (
    EmbeddedImage("astronaut", "astronaut", "scikit-image", "astronaut.png", True),
    EmbeddedImage("chelsea", "chelsea", "scikit-image", "chelsea.png", True),
    EmbeddedImage("coffee", "coffee", "scikit-image", "coffee.png", True),
    EmbeddedImage("rocket", "rocket", "scikit-image", "rocket.jpg", True),
    EmbeddedImage("motorcycle_left", "motorcycle", "scikit-image", "motorcycle_left.png", True),
    EmbeddedImage("motorcycle_right", "motorcycle", "scikit-image", "motorcycle_right.png", True),
    EmbeddedImage("grace_hopper", "grace_hopper", "matplotlib", "grace_hopper.jpg", True),
    EmbeddedImage("china", "china", "scikit-learn", "china.jpg", True),
    EmbeddedImage("flower", "flower", "scikit-learn", "flower.jpg", True),
    EmbeddedImage("hubble_deep_field", "hubble_deep_field", "scikit-image", "hubble_deep_field.jpg", False),
    EmbeddedImage("immunohistochemistry", "immunohistochemistry", "scikit-image", "ihc.png", False),
    EmbeddedImage("retina", "retina", "scikit-image", "retina.jpg", False),
)
TEST_PREFERENCE = ("coffee", "chelsea", "astronaut", "rocket", "motorcycle", "grace_hopper", "china", "flower",
                   "hubble_deep_field", "immunohistochemistry", "retina")


def embedded_file(img: EmbeddedImage) -> Path:
    if img.package == "matplotlib":
        import matplotlib

        return Path(matplotlib.get_data_path()) / "sample_data" / img.file
    if img.package == "scikit-learn":
        import sklearn.datasets

        return Path(sklearn.datasets.__file__).parent / "images" / img.file
    import skimage.data

    return Path(skimage.data.data_dir) / img.file


def embedded_split(test_count: int) -> dict[str, str]:
    """Scene -> ``train`` / ``test``; the first ``test_count`` scenes of ``TEST_PREFERENCE`` are test."""
    scenes = list(dict.fromkeys(i.scene for i in EMBEDDED))
    if not 1 <= test_count < len(scenes):
        raise ValueError(f"data.test_count: expected 1..{len(scenes) - 1} for the embedded source "
                         f"({len(scenes)} scenes, at least one must train), got {test_count}")
    test = set(TEST_PREFERENCE[:test_count])
    return {s: ("test" if s in test else "train") for s in scenes}


def _row(**kw) -> dict:
    row = {c: "" for c in RAW_COLUMNS}
    row.update(kw)
    return row


# ------------------------------------------------------------------------------------------- listings
def _split_from_path(rel: Path) -> Optional[str]:
    parts = [p.lower() for p in rel.parts[:-1]]
    if any("test" in p for p in parts):
        return "test"
    if any("train" in p for p in parts):
        return "train"
    return None


def list_div2k(folder: Path, train_images: int) -> list[dict]:
    rows = []
    for p in images_under(folder):
        if not re.fullmatch(r"\d{4}", p.stem) or not 1 <= int(p.stem) <= 800:
            continue
        idx = int(p.stem)
        rows.append(_row(name=f"div2k/{p.stem}", split="train" if idx <= train_images else "test", path=p,
                         dataset="div2k", kind="clean", scene=p.stem))
    return rows


def list_did_mdn(folder: Path, d, log: Callable[[str], None] = print) -> list[dict]:
    """DID-MDN's side-by-side pairs (``d.did_mdn_layout``): images below a folder named ``d.did_mdn_train``
    (``DID-MDN-training/Rain_{Heavy,Medium,Light}/train2018new``: 12,000) train, images below ``d.did_mdn_test``
    (``DID-MDN-test``: the 1,200 the paper tests on, §4.1) test. The archive's other test folder (``testing_fu``,
    1,000 images from another data set) and anything else are left out, and counted in the log."""
    rows, unused = [], 0
    for p in images_under(folder):
        rel = p.relative_to(folder)
        parts = rel.parts[:-1]
        split = "test" if d.did_mdn_test in parts else "train" if d.did_mdn_train in parts else None
        if split is None:
            unused += 1
            continue
        name = "did-mdn/" + rel.with_suffix("").as_posix()
        rows.append(_row(name=name, split=split, path=p, dataset="did-mdn", kind="rain_pair", target=p,
                         layout=d.did_mdn_layout, scene=name))
    if unused:
        log(f"did_mdn: {unused} images outside {d.did_mdn_train}/ and {d.did_mdn_test}/ left out "
            "(data.did_mdn_train, data.did_mdn_test)")
    return rows


def check_counts(key: str, rows: list[dict], expected, archive: str) -> None:
    """Raise when a paired archive's train / test counts differ from ``expected`` (a ``PairCounts``; 0 = any)."""
    for split in ("train", "test"):
        want, got = getattr(expected, split), sum(r["split"] == split for r in rows)
        if want and got != want:
            raise ValueError(f"data.{key}: {archive} holds {got:,} {split} pairs where the paper has {want:,} "
                             f"(data.{key}_pairs.{split}); expected the archive as its authors release it, or set "
                             f"data.{key}_pairs.{split} to the count you mean to use (0: any)")


def list_gopro(folder: Path, blur_dir: str) -> list[dict]:
    rows = []
    for p in images_under(folder):
        if p.parent.name != blur_dir:
            continue
        sharp = p.parent.parent / "sharp" / p.name
        rel = p.relative_to(folder)
        split = _split_from_path(rel)
        if split is None or not sharp.is_file():
            continue
        seq = p.parent.parent.name
        rows.append(_row(name=f"gopro/{seq}/{p.stem}", split=split, path=p, dataset="gopro", kind="blur_pair",
                         target=sharp, scene=f"gopro/{seq}"))
    return rows


def list_rl_restore(folder: Path) -> list[dict]:
    rows = []
    for level in ("mild", "moderate", "severe"):
        ins = [d for d in folder.rglob(f"{level}_in") if d.is_dir()]
        for d in ins:
            gt_dir = d.parent / f"{level}_gt"
            gts = {re.sub(r"_gt$", "", p.stem): p for p in images_under(gt_dir)} if gt_dir.is_dir() else {}
            for p in images_under(d):
                key = re.sub(r"_in$", "", p.stem)
                if key in gts:
                    rows.append(_row(name=f"rl-restore/{level}/{key}", split="test", path=p, dataset="rl-restore",
                                     kind="released", target=gts[key], level=level, scene=f"rl-restore/{key}"))
    return rows


# ---------------------------------------------------------------------------------------------- stage
def _archive_name(url: str, fallback: str) -> str:
    name = Path(url.split("?")[0].rstrip("/")).name
    return name or fallback


def _fetch_extract(key: str, arch: ArchiveConfig, cfg: Config, downloads: Path, dest: Path, log, progress) -> dict:
    """Download (or verify) and extract one archive. A downloaded archive that does not extract is deleted,
    so a rerun asks the server again; a user-placed local archive is never deleted."""
    url, d = arch.url, cfg.data
    path, digest = fetch(url, downloads / _archive_name(url, key), size=arch.size, sha256=arch.sha256,
                         retries=d.download_retries, timeout=d.download_timeout, deadline=d.download_deadline,
                         progress=progress)
    limit = min(d.max_extract_bytes, int(d.max_extract_ratio * path.stat().st_size))
    try:
        n = safe_extract(path, dest, limit)
    except DownloadError as exc:
        if is_local(url):
            raise
        path.unlink(missing_ok=True)
        raise DownloadError(f"data.{key}: {exc}; the downloaded file was deleted, a rerun downloads it again "
                            f"(limits: data.max_extract_bytes, data.max_extract_ratio)") from exc
    log(f"{key}: {n} files extracted from {path.name}")
    if arch.sha256 is None:
        log(f"{key}: SHA-256 {digest} recorded; pin it as data.{key}.sha256 in params.yaml")
    return {"key": key, "url": url, "archive": str(path), "size": path.stat().st_size, "sha256": digest, "files": n}


def _folder_rows(d, dest: Path) -> list[dict]:
    """The user's folders (``fdr/data/folder.py``): each image checked where it lies (errors name the user's
    file), then copied byte for byte below ``dest``."""
    clean, pairs = folder.clean_listing(d.folder), folder.pairs_listing(d.folder, d.max_pixels)
    folder.assign_splits(d.folder, clean, pairs)
    folder.refuse_shared_content(clean + pairs)
    rows = [_row(name=f"folder/{r['stem']}", split=r["split"], path=r["path"], dataset="folder", kind="clean",
                 scene=f"folder/{r['stem']}") for r in clean]
    rows += [_row(name=f"folder-pairs/{r['stem']}", split=r["split"], path=r["path"], target=r["target"],
                  dataset="folder-pairs", kind="pair", scene=f"folder-pairs/{r['stem']}") for r in pairs]
    out = []
    for r in rows:
        out.append(_check_row(r, d.max_pixels, d.skip_bad))
        for col, part in (("path", "input" if r["kind"] == "pair" else "clean"), ("target", "target")):
            if r[col]:
                copy = dest / part / f"{r['name'].split('/', 1)[1]}{Path(r[col]).suffix.lower()}"
                copy.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(r[col], copy)
                r[col] = copy
    return out


def _check_row(row: dict, max_pixels: int, skip_bad: bool) -> dict:
    """Header-level validation; fills width/height/status/sha256."""
    paths = [Path(row["path"])] + ([Path(row["target"])] if row["target"] and row["target"] != row["path"] else [])
    try:
        w, h, _ = probe(paths[0], max_pixels)
        for extra in paths[1:]:
            probe(extra, max_pixels)
        row["status"] = "ok"
    except BadImage as exc:  # one-channel, multi-frame, corrupt, too large
        if not skip_bad:
            raise
        row["status"], w, h = exc.reason, 0, 0
    if row["layout"]:
        w //= 2
    row["width"], row["height"] = w, h
    row["sha256"] = sha256_file(paths[0])
    return row


def _embedded_rows(d, dest: Path) -> list[dict]:
    """The embedded photos, copied as PNG below ``dest``."""
    rows, split = [], embedded_split(d.test_count)
    for img in EMBEDDED:
        src = embedded_file(img)
        arr = read_rgb(src, d.max_pixels)
        dst = dest / f"{img.name}.png"
        write_png(dst, arr, compress_level=6)
        rows.append(_row(name=f"embedded/{img.name}", split=split[img.scene], path=dst, sha256=sha256_file(dst),
                         width=arr.shape[1], height=arr.shape[0], dataset="embedded", kind="clean", scene=img.scene,
                         status="ok", source_sha256=sha256_file(src)))
    return rows


def _archive_jobs(cfg: Config, log: Callable[[str], None]) -> list[tuple]:
    """``(key, archive, folder, lister, expected counts or None)`` of every archive to fetch. Counts are checked for
    the paired archives the paper's tables need (:func:`fdr.config.datasets.required`)."""
    d, needed = cfg.data, datasets.required(cfg)
    jobs = []
    if d.source == "div2k":
        arch = ArchiveConfig(url=d.div2k_train.url or DIV2K_TRAIN_URL,
                             size=d.div2k_train.size if d.div2k_train.url else (d.div2k_train.size or DIV2K_TRAIN_SIZE),
                             sha256=d.div2k_train.sha256)
        jobs.append(("div2k_train", arch, "div2k", lambda f: list_div2k(f, d.div2k_train_images), None))
    if d.did_mdn.url is not None:
        jobs.append(("did_mdn", d.did_mdn, "did-mdn", lambda f: list_did_mdn(f, d, log),
                     d.did_mdn_pairs if "did-mdn" in needed else None))
    if d.gopro.url is not None:
        jobs.append(("gopro", d.gopro, "gopro", lambda f: list_gopro(f, d.gopro_blur),
                     d.gopro_pairs if "gopro" in needed else None))
    if d.rl_restore_testsets.url is not None:
        jobs.append(("rl_restore_testsets", d.rl_restore_testsets, "rl-restore", list_rl_restore, None))
    return jobs


def prepare_raw(cfg: Config, root: Optional[Path] = None, downloads: Optional[Path] = None,
                progress: bool = True, log: Callable[[str], None] = print) -> pd.DataFrame:
    """Build ``<root>/raw`` (atomically) for ``cfg.data`` and return its manifest. A configuration on the paper's
    images without the paper's data sets is refused first, before anything is downloaded
    (:func:`fdr.config.datasets.check`)."""
    datasets.check(cfg)
    d = cfg.data
    root = Path(root if root is not None else d.root)
    downloads = Path(downloads if downloads is not None else root / "downloads")
    if d.source == "folder":
        folder.check_apart(d.folder, root)  # before anything under root is touched
    root.mkdir(parents=True, exist_ok=True)
    with built_aside(root, "raw") as tmp:
        rows: list[dict] = _embedded_rows(d, tmp / "images") if d.source == "embedded" else []
        archives: list[dict] = []
        if d.source == "folder":
            rows.extend(_folder_rows(d, tmp / "folder"))
        for key, arch, subdir, lister, counts in _archive_jobs(cfg, log):
            archives.append(_fetch_extract(key, arch, cfg, downloads, tmp / subdir, log, progress))
            listed = lister(tmp / subdir)
            if not listed:
                raise ValueError(f"data.{key}: archive {archives[-1]['archive']} contains no images in the "
                                 f"expected layout (see fdr/data/sources.py)")
            if counts is not None:
                check_counts(key, listed, counts, archives[-1]["archive"])
            try:
                rows.extend(_check_row(r, d.max_pixels, d.skip_bad) for r in listed)
            except BadImage as exc:  # name the member in the user's archive, not the temporary folder
                member = Path(exc.path).relative_to(tmp / subdir).as_posix()
                raise type(exc)(f"{archives[-1]['archive']}: {member}", exc.detail.replace(exc.path, member)) from exc
        for r in rows:  # paths relative to data.root, as they will be after the rename
            for col in ("path", "target"):
                if r[col]:
                    r[col] = (Path("raw") / Path(r[col]).relative_to(tmp)).as_posix()
        df = pd.DataFrame(rows, columns=RAW_COLUMNS)
        df.to_csv(tmp / "manifest.csv", index=False)
        write_json(tmp / "archives.json", archives)
    counts = df.groupby(["dataset", "split", "status"]).size().to_dict() if len(df) else {}
    for (ds, sp, st), n in sorted(counts.items()):
        log(f"raw: {ds:10s} {sp:5s} {st:10s} {n}")
    return df


def read_raw_manifest(root: Path) -> pd.DataFrame:
    path = Path(root) / "raw" / "manifest.csv"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing; run the download stage first")
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in RAW_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: missing columns {missing}")
    for c in ("width", "height"):
        df[c] = df[c].astype(int)
    return df
