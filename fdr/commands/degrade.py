"""``python -m fdr degrade``: apply the hybrid-distortion protocol (blur -> noise -> JPEG) to any image."""
from __future__ import annotations

import argparse
import dataclasses
import os
from pathlib import Path

import numpy as np

HELP = "apply the paper's blur -> noise -> JPEG protocol to an image and print the drawn parameters"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", metavar="IN", help="input image (colour; grayscale is replicated to RGB)")
    parser.add_argument("output", metavar="OUT", help="output image (.png, .bmp, .tif or .ppm: lossless)")
    parser.add_argument("--level", choices=("mild", "moderate", "severe"), default="moderate",
                        help="severity range the level triple is drawn from (default: moderate)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--blur", type=float, metavar="SIGMA", help="explicit blur sigma (pixels)")
    parser.add_argument("--noise", type=float, metavar="SIGMA", help="explicit noise sigma (0-255 scale)")
    parser.add_argument("--jpeg", type=float, metavar="Q", help="explicit JPEG quality 1-100 (rounded half up)")
    parser.add_argument("--params", default=None, help="params.yaml whose synthesis section to use (default: paper values)")
    parser.add_argument("--max-pixels", type=int, default=None, help="pixel limit (default: data.max_pixels)")


def check_output(src: Path, dst: Path) -> None:
    """Refuse, before any work, an output that is the input itself, a folder, not lossless, or unwritable."""
    if dst.suffix.lower() not in (".png", ".bmp", ".tif", ".tiff", ".ppm"):
        raise ValueError(f"{dst}: output must be a lossless format (.png, .bmp, .tif, .tiff, .ppm)")
    if dst.is_dir():
        raise ValueError(f"{dst}: is a folder; give the output image's file name")
    if dst.exists() and src.exists() and os.path.samefile(src, dst):
        raise ValueError(f"{dst}: is the input image itself; give another output name")
    folder = dst.parent
    if not folder.is_dir():
        raise FileNotFoundError(f"{dst}: the output folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"{dst}: the output folder {folder} is not writable")


def run(args: argparse.Namespace) -> int:
    from fdr import config
    from fdr.data import degrade
    from fdr.data.imageio import read_rgb, write_image

    cfg = config.load(args.params) if args.params else config.from_dict({})
    syn = cfg.synthesis
    if args.seed < 0:
        raise ValueError(f"--seed: expected an integer >= 0, got {args.seed}")
    if args.blur is not None and not 0 <= args.blur <= 100:
        raise ValueError(f"--blur: expected a sigma in [0, 100], got {args.blur}")
    if args.noise is not None and not 0 <= args.noise <= 255:
        raise ValueError(f"--noise: expected a sigma in [0, 255], got {args.noise}")
    if args.jpeg is not None and not 1 <= args.jpeg <= 100:
        raise ValueError(f"--jpeg: expected a quality in [1, 100], got {args.jpeg}")
    if args.max_pixels is not None and args.max_pixels < 1:
        raise ValueError(f"--max-pixels: expected a pixel count >= 1, got {args.max_pixels}")
    check_output(Path(args.input), Path(args.output))
    img = read_rgb(args.input, args.max_pixels or cfg.data.max_pixels, allow_gray=True)
    degrade.check_jpeg_size(img.shape[1], img.shape[0], args.input)
    rng = np.random.default_rng(args.seed)
    p = degrade.draw_params(args.level, rng, syn)
    explicit = {k: v for k, v in (("blur_sigma", args.blur), ("noise_sigma", args.noise)) if v is not None}
    if args.jpeg is not None:
        explicit.update(jpeg_quality=degrade.round_quality(args.jpeg), jpeg_quality_drawn=float(args.jpeg))
    if explicit:
        p = dataclasses.replace(p, **explicit)
        p = dataclasses.replace(p, triple=degrade.triple_of(p.blur_sigma, p.noise_sigma, p.jpeg_quality_drawn, syn))
    out = degrade.distort_planar(np.ascontiguousarray(img.transpose(2, 0, 1)), p, rng, syn)  # as the stage at x1
    write_image(args.output, out)
    k, m, n = p.triple
    given = ",".join(k.split("_")[0] for k in ("blur_sigma", "noise_sigma", "jpeg_quality") if k in explicit) or "none"
    print(f"level={args.level} triple=({k}, {m}, {n}) severity={degrade.severity(p.triple)} "
          f"blur_sigma={p.blur_sigma:.4f} noise_sigma={p.noise_sigma:.4f} jpeg_quality={p.jpeg_quality} "
          f"seed={args.seed} explicit={given}")
    print(f"wrote {args.output} ({out.shape[1]}x{out.shape[0]})")
    return 0
