"""Evaluation on a patch set (``data/patches/<set>/{input,target}.npy``) with the OWAN metrics, and of a
whole run on its test sets (:func:`evaluate_run`).

The uint8 memmaps are read batch by batch (the set is never held in memory as floats). Each
output is clipped to [0, 1] and compared with its target per patch (:mod:`fdr.evaluate.metrics`); the
result is the mean over patches. ``max_patches`` > 0 evaluates an evenly spaced subset (patches
are stored image by image, so a prefix would cover only the first images).
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from fdr.config.runs import resolve, test_sets
from fdr.data.imageio import to_float
from fdr.evaluate.metrics import MetricAccumulator
from fdr.models import build
from fdr.tensors import choose_device, from_images, to_images
from fdr.train.checkpoint import CheckpointError, load_state_strict, read

BATCH_PIXELS_PER_ITEM = 64 * 64  # batch_size counts 64x64-sized patches; larger patches get smaller batches


def open_set(set_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """Memory-map ``input.npy`` and ``target.npy`` and check they are matching N x P x P x 3 uint8 arrays."""
    set_dir = Path(set_dir)
    arrays = []
    for name in ("input.npy", "target.npy"):
        path = set_dir / name
        if not path.is_file():
            raise FileNotFoundError(f"{path}: patch array not found (run the crop stage first)")
        arr = np.load(path, mmap_mode="r")
        if arr.dtype != np.uint8 or arr.ndim != 4 or arr.shape[-1] != 3:
            raise ValueError(f"{path}: expected a uint8 N x H x W x 3 array, got {arr.dtype} {arr.shape}")
        arrays.append(arr)
    if arrays[0].shape != arrays[1].shape:
        raise ValueError(f"{set_dir}: input {arrays[0].shape} and target {arrays[1].shape} differ in shape")
    if arrays[0].shape[0] == 0:
        raise ValueError(f"{set_dir}: the set holds no patches")
    return arrays[0], arrays[1]


def subset_indices(n: int, max_patches: int = 0) -> np.ndarray:
    """All ``n`` indices, or ``max_patches`` evenly spaced ones."""
    if max_patches <= 0 or max_patches >= n:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, max_patches).round().astype(np.int64))


def _batches(idx: np.ndarray, batch_size: int, patch_pixels: int):
    size = max(1, min(batch_size, batch_size * BATCH_PIXELS_PER_ITEM // max(1, patch_pixels)))
    for start in range(0, len(idx), size):
        yield idx[start:start + size]


@torch.inference_mode()
def evaluate_model(
    model: nn.Module,
    set_dir: Path,
    batch_size: int = 64,
    device: torch.device | str = "cpu",
    max_patches: int = 0,
    progress: bool = False,
    desc: Optional[str] = None,
    per_patch: bool = False,
):
    """Metrics of ``model``'s outputs on ``set_dir``: ``{"psnr", "ssim", "psnr_y", "ssim_y", "patches"}``; with
    ``per_patch`` also the per-patch PSNR and SSIM: ``(means, {"psnr": array, "ssim": array})``."""
    inputs, targets = open_set(set_dir)
    idx = subset_indices(len(inputs), max_patches)
    device = torch.device(device)
    was_training = model.training
    model.eval()
    acc = MetricAccumulator()
    try:
        with tqdm(total=len(idx), desc=desc or Path(set_dir).name, unit="patch", disable=not progress, leave=False) as bar:
            for b in _batches(idx, batch_size, inputs.shape[1] * inputs.shape[2]):
                acc.add_batch(to_images(model(from_images(inputs[b], device))), to_float(targets[b]))
                bar.update(len(b))
    finally:
        model.train(was_training)
    return (acc.result(), acc.per_image()) if per_patch else acc.result()


def evaluate_identity(set_dir: Path, batch_size: int = 64, max_patches: int = 0, progress: bool = False,
                      per_patch: bool = False):
    """Metrics of the distorted input itself against the target (the tables' reference row); ``per_patch``
    as in :func:`evaluate_model`."""
    inputs, targets = open_set(set_dir)
    idx = subset_indices(len(inputs), max_patches)
    acc = MetricAccumulator()
    with tqdm(total=len(idx), desc=Path(set_dir).name, unit="patch", disable=not progress, leave=False) as bar:
        for b in _batches(idx, batch_size, inputs.shape[1] * inputs.shape[2]):
            acc.add_batch(to_float(inputs[b]), to_float(targets[b]))
            bar.update(len(b))
    return (acc.result(), acc.per_image()) if per_patch else acc.result()


def evaluate_run(cfg, run: str, models: Path, progress: bool = True) -> tuple[dict, dict]:
    """``({set key: metrics}, {set key: {"psnr": array, "ssim": array}})``: the means and the per-patch values of
    ``models/<run>/checkpoint.pt`` (or, for ``run == "input"``, of the distorted input) on every test set of
    the run (:func:`fdr.config.runs.resolve`) that is present."""
    patches = Path(cfg.data.root) / "patches"
    spec = None if run == "input" else resolve(cfg, run)
    wanted = test_sets(cfg, "input") if spec is None else spec.test_sets
    present = {key: patches / name for key, name in wanted.items() if (patches / name / "input.npy").is_file()}
    if not present:
        raise FileNotFoundError(f"{patches}: none of the test sets of {run!r} found "
                                f"({', '.join(wanted.values())}); run the crop stage")
    ec = cfg.evaluate
    if spec is None:
        pairs = {key: evaluate_identity(path, ec.batch_size, ec.max_patches, progress, per_patch=True)
                 for key, path in present.items()}
        return {k: v[0] for k, v in pairs.items()}, {k: v[1] for k, v in pairs.items()}
    model, device = load_run_model(cfg, run, models)
    pairs = {key: evaluate_model(model, p, ec.batch_size, device, ec.max_patches, progress, desc=f"{run} {key}",
                                 per_patch=True) for key, p in present.items()}
    return {k: v[0] for k, v in pairs.items()}, {k: v[1] for k, v in pairs.items()}


def load_run_model(cfg, run: str, models: Path) -> tuple[nn.Module, torch.device]:
    """The trained model of ``run`` (``models/<run>/checkpoint.pt``) on the device ``train.device`` picks; a
    checkpoint of another architecture than params.yaml gives is refused as stale."""
    spec = resolve(cfg, run)
    path = Path(models) / run / "checkpoint.pt"
    state = read(path)
    stale = f"{path} (run {run!r}: trained with another architecture than params.yaml gives; run the train stage first)"
    if state.get("model_name") != spec.model_name:
        raise CheckpointError(f"{stale}: trained as {state.get('model_name')!r}, params.yaml gives {spec.model_name!r}")
    model = build(spec.model_name, spec.model_cfg)
    load_state_strict(model, state["model"], stale)
    device = choose_device(cfg.train.device)
    return model.to(device), device


def write_per_patch(path: Path, values: dict) -> None:
    """``{set: {metric: array}}`` as one compressed ``.npz`` with arrays named ``<set>/<metric>``."""
    from fdr.atomic import atomic_write

    arrays = {f"{s}/{m}": np.asarray(v, dtype=np.float64) for s, per in values.items() for m, v in per.items()}
    atomic_write(Path(path), lambda f: np.savez_compressed(f, **arrays))
