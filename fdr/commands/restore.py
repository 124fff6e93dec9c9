"""``python -m fdr restore [--checkpoint CKPT] INPUT... [-o OUTDIR]``: restore your own photos.

INPUT may be image files or folders (searched recursively; the folder structure is mirrored under
OUTDIR). Each image is restored tile by tile (see :mod:`fdr.evaluate.restore`) and written to
``OUTDIR/<name>.<ext>`` atomically. An input that cannot be read is reported by name and skipped;
the exit code is then 1. Without ``--checkpoint`` the model the pipeline last trained,
``models/fdrnet/checkpoint.pt`` (stage ``train@fdrnet``), is used.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from PIL import Image
from tqdm import tqdm

from fdr.config import DataConfig
from fdr.data.imageio import IMAGE_SUFFIXES, BadImage, read_rgb, write_image
from fdr.evaluate.restore import MIN_TILE, count_tiles, restore_array, window_of
from fdr.tensors import choose_device
from fdr.train.checkpoint import DEFAULT_CHECKPOINT, load_model

HELP = "restore photos (files or folders) with a trained model, tile by tile"
MAX_PIXELS = DataConfig.max_pixels  # the same limit as the pipeline's data.max_pixels default


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files or folders")
    p.add_argument("--checkpoint", type=Path, default=None,
                   help=f"trained model (default: {DEFAULT_CHECKPOINT}, written by `dvc repro`)")
    p.add_argument("-o", "--output", type=Path, default=Path("restored"), help="output folder (default: restored)")
    p.add_argument("--tile", type=int, default=None,
                   help="tile size in pixels; 0 = whole image at once (default: the model's own, from the window it "
                        "was trained on)")
    p.add_argument("--overlap", type=int, default=None, help="tile overlap in pixels (default: a quarter of the tile)")
    p.add_argument("--ext", default="png", help="output format by extension: png (default), jpg, tif, webp, ...")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="default: auto")
    p.add_argument("--max-pixels", type=int, default=MAX_PIXELS,
                   help=f"refuse images larger than this many pixels (default {MAX_PIXELS:,})")
    p.add_argument("--overwrite", action="store_true",
                   help="allow an output to replace a file already there (an input file included)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def collect(inputs: list[str], output: Path | None = None) -> tuple[list[tuple[Path, Path]], list[tuple[str, str]]]:
    """``[(image path, output path relative to OUTDIR without suffix)]`` and ``[(input, problem)]``.

    Files under ``output`` are left out of folder searches (an output folder inside an input folder would
    otherwise be restored again on the next run). Named paths that are neither files nor folders (a pipe such
    as ``<(cat x.png)``) are read as given.
    """
    found, problems = [], []
    skip = output.resolve() if output is not None else None
    for raw in inputs:
        path = Path(raw)
        if path.is_dir():
            images = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                            and not (skip is not None and skip in p.resolve().parents))
            if not images:
                problems.append((raw, "folder holds no images (" + ", ".join(IMAGE_SUFFIXES) + ")"))
            found += [(p, p.relative_to(path).with_suffix("")) for p in images]
        elif path.exists():
            found.append((path, Path(path.stem)))
        else:
            problems.append((raw, "no such file or folder"))
    return found, problems


def check_options(args: argparse.Namespace) -> None:
    """Numeric options and the output folder, checked before the model is loaded or any image read."""
    if args.tile is not None and args.tile != 0 and args.tile < MIN_TILE:
        raise ValueError(f"--tile: expected 0 (whole image) or at least {MIN_TILE} pixels, got {args.tile}")
    if args.tile and args.overlap is not None and not 0 <= args.overlap <= args.tile // 2:
        raise ValueError(f"--overlap: expected 0 <= overlap <= tile / 2 ({args.tile // 2}), got {args.overlap} "
                         "(a larger overlap restores each pixel more than 4 times)")
    if args.max_pixels < 1:
        raise ValueError(f"--max-pixels: expected a pixel count >= 1, got {args.max_pixels}")
    try:
        args.output.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"-o {args.output}: cannot create the output folder ({exc.strerror or exc})") from None
    if not os.access(args.output, os.W_OK | os.X_OK):
        raise ValueError(f"-o {args.output}: the output folder is not writable")


def choose_window(args: argparse.Namespace, meta: dict) -> tuple[int, int]:
    """The tile and overlap: given ones, else the model's own (:func:`fdr.evaluate.restore.window_of`); says which."""
    tile, overlap = window_of(meta) if args.tile is None else (args.tile, args.overlap)
    overlap = tile // 4 if overlap is None else overlap
    how = "given" if args.tile is not None else f"the model's own: trained on {meta.get('window', '?')}-pixel windows"
    if not args.quiet:
        print(f"restoring {'whole images' if tile == 0 else f'in {tile}-pixel tiles overlapping by {overlap}'} "
              f"({how})", file=sys.stderr)
    return tile, overlap


def run(args: argparse.Namespace) -> int:
    check_options(args)
    ext = "." + args.ext.lower().lstrip(".")
    if Image.registered_extensions().get(ext) is None:
        raise ValueError(f"--ext: {args.ext!r} is not an image format Pillow can write")
    ckpt = args.checkpoint or DEFAULT_CHECKPOINT
    if not ckpt.is_file():
        hint = ("no model has been trained yet: run `dvc repro` (stage train@fdrnet) or pass --checkpoint"
                 if args.checkpoint is None else "pass the checkpoint.pt of a trained run")
        raise FileNotFoundError(f"{ckpt}: checkpoint not found; {hint}")
    device = choose_device(args.device)
    model, meta = load_model(ckpt, map_location="cpu")
    model.to(device)
    args.tile, args.overlap = choose_window(args, meta)

    jobs, failures = collect(args.inputs, args.output)
    total = len(jobs) + len(failures)
    inputs = {p.resolve() for p, _ in jobs}
    claimed: dict[Path, Path] = {}
    done = 0
    for src, rel in jobs:
        dst = args.output / rel.parent / (rel.name + ext)  # rel has no suffix; keep dots in the stem
        try:
            target = dst.resolve()
            if target in inputs and not args.overwrite:
                raise ValueError(f"output {dst} would replace an input (use --overwrite or another -o)")
            if target in claimed:
                raise ValueError(f"output {dst} is already written for {claimed[target]}")
            if os.path.lexists(dst) and not args.overwrite:
                raise ValueError(f"output {dst} already exists (use --overwrite to replace it, or another -o)")
            claimed[target] = src
            image = read_rgb(src, args.max_pixels, allow_gray=True, limit_name="--max-pixels")
            h, w = image.shape[:2]
            with tqdm(total=count_tiles(h, w, args.tile, args.overlap), desc=src.name, unit="tile",
                      disable=args.quiet, leave=False) as bar:
                out = restore_array(model, image, args.tile, args.overlap, device, bar.update)
            del image
            write_image(dst, out)
            done += 1
            if not args.quiet:
                print(f"{src} -> {dst}", file=sys.stderr)
        except BadImage as exc:  # its message names the file
            failures.append((exc.path, exc.detail))
        except (OSError, ValueError) as exc:
            failures.append((str(src), str(exc) or type(exc).__name__))
    for name, why in failures:
        print(f"error: {name}: {why}", file=sys.stderr)
    print(f"restored {done} of {total} input(s) with {ckpt} (iteration {meta.get('iteration')})"
          + (f"; {len(failures)} failed" if failures else ""), file=sys.stderr)
    return 1 if failures else 0
