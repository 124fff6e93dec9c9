"""Restoration of your own photos, measured: a folder of clean photos, each distorted once per level as
``fdr degrade`` does and restored as ``fdr restore`` does, against the distorted input and the best Gaussian filter.

    python scripts/bench_photos.py --photos ~/Pictures/clean --checkpoint models/fdrnet/checkpoint.pt
    python scripts/bench_photos.py --photos DIR --checkpoint CKPT --tile 0          # whole image in one pass
    python scripts/bench_photos.py --photos DIR --checkpoint CKPT --tile 160        # tiles of 160, overlap 40
    python scripts/bench_photos.py --photos DIR --checkpoint CKPT --json out.json  # every number, per image

By default photos are restored in the model's own window, as ``fdr restore`` does
(:func:`fdr.evaluate.restore.window_of`). Per level it prints: the input's PSNR, the restored PSNR, the gain, how
many photos got worse (and the worst gain), the best Gaussian filter (one sigma for every photo, chosen on these same photos: an oracle, so the
comparison favours the filter), restored minus Gaussian, and the mean colour shift per channel (restored - clean,
0-255 scale) with the largest of any image. Photos are read as RGB (grayscale replicated) and optionally scaled
(``--scale 0.25`` as DIV2K's smaller scales) with a bicubic filter.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from fdr import config
from fdr.data.imageio import IMAGE_SUFFIXES, read_rgb
from fdr.evaluate import photos
from fdr.evaluate.restore import restore_array, window_of
from fdr.report.tables import render
from fdr.tensors import choose_device
from fdr.train.checkpoint import load_model

LEVELS = ("mild", "moderate", "severe")


def load_photos(folder: Path, scale: float) -> dict[str, np.ndarray]:
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise SystemExit(f"{folder}: no images ({', '.join(IMAGE_SUFFIXES)})")
    out = {}
    for f in files:
        img = read_rgb(f, allow_gray=True)
        if scale != 1.0:
            h, w = img.shape[:2]
            img = np.asarray(Image.fromarray(img).resize((round(w * scale), round(h * scale)), Image.BICUBIC))
        out[f.name] = img
    return out


def measure(model, device, clean: dict[str, np.ndarray], level: str, seed: int, syn, tile: int, overlap: int) -> dict:
    """Input, model and oracle-Gaussian scores of every photo at ``level``."""
    pairs_u8 = [(photos.distort_photo(img, level, seed + k, syn), img) for k, img in enumerate(clean.values())]
    pairs = photos.as_float_pairs(pairs_u8)
    ident = photos.score(lambda d: d, pairs)
    restored = photos.score(lambda d: restore_array(model, d, tile, overlap, device) / 255.0, pairs)
    sigma = photos.choose_sigma(pairs)
    blur = photos.score(lambda d: photos.gaussian(d, sigma), pairs)
    diff = restored["psnr"] - blur["psnr"]
    return {"input": photos.summarize(ident), "restored": photos.summarize(restored, ident),
            "gaussian": {**photos.summarize(blur, ident), "sigma": sigma},
            "restored_minus_gaussian": float(diff.mean()),
            "per_image": {name: {"input": float(ident["psnr"][k]), "restored": float(restored["psnr"][k]),
                                 "gaussian": float(blur["psnr"][k]),
                                 "shift": [float(v) for v in restored["shift"][k]]}
                          for k, name in enumerate(clean)}}


def table(results: dict, names: list[str]) -> list[str]:
    body = []
    for level, r in results.items():
        m, g = r["restored"], r["gaussian"]
        shift = ", ".join(f"{255 * v:+.1f}" for v in m["shift"])
        body.append([level, f"{r['input']['psnr']:.2f}", f"{m['psnr']:.2f}", f"{m['gain']:+.2f}",
                     f"{m['worse']} of {m['images']} (worst {m['worst_gain']:+.2f}, {names[m['worst_image']]})",
                     f"{g['psnr']:.2f} (sigma {g['sigma']:.1f})", f"{r['restored_minus_gaussian']:+.2f}",
                     f"{shift} (max {255 * m['shift_max']:.1f})"])
    return render(["level", "input", "restored", "gain", "photos made worse", "best Gaussian (one sigma)",
                   "restored − Gaussian", "mean colour shift R, G, B (max |any|), 0-255"], body)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--photos", type=Path, required=True, help="folder of clean photos")
    p.add_argument("--checkpoint", type=Path, required=True)
    p.add_argument("--scale", type=float, default=1.0, help="resize factor before distorting (default 1)")
    p.add_argument("--seed", type=int, default=1,
                   help="first seed; photo k of level j (mild 0, moderate 1, severe 2) uses seed + 1000 j + k")
    p.add_argument("--levels", nargs="+", default=list(LEVELS), choices=LEVELS)
    p.add_argument("--tile", type=int, default=None,
                   help="restore tile (0 = whole image; default: the model's own window, as fdr restore)")
    p.add_argument("--overlap", type=int, default=None, help="tile overlap (default: a quarter of the tile)")
    p.add_argument("--params", default=None, help="params.yaml whose synthesis section to use (default: paper values)")
    p.add_argument("--json", type=Path, default=None, help="write every number here")
    args = p.parse_args(argv)
    syn = (config.load(args.params) if args.params else config.from_dict({})).synthesis
    clean = load_photos(args.photos, args.scale)
    device = choose_device("auto")
    model, meta = load_model(args.checkpoint, map_location=device)
    model.to(device)
    if args.tile is None:
        args.tile, args.overlap = window_of(meta)
    elif args.overlap is None:
        args.overlap = args.tile // 4
    results = {lvl: measure(model, device, clean, lvl, args.seed + 1000 * LEVELS.index(lvl), syn, args.tile,
                            args.overlap) for lvl in args.levels}  # a level's draws do not depend on --levels
    print(f"{len(clean)} photos from {args.photos} (scale {args.scale}), {args.checkpoint}, tile {args.tile}"
          f"{'' if args.tile <= 0 else f', overlap {args.overlap}'}")
    print("\n".join(table(results, list(clean))))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
