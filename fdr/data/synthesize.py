"""The ``synthesize`` stage: distorted / clean image pairs and a manifest of every drawn value.

Sets (``data/synth/<set>/``):

- ``train``: training images at ``synthesis.train_level`` (paper: moderate only), every scale of
  ``synthesis.scales`` (x1, x2/3, x1/3, cumulative bicubic as ``imresize``), one level triple per image and scale
  (``synthesis.draws: image``, the protocol) or per crop window (``draws: patch``, see :func:`distort_window`),
  for each of ``synthesis.copies`` independently distorted copies;
- ``test_<level>`` for each of ``synthesis.test_levels`` on the test images (``synthesis.test_scales``), or the
  released RL-Restore test patches when ``data.rl_restore_testsets`` is given;
- with ``synthesis.didhy``: ``didhy_train`` / ``didhy_test``: rain + blur + noise + JPEG at ``didhy_size`` (§4.1),
  rain from DID-MDN when ``data.did_mdn`` is given, else from ``fdr.data.rain_motion``'s streak model;
- with ``synthesis.single``: ``deblur_*`` (GoPro pairs, or synthetic motion blur) and ``derain_*`` (DID-MDN pairs,
  or synthetic rain) (§4.2); the synthetic scene tracks draw ``synthesis.copies`` copies of each image;
- ``pairs_train`` / ``pairs_test``: the user's own distorted/clean pairs (``data.folder.pairs``), used as given.

The hybrid sets take every image through ``synthesis.base_scale`` first (the authors used down-sampled DIV2K).
DID-HY and the synthetic single-distortion tracks work on a square "scene" view instead: short side resized to
``didhy_size``, centre crop.

Determinism: sample ``i`` of set ``s`` draws from ``default_rng(SeedSequence(seed, spawn_key=(1, key(s), i)))``
(recorded in the manifest as ``spawn_key``), so the output does not depend on ``synthesis.workers``. Labels are
stored as 8-bit PNG (round half up); the generator keeps reduced-scale labels in double precision - a choice
forced by the uint8 patch format, worth at most 0.5/255 per value.
"""
from __future__ import annotations

import math
import multiprocessing
import multiprocessing.connection
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import pandas as pd
from PIL import Image

from fdr.atomic import write_json
from fdr.config import Config, ConfigError

from . import degrade, palette, rain_motion
from .imageio import BadImage, TooSmallImage, quantize, read_rgb, to_float, write_png
from .layout import SET_KEYS, built_aside
from .patches import grid
from .sources import read_raw_manifest

STAGE_KEY = 1  # first element of every synthesis spawn key (crop uses 2)
MANIFEST_COLUMNS = [
    "set", "sample", "index", "source", "scene", "split", "track", "scale_index", "scale", "copy", "patch_y",
    "patch_x", "height", "width",
    "level", "k", "m", "n", "severity", "blur_sigma", "noise_sigma", "jpeg_quality", "jpeg_quality_drawn",
    "rain_class", "rain_density", "rain_length", "rain_angle", "rain_alpha", "rain_width",
    "motion_length", "motion_angle", "palette_order", "palette_hue", "palette_saturation", "seed", "spawn_key",
    "input", "target", "input_box", "target_box",
]


@dataclass(frozen=True)
class Ref:
    """An image on disk (relative to data.root), optionally a box ``(x0, y0, x1, y1)`` of it."""

    path: str
    box: tuple = ()

    def box_str(self) -> str:
        return " ".join(str(v) for v in self.box)


@dataclass(frozen=True)
class Task:
    set: str
    index: int
    track: str  # hybrid | didhy | deblur | derain | released
    source: str
    scene: str
    split: str
    clean: Ref
    degraded: Optional[Ref] = None  # paired data: the data set's own distorted image
    level: str = ""
    scales: tuple = (1.0,)
    passthrough: bool = False  # paired data used as is (no pixels written)
    size: tuple = field(default=(0, 0))  # (width, height) from the raw manifest
    copies: int = 1  # independently distorted copies (synthesis.copies)


# --------------------------------------------------------------------------------------------- images
def box_of(layout: str, width: int, height: int, half: str) -> tuple:
    """Box of the ``rain`` or ``clean`` half of a side-by-side image of half-width ``width``."""
    left = layout.split("|")[0] == half
    return (0, 0, width, height) if left else (width, 0, 2 * width, height)


