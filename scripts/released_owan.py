"""Table 1's protocol checked with no training: OWAN's released model, imported (``python -m fdr import-weights``),
scored with our evaluation (OWAN's metrics, per 63x63 patch), and what Table 2's whole-image protocol does to it.

- ``--pairs DIR``: pairs in the RL-Restore test layout, ``DIR/{mild,moderate,severe}_{in,gt}/`` (its repository
  ships four 63x63 pairs per level in ``data/test``; the full released sets have 3,584 per level). Files pair by
  the number their names start with (``1_in.png`` / ``1.png`` with ``1_gt.png``).
- ``--patches DIR``: our patch sets ``DIR/test_{mild,moderate,severe}`` (``data/patches`` after the crop stage).
- ``--photos DIR``: clean photos, each distorted once per level by the RL-Restore protocol (``fdr.data.degrade``,
  seeded) and restored two ways: the whole image in one pass, and tile by tile on the 63x63 grid the patch sets
  are cut on (the last tile of a row or column flush with the border). OWAN's attention pools over its whole input,
  so the two differ. ``--crop N``: the centre N x N of each photo (N a multiple of 63: an exact tile grid; on 2 CPU
  cores a 512 x 512 photo takes minutes).

    python scripts/released_owan.py CHECKPOINT [--pairs DIR] [--patches DIR] [--photos DIR --levels mild,moderate]
"""
from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

import numpy as np
import torch

from fdr.config import SynthConfig
from fdr.data import degrade
from fdr.data.imageio import read_rgb, to_float
from fdr.evaluate.metrics import evaluate_arrays
from fdr.evaluate.patches import evaluate_model
from fdr.report.tables import render
from fdr.tensors import from_images, to_images
from fdr.train.checkpoint import load_model

LEVELS = ("mild", "moderate", "severe")
TILE = 63


def _number(path: Path) -> int:
    return int(re.match(r"\d+", path.name).group())


@torch.inference_mode()
def restore(model, images: list[np.ndarray]) -> list[np.ndarray]:
    return [to_images(model(from_images(img[None])))[0] for img in images]


def score_pairs(model, folder: Path) -> list[list[str]]:
    rows = []
    for level in LEVELS:
        gts = {_number(p): p for p in (folder / f"{level}_gt").glob("*.png")}
        ins = sorted((folder / f"{level}_in").glob("*.png"), key=_number)
        inputs, targets = [read_rgb(p) for p in ins], [to_float(read_rgb(gts[_number(p)])) for p in ins]
        base = evaluate_arrays([to_float(x) for x in inputs], targets)
        ours = evaluate_arrays(restore(model, inputs), targets)
        rows.append([level, str(len(ins)), f"{base['psnr']:.2f} / {base['ssim']:.4f}",
                     f"{ours['psnr']:.2f} / {ours['ssim']:.4f}"])
    return rows


def score_sets(model, folder: Path) -> list[list[str]]:
    rows = []
    for level in LEVELS:
        m = evaluate_model(model, folder / f"test_{level}", batch_size=32)
        rows.append([level, str(m["patches"]), "", f"{m['psnr']:.2f} / {m['ssim']:.4f}"])
    return rows


def starts(length: int) -> list[int]:
    return sorted({*range(0, length - TILE + 1, TILE), length - TILE})


@torch.inference_mode()
def tiled(model, img: np.ndarray) -> np.ndarray:
    """Each 63x63 tile of the grid restored on its own; the last tile of a row or column is flush with the border."""
    out = np.zeros(img.shape, np.float32)
    for y in starts(img.shape[0]):
        for x in starts(img.shape[1]):
            out[y:y + TILE, x:x + TILE] = to_images(model(from_images(img[None, y:y + TILE, x:x + TILE])))[0]
    return out


def centre(img: np.ndarray, size: int) -> np.ndarray:
    if not size:
        return img
    y, x = (img.shape[0] - size) // 2, (img.shape[1] - size) // 2
    return np.ascontiguousarray(img[max(0, y):max(0, y) + size, max(0, x):max(0, x) + size])


def whole_vs_tiles(model, folder: Path, levels: list[str], seed: int, crop: int = 0) -> list[list[str]]:
    rows, cfg = [], SynthConfig()
    for level in levels:
        for k, path in enumerate(sorted(folder.glob("*.png"))):
            t0, clean = time.perf_counter(), centre(read_rgb(path), crop)
            rng = np.random.default_rng([seed, LEVELS.index(level), k])
            dist = degrade.distort_planar(np.ascontiguousarray(clean.transpose(2, 0, 1)),
                                          degrade.draw_params(level, rng, cfg), rng, cfg)
            gt = to_float(clean)
            scores = [evaluate_arrays([out], [gt]) for out in (to_float(dist), tiled(model, dist),
                                                               restore(model, [dist])[0])]
            rows.append([level, path.stem, f"{clean.shape[1]}x{clean.shape[0]}"]
                        + [f"{s['psnr']:.2f} / {s['ssim']:.4f}" for s in scores])
            print(" | ".join(rows[-1]) + f" ({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)
    psnr = np.array([[float(c.split(" / ")[0]) for c in r[3:]] for r in rows])
    rows.append(["mean", str(len(rows)), ""] + [f"{v:.2f}" for v in psnr.mean(axis=0)])
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--pairs", type=Path)
    parser.add_argument("--patches", type=Path)
    parser.add_argument("--photos", type=Path)
    parser.add_argument("--levels", default="moderate")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--crop", type=int, default=0, help="centre crop of each photo, N x N (0: whole photo)")
    args = parser.parse_args(argv)
    model = load_model(args.checkpoint)[0]
    header = ["level", "patches", "input PSNR / SSIM", "restored PSNR / SSIM"]
    if args.pairs:
        print("\n".join(["RL-Restore sample pairs", ""] + render(header, score_pairs(model, args.pairs)) + [""]))
    if args.patches:
        print("\n".join(["Our test sets", ""] + render(header, score_sets(model, args.patches)) + [""]))
    if args.photos:
        rows = whole_vs_tiles(model, args.photos, args.levels.split(","), args.seed, args.crop)
        print("\n".join(["Whole image vs 63x63 tiles", ""] + render(
            ["level", "photo", "size", "input", "tiles 63x63", "whole"], rows)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
