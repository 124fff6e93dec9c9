"""Evaluation on whole images: a track's synthesized test images (``data/synth/<track>_test``), each scored as one
image, as the paper's Table 2 scores DID-HY's 512 x 512 images.

Per-patch evaluation (:mod:`fdr.evaluate.patches`) cuts each image into 63 x 63 patches and restores them one by one;
channel attention (Eq. 6 and the fusion) then pools over a patch, not over the image, so a per-patch score is
not the paper's quantity for DID-HY. Here the model sees the whole image in one forward pass (no tiling: a
512 x 512 image of the paper-size FDR-Net needs 0.47 GB above the interpreter on CPU, measured), and the OWAN metrics
(:mod:`fdr.evaluate.metrics`) compare the whole output with the whole target. The tracks of Tables 3-4 are also scored
with the convention each caption cites (:func:`fdr.evaluate.metrics.track_metrics`: deblurring as SRN, deraining as
SPANet), beside OWAN's. ``evaluate.whole.images`` > 0 scores an evenly spaced subset of the images (the embedded
default's budget); 0 scores all.
"""
from __future__ import annotations

from pathlib import Path
from typing import NamedTuple, Optional

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from fdr.config.runs import TRACKS, resolve
from fdr.data.imageio import read_rgb, to_float
from fdr.data.layout import parse_box, read_manifest
from fdr.evaluate.metrics import MetricAccumulator, track_metrics
from fdr.evaluate.patches import load_run_model, subset_indices
from fdr.tensors import from_images, to_images


class ImagePair(NamedTuple):
    """A test image and its target; a box ``(x0, y0, x1, y1)`` names the part of the file that is the image (DID-MDN
    keeps both side by side in one file), ``()`` the whole file."""
    input: Path
    target: Path
    input_box: tuple = ()
    target_box: tuple = ()


def read_image(path: Path, box: tuple) -> np.ndarray:
    """The image at ``path``, cut to ``box`` when there is one."""
    arr = read_rgb(path)
    if box:
        x0, y0, x1, y1 = box
        arr = arr[y0:y1, x0:x1]
    return arr


def image_pairs(data_root: Path, track: str, max_images: int = 0) -> list[ImagePair]:
    """The test images of ``<data_root>/synth/<track>_test`` in manifest order, with the boxes the manifest gives
    (``max_images`` > 0: an evenly spaced subset)."""
    table = read_manifest(Path(data_root) / "synth" / f"{track}_test")
    if table.empty:
        raise ValueError(f"{data_root}/synth/{track}_test/manifest.csv: lists no images")
    rows = table.iloc[subset_indices(len(table), max_images)]
    boxes = {k: rows[k] if k in rows else [None] * len(rows) for k in ("input_box", "target_box")}
    root = Path(data_root)
    return [ImagePair(root / i, root / t, parse_box(bi), parse_box(bt))
            for i, t, bi, bt in zip(rows["input"], rows["target"], boxes["input_box"], boxes["target_box"])]


@torch.inference_mode()
def evaluate_images(model: Optional[nn.Module], pairs: list[ImagePair], device: torch.device | str = "cpu",
                    progress: bool = False, desc: str = "images", extra=None) -> tuple[dict, dict]:
    """``(means, {"psnr": array, "ssim": array})`` of ``model``'s outputs (``None``: the input itself) over
    ``pairs``, one whole image per forward pass; ``means["images"]`` counts them; ``extra``: more metrics by name."""
    acc = MetricAccumulator(extra)
    if model is not None:
        model.eval()
    for pair in tqdm(pairs, desc=desc, unit="image", disable=not progress, leave=False):
        inp, gt = read_image(pair.input, pair.input_box), read_image(pair.target, pair.target_box)
        if inp.shape != gt.shape:
            raise ValueError(f"{pair.input}: {inp.shape[1]}x{inp.shape[0]} pixels, its target {pair.target} "
                             f"{gt.shape[1]}x{gt.shape[0]}; expected the same size")
        out = to_float(inp) if model is None else to_images(model(from_images(inp[None], device)))[0]
        acc.add(out, to_float(gt))
    means = acc.result()
    means["images"] = means.pop("patches")
    return means, acc.per_image()


def whole_tracks(cfg, run: str) -> list[str]:
    """The tracks (DID-HY, deblur, derain, pairs) ``run`` is tested on; ``input``: those of ``evaluate.whole.runs``."""
    runs = cfg.evaluate.whole.runs if run == "input" else (run,)
    keys = [k for r in runs for k in resolve(cfg, r).test_sets]
    return [k for k in dict.fromkeys(keys) if k in TRACKS]


def evaluate_run_whole(cfg, run: str, models: Path, progress: bool = True) -> tuple[dict, dict]:
    """``({track: metrics}, {track: {"psnr": array, "ssim": array}})`` of ``run`` (or ``input``) on the whole test
    images of each of its tracks that was synthesized."""
    root = Path(cfg.data.root)
    tracks = [t for t in whole_tracks(cfg, run) if (root / "synth" / f"{t}_test" / "manifest.csv").is_file()]
    if not tracks:
        raise FileNotFoundError(f"{root}/synth: no whole test images for {run!r} (tracks "
                                f"{', '.join(whole_tracks(cfg, run)) or 'none'}); run the synthesize stage")
    model, device = (None, torch.device("cpu")) if run == "input" else load_run_model(cfg, run, models)
    results = {t: evaluate_images(model, image_pairs(root, t, cfg.evaluate.whole.images), device, progress,
                                  desc=f"{run} {t}", extra=track_metrics(t)) for t in tracks}
    return {t: r[0] for t, r in results.items()}, {t: r[1] for t, r in results.items()}