def load(root: Path, ref: Ref, max_pixels: int) -> np.ndarray:
    arr = read_rgb(root / ref.path, max_pixels)
    if ref.box:
        x0, y0, x1, y1 = ref.box
        arr = np.ascontiguousarray(arr[y0:y1, x0:x1])
    return arr


def resize_planar(x: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bicubic resize of float32 planes with Pillow (a = -0.5 kernel widened when shrinking, like ``imresize``)."""
    return np.stack([np.asarray(Image.fromarray(np.ascontiguousarray(p)).resize((width, height), Image.BICUBIC))
                     for p in x]).astype(np.float32, copy=False)


def scaled(x: np.ndarray, factor: float) -> np.ndarray:
    """``imresize(x, factor, 'bicubic')``: output size ceil(factor * size)."""
    if factor == 1.0:
        return x
    h, w = x.shape[1:]
    return resize_planar(x, max(1, math.ceil(factor * h - 1e-9)), max(1, math.ceil(factor * w - 1e-9)))


def scene_view(x: np.ndarray, size: int) -> np.ndarray:
    """Short side resized to ``size`` (bicubic), centre crop ``size`` x ``size``."""
    h, w = x.shape[1:]
    if (h, w) != (size, size):
        f = size / min(h, w)
        nh, nw = max(size, round(h * f)), max(size, round(w * f))
        x = resize_planar(x, nh, nw)
        y0, x0 = (nh - size) // 2, (nw - size) // 2
        x = np.ascontiguousarray(x[:, y0:y0 + size, x0:x0 + size])
    return x


def planar01(u8: np.ndarray) -> np.ndarray:
    """uint8 H x W x 3 -> float32 planes 3 x H x W in [0, 1]."""
    return np.ascontiguousarray(to_float(u8).transpose(2, 0, 1))


def to_u8(x: np.ndarray) -> np.ndarray:
    """float32 planes in [0, 1] -> uint8 H x W x 3."""
    return np.ascontiguousarray(quantize(x).transpose(1, 2, 0))


# ----------------------------------------------------------------------------------------------- tasks
def _spawn_key(set_name: str, index: int) -> tuple:
    return (STAGE_KEY, SET_KEYS[set_name], index)


def _row(task: Task, cfg: Config, sample: str, **kw) -> dict:
    row = {c: "" for c in MANIFEST_COLUMNS}
    row.update({"set": task.set, "sample": sample, "index": task.index, "source": task.source, "scene": task.scene,
                "split": task.split, "track": task.track, "seed": cfg.seed,
                "spawn_key": "-".join(map(str, _spawn_key(task.set, task.index)))})
    row.update(kw)
    return row


def _params_record(p: degrade.DistortionParams, level: str) -> dict:
    k, m, n = p.triple
    return {"level": level, "k": k, "m": m, "n": n, "severity": degrade.severity(p.triple),
            "blur_sigma": p.blur_sigma, "noise_sigma": p.noise_sigma, "jpeg_quality": p.jpeg_quality,
            "jpeg_quality_drawn": p.jpeg_quality_drawn}


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name.split("/", 1)[-1])[:60]


def run_task(task: Task, cfg: Config, root: Path, out: Path) -> dict:
    """Synthesise one source image (all its scales); returns ``{"rows": [...]}``, ``{"skip": ...}`` or
    ``{"bad": ...}``. ``out`` is the folder being built (renamed to ``root/synth`` at the end)."""
    if task.passthrough:
        return _passthrough(task, cfg, root)
    rng = np.random.default_rng(np.random.SeedSequence(cfg.seed, spawn_key=_spawn_key(task.set, task.index)))
    try:
        clean_u8 = load(root, task.clean, cfg.data.max_pixels)  # H x W x 3
        clean = planar01(clean_u8)
        degraded = planar01(load(root, task.degraded, cfg.data.max_pixels)) if task.degraded else None
    except BadImage as exc:
        return {"bad": (task.set, task.source, exc.reason, str(exc))}
    syn, patch = cfg.synthesis, cfg.crop.patch
    if task.track == "hybrid":  # the other tracks work on a didhy_size scene view instead
        clean = scaled(clean, syn.base_scale)
        if min(clean.shape[1:]) < patch:
            hh, ww = clean.shape[1:]
            return _too_small(task, root / task.clean.path,
                              f"{ww}x{hh} after base_scale={syn.base_scale} is smaller than crop.patch={patch}")
    writer = _Writer(task, cfg, out)
    if task.track == "hybrid":
        _hybrid(task, syn, clean, clean_u8, rng, writer)
    else:
        _scene(task, syn, clean, degraded, rng, writer)
    return {"rows": writer.rows}


def _too_small(task: Task, path: Path, detail: str) -> dict:
    """An image no patch fits in: stops the stage naming it, or is skipped and counted (``data.skip_bad``)."""
    exc = TooSmallImage(path, detail)
    return {"bad": (task.set, task.source, exc.reason, str(exc))}


def _passthrough(task: Task, cfg: Config, root: Path) -> dict:
    """Paired data used as it is: one manifest row pointing at the data set's own files."""
    (w, h), patch = task.size, cfg.crop.patch
    if min(w, h) < patch:
        return _too_small(task, root / task.degraded.path, f"{w}x{h} smaller than crop.patch={patch}")
    return {"rows": [_row(task, cfg, f"{task.index:05d}-{_safe(task.source)}", scale_index=0, scale=1.0, height=h,
                          width=w, level=task.level, input=task.degraded.path, target=task.clean.path,
                          input_box=task.degraded.box_str(), target_box=task.clean.box_str())]}


class _Writer:
    """Writes one sample's input / target PNGs into the set's folder and collects its manifest row."""

    def __init__(self, task: Task, cfg: Config, out: Path):
        self.task, self.cfg, self.folder, self.rel, self.rows = task, cfg, out / task.set, Path("synth") / task.set, []
        self.base = f"{task.index:05d}-{_safe(task.source)}"

    def emit(self, sample: str, inp_u8: np.ndarray, gt_u8: np.ndarray, **kw) -> None:
        write_png(self.folder / f"{sample}_in.png", inp_u8, atomic=False)  # the folder is built aside
        write_png(self.folder / f"{sample}_gt.png", gt_u8, atomic=False)
        self.rows.append(_row(self.task, self.cfg, sample, height=gt_u8.shape[0], width=gt_u8.shape[1],
                              input=(self.rel / f"{sample}_in.png").as_posix(),
                              target=(self.rel / f"{sample}_gt.png").as_posix(), **kw))


def palettes_of(task: Task, cfg: Config) -> list[palette.Palette]:
    """The palette of each copy: the image's own colours, then (training sets with ``synthesis.palettes.train``)
    a random one per further copy, from a generator of its own (spawn key + (1,)), so the draws of the distortions
    and the copies in the image's own colours are the same with and without recoloured copies."""
    syn = cfg.synthesis
    if not (syn.palettes.train and task.split == "train" and task.track != "released"):
        return [palette.Palette()] * task.copies
    rng = np.random.default_rng(np.random.SeedSequence(cfg.seed, spawn_key=_spawn_key(task.set, task.index) + (1,)))
    return [palette.Palette()] + [palette.draw(rng, tuple(syn.palettes.saturation)) for _ in range(task.copies - 1)]


def recoloured(planes: np.ndarray, p: palette.Palette) -> np.ndarray:
    """float planes in ``p`` as an 8-bit image (the clean target), H x W x 3."""
    return to_u8(palette.apply(planes.transpose(1, 2, 0), p).transpose(2, 0, 1))


def _hybrid(task: Task, syn, clean: np.ndarray, clean_u8: np.ndarray, rng, writer: _Writer) -> None:
    """Every scale of the image (cumulative bicubic) and copy (in its palette): one level triple drawn per image
    (the protocol, §4.1) or per crop window (``synthesis.draws: patch``)."""
    cur, prev, patch = clean, 1.0, writer.cfg.crop.patch
    palettes = palettes_of(task, writer.cfg)
    for k, s in enumerate(task.scales):
        cur, prev = scaled(cur, s / prev), s
        if min(cur.shape[1:]) < patch:
            continue  # this scale yields no patch (the generator's loop produces none either)
        exact = cur is clean and syn.base_scale == 1.0  # the 8-bit photo itself at x1: no float round trip
        for c, pal in enumerate(palettes):
            gt = (clean_u8 if exact else to_u8(cur)) if pal.identity else recoloured(cur, pal)
            src = np.ascontiguousarray(gt.transpose(2, 0, 1)) if exact or not pal.identity else cur
            name, extra = f"{writer.base}-s{k}-c{c}", {} if pal.identity else pal.record()
            if syn.draws == "image":
                p = degrade.draw_params(task.level, rng, syn)
                writer.emit(name, degrade.distort_planar(src, p, rng, syn), gt, scale_index=k, scale=s, copy=c,
                            **_params_record(p, task.level), **extra)
                continue
            for y, x in zip(*grid(gt.shape[0], gt.shape[1], patch, writer.cfg.crop.stride)):
                p = degrade.draw_params(task.level, rng, syn)
                inp = distort_window(src, int(y), int(x), patch, p, rng, syn)
                writer.emit(f"{name}-y{y}-x{x}", inp, gt[y:y + patch, x:x + patch], scale_index=k, scale=s, copy=c,
                            patch_y=int(y), patch_x=int(x), **_params_record(p, task.level), **extra)


JPEG_GRID = 16  # the 4:2:0 JPEG's 16 x 16 macroblocks: context windows start on the image's grid of them


def distort_window(src: np.ndarray, y: int, x: int, patch: int, p, rng, syn) -> np.ndarray:
    """The patch at (y, x) of planes ``src`` distorted by ``p`` as if the whole image had been (then cropped):
    blur -> noise -> JPEG run on a window with ``kernel_size // 2 + 16`` pixels of context each side, whose
    top-left corner lies on the image's 16-pixel JPEG grid (so the JPEG blocks covering the patch are the
    whole image's, complete, and the blur sees real neighbours; at the image border the replicate border
    is the whole image's too)."""
    h, w = src.shape[1:]
    margin = syn.kernel_size // 2 + JPEG_GRID
    y0, x0 = max(0, (y - margin) // JPEG_GRID * JPEG_GRID), max(0, (x - margin) // JPEG_GRID * JPEG_GRID)
    y1, x1 = min(h, y + patch + margin), min(w, x + patch + margin)
    out = degrade.distort_planar(np.ascontiguousarray(src[:, y0:y1, x0:x1]), p, rng, syn)
    return np.ascontiguousarray(out[y - y0:y - y0 + patch, x - x0:x - x0 + patch])


def _scene(task: Task, syn, clean: np.ndarray, degraded, rng, writer: _Writer) -> None:
    """DID-HY and the single-distortion tracks on the square scene view, once per copy: rain (DID-HY, derain)
    or motion blur (deblur) when the data set gives no distorted image, then blur/noise/JPEG for DID-HY."""
    gt = scene_view(clean, syn.didhy_size)
    given = scene_view(degraded, syn.didhy_size) if degraded is not None else gt
    for c, pal in enumerate(palettes_of(task, writer.cfg)):
        src, target, extra = given, gt, {"copy": c, **({} if pal.identity else pal.record())}
        if not pal.identity:  # recoloured as an 8-bit photo of the new colours (the paired image alike)
            target = planar01(recoloured(gt, pal))
            src = target if degraded is None else planar01(recoloured(given, pal))
        if task.track in ("didhy", "derain") and degraded is None:
            rp = rain_motion.draw_rain(rng)
            src = rain_motion.add_rain(src.transpose(1, 2, 0), rp, rng).transpose(2, 0, 1)
            extra.update(rp.record())
        if task.track == "deblur" and degraded is None:
            mp = rain_motion.draw_motion(rng, tuple(syn.motion_length))
            src = rain_motion.motion_blur(src.transpose(1, 2, 0), mp).transpose(2, 0, 1)
            extra.update(mp.record())
        if task.track == "didhy":
            p = degrade.draw_params(task.level, rng, syn)
            inp = degrade.distort_planar(np.ascontiguousarray(src, dtype=np.float32), p, rng, syn)
            extra.update(_params_record(p, task.level))
        else:
            inp = to_u8(src)
        writer.emit(f"{writer.base}-c{c}", inp, to_u8(target), scale_index=0, scale=1.0, **extra)


# ---------------------------------------------------------------------------------------------- plan
def _clean_items(df: pd.DataFrame) -> list[tuple]:
    """``(row, clean Ref, None)`` for every source image: a clean image, or the clean side of a pair."""
    items = []
    for _, r in df.iterrows():
        if r["kind"] == "clean":
            items.append((r, Ref(r["path"]), None))
        elif r["kind"] == "rain_pair":
            items.append((r, Ref(r["path"], box_of(r["layout"], r["width"], r["height"], "clean")), None))
        elif r["kind"] == "blur_pair":
            items.append((r, Ref(r["target"]), None))
    return items


def _pair_items(df: pd.DataFrame) -> list[tuple]:
    """``(row, clean Ref, distorted Ref)`` of paired data: side-by-side rain pairs or separate files."""
    if df.empty:
        return []
    if df["kind"].iloc[0] == "rain_pair":
        return [(r, Ref(r["path"], box_of(r["layout"], r["width"], r["height"], "clean")),
                 Ref(r["path"], box_of(r["layout"], r["width"], r["height"], "rain"))) for _, r in df.iterrows()]
    return [(r, Ref(r["target"]), Ref(r["path"])) for _, r in df.iterrows()]


def _tasks(name: str, items: list[tuple], **kw) -> list[Task]:
    return [Task(set=name, index=i, source=r["name"], scene=r["scene"], split=r["split"], clean=clean, degraded=deg,
                 size=(int(r["width"]), int(r["height"])), **kw) for i, (r, clean, deg) in enumerate(items)]


def plan(cfg: Config, raw: pd.DataFrame) -> dict[str, list[Task]]:
    """Tasks per set, in a fixed order (the order of the raw manifest). Paired data (the released test
    patches, DID-MDN, GoPro) are used where given, else the source's clean images are distorted here."""
    syn, ok = cfg.synthesis, raw[raw["status"] == "ok"]
    main = ok[ok["dataset"] == cfg.data.source]
    clean = {s: _clean_items(main[main["split"] == s]) for s in ("train", "test")}
    n = syn.copies
    sets = {"train": _tasks("train", clean["train"], track="hybrid", level=syn.train_level, scales=tuple(syn.scales),
                            copies=n.hybrid_train)}
    released = ok[ok["kind"] == "released"]
    for level in syn.test_levels:
        pairs = _pair_items(released[released["level"] == level])
        sets[f"test_{level}"] = (_tasks(f"test_{level}", pairs, track="released", level=level, passthrough=True)
                                 if pairs else _tasks(f"test_{level}", clean["test"], track="hybrid", level=level,
                                                      scales=tuple(syn.test_scales), copies=n.hybrid_test))
    for split in ("train", "test"):
        given = _pair_items(ok[(ok["kind"] == "pair") & (ok["split"] == split)])  # data.folder.pairs
        if given:
            sets[f"pairs_{split}"] = _tasks(f"pairs_{split}", given, track="released", passthrough=True)
        rain = _pair_items(ok[(ok["dataset"] == "did-mdn") & (ok["kind"] == "rain_pair") & (ok["split"] == split)])
        blur = _pair_items(ok[(ok["dataset"] == "gopro") & (ok["kind"] == "blur_pair") & (ok["split"] == split)])
        copies = n.scene_train if split == "train" else n.scene_test
        if syn.didhy:
            sets[f"didhy_{split}"] = _tasks(f"didhy_{split}", rain or clean[split], track="didhy", level=syn.didhy_level,
                                            copies=copies)
        if syn.single:
            sets[f"derain_{split}"] = _tasks(f"derain_{split}", rain or clean[split], track="derain",
                                             passthrough=bool(rain), copies=1 if rain else copies)
            sets[f"deblur_{split}"] = _tasks(f"deblur_{split}", blur or clean[split], track="deblur",
                                             passthrough=bool(blur), copies=1 if blur else copies)
    return {k: sets[k] for k in SET_KEYS if k in sets}


# ------------------------------------------------------------------------------------------ execution
_WORKER: dict = {}


def _init_worker(cfg: Config, root: str, out: str) -> None:
    _WORKER.update(cfg=cfg, root=Path(root), out=Path(out))
    _die_with_parent()


def _die_with_parent() -> None:
    """End this pool worker as soon as the process that started the pool ends, however it ended: a killed
    stage must not leave workers (and the memory they hold) behind. A worker blocked on its task queue would
    otherwise never notice, since it holds that queue's write end itself."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        multiprocessing.connection.wait([parent.sentinel])
        os._exit(1)

    threading.Thread(target=watch, name="die-with-parent", daemon=True).start()


def _pool_context():
    """forkserver (children fork from a server that imported this module once, without having run any
    OpenMP/BLAS threads); spawn where forkserver does not exist."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload([__name__])
        return ctx
    return multiprocessing.get_context("spawn")


def _work(task: Task) -> dict:
    with degrade.single_thread():
        return run_task(task, _WORKER["cfg"], _WORKER["root"], _WORKER["out"])


def _sorted_results(cfg: Config, sets: dict, tasks: list[Task], results: list[dict]) -> tuple[dict, list]:
    """``({set: rows}, skipped)``; a bad image stops the stage naming it unless ``data.skip_bad``, and so does a
    set left without a sample (crop would otherwise blame crop.patch)."""
    small: dict[str, list] = {}
    for task, res in zip(tasks, results):
        bad = res.get("bad", ("", "", "", ""))
        small.setdefault(task.set, []).append(bad[3] if bad[2] == "too_small" else None)
    for name, details in small.items():
        if all(details):  # not the images: the patch size
            raise ConfigError(f"crop.patch: {cfg.crop.patch} leaves set '{name}' without a single patch (every image "
                              f"is smaller, e.g. {details[0]}); expected a patch size no larger than the images")
    skipped, by_set = [], {name: [] for name in sets}
    for task, res in zip(tasks, results):
        if "bad" in res:
            if not cfg.data.skip_bad:
                raise BadImage(res["bad"][1], f"{res['bad'][3]} (data.skip_bad: true skips such images)")
            skipped.append(res["bad"])
        elif "skip" in res:
            skipped.append(res["skip"])
        else:
            by_set[task.set].extend(res["rows"])
    for name, rows in by_set.items():
        if not rows:
            why = [f"{s[1]} ({s[2]}: {s[3]})" for s in skipped if s[0] == name]
            raise ValueError(f"synthesize: set '{name}' has no samples: " + (
                f"its {len(why)} image(s) were all skipped, e.g. {why[0]}" if why else
                f"no image of data.source {cfg.data.source!r} is in its split (data/raw/manifest.csv)"))
    return by_set, skipped


def synthesize(cfg: Config, root: Optional[Path] = None, workers: Optional[int] = None,
               log: Callable[[str], None] = print, progress: bool = True) -> dict:
    """Build ``<root>/synth`` atomically from ``<root>/raw``; returns the summary (also written as JSON)."""
    from tqdm import tqdm

    root = Path(root if root is not None else cfg.data.root)
    workers = cfg.synthesis.workers if workers is None else workers
    syn = cfg.synthesis
    if (syn.didhy or syn.single) and syn.didhy_size < cfg.crop.patch:
        raise ConfigError(f"synthesis.didhy_size: {syn.didhy_size} is smaller than crop.patch ({cfg.crop.patch}); "
                          "the DID-HY, deblur and derain scenes would hold no patch")
    raw = read_raw_manifest(root)
    sets = plan(cfg, raw)
    all_tasks = [t for ts in sets.values() for t in ts]
    with built_aside(root, "synth") as tmp:
        for name in sets:
            (tmp / name).mkdir()
        if workers > 1 and len(all_tasks) > 1:
            with ProcessPoolExecutor(max_workers=workers, mp_context=_pool_context(),
                                     initializer=_init_worker, initargs=(cfg, str(root), str(tmp))) as ex:
                results = list(tqdm(ex.map(_work, all_tasks, chunksize=1), total=len(all_tasks),
                                    desc="synthesize", disable=not progress, leave=False))
        else:
            with degrade.single_thread():
                results = [run_task(t, cfg, root, tmp) for t in tqdm(all_tasks, desc="synthesize",
                                                                      disable=not progress, leave=False)]
        by_set, skipped = _sorted_results(cfg, sets, all_tasks, results)
        for name, rows in by_set.items():
            pd.DataFrame(rows, columns=MANIFEST_COLUMNS).to_csv(tmp / name / "manifest.csv", index=False)
        raw_skips = raw[raw["status"] != "ok"]
        skipped += [("raw", r["name"], r["status"], "rejected by the download stage") for _, r in raw_skips.iterrows()]
        pd.DataFrame(skipped, columns=["set", "source", "reason", "detail"]).to_csv(tmp / "skipped.csv", index=False)
        counts: dict[str, int] = {}
        for s in skipped:
            counts[s[2]] = counts.get(s[2], 0) + 1
        summary = {"sets": {n: {"sources": len(sets[n]), "samples": len(r)} for n, r in by_set.items()},
                   "skipped": counts, "workers": workers, "seed": cfg.seed}
        write_json(tmp / "summary.json", summary)
    for n, v in summary["sets"].items():
        log(f"synth: {n:14s} {v['samples']:6d} samples from {v['sources']} images")
    if counts:
        log("synth: skipped " + ", ".join(f"{k}={v}" for k, v in sorted(counts.items())) + " (see synth/skipped.csv)")
    return summary
