"""Restoring whole photos with a trained model, tile by tile (``python -m fdr restore``).

The image is cut into a grid of ``tile`` x ``tile`` windows that overlap by at least ``overlap``
pixels (the last row/column is aligned with the image edge). Each window is restored on its own
and the results are blended with separable weights that are 0 within ``overlap / 4`` pixels of a
window edge that lies inside the image, rise linearly to 1 over the next ``overlap / 2`` pixels,
and are 1 everywhere else (image borders included). Every pixel therefore mixes only window
outputs computed at least ``overlap / 4`` pixels away from a cut: for a fully convolutional
model whose receptive field reaches no further than that, tiled and whole-image results agree to
float rounding. Models with global operations (FDR-Net's channel attention pools over the whole
input) see per-window statistics, closer to their 63x63 training patches than a whole photo.

Memory: the model sees one window at a time, and blending runs one row of windows at a time, so
besides the 8-bit input and output images only a ``tile`` x width float strip is held.
"""
from __future__ import annotations

import math
from typing import Callable, Iterator, Optional

import numpy as np
import torch
from torch import nn

from fdr.data.imageio import quantize
from fdr.tensors import from_images

# Restore tile side per architecture, in training windows (0: the whole image in one pass), chosen by measurement
# on photos no model saw (reports/choices.md, "Restoring photos"): models whose attention pools over their input see
# the statistics they were trained on in tiles of a few training windows; DnCNN is fully convolutional.
TILE_WINDOWS = {"fdrnet": 4, "owan": 4, "dncnn": 0}
MIN_TILE = 32  # smaller tiles give the network almost no context and multiply the tile count


def window_of(meta: dict) -> tuple[int, int]:
    """``(tile, overlap)`` that ``fdr restore`` uses by default for the model of checkpoint ``meta``: a tile of
    :data:`TILE_WINDOWS` training windows (the checkpoint's ``window``, else its configuration's ``train.crop`` or
    ``crop.patch``) overlapping by a quarter of it, or ``(0, 0)``: the whole image."""
    cfg = meta.get("config") or {}
    window = meta.get("window") or (cfg.get("train") or {}).get("crop") or (cfg.get("crop") or {}).get("patch") or 0
    factor = TILE_WINDOWS.get(meta.get("model_name"), 0)
    if not window or not factor:
        return 0, 0
    tile = max(MIN_TILE, factor * int(window))
    return tile, tile // 4


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Window start offsets along one axis: stride ``tile - overlap``, the last window flush with the end."""
    if length <= tile:
        return [0]
    stride = tile - overlap
    n = math.ceil((length - tile) / stride) + 1
    starts = [min(i * stride, length - tile) for i in range(n)]
    return sorted(set(starts))


def edge_weights(size: int, start: int, length: int, overlap: int) -> np.ndarray:
    """1-D blending weights of a window ``[start, start + size)`` of an axis of ``length`` pixels."""
    w = np.ones(size, dtype=np.float32)
    if overlap <= 0:
        return w
    dead, ramp = overlap / 4.0, overlap / 2.0
    d = np.arange(size, dtype=np.float32)
    if start > 0:  # cut on the low side
        w = np.minimum(w, np.clip((d + 0.5 - dead) / ramp, 0.0, 1.0))
    if start + size < length:  # cut on the high side
        w = np.minimum(w, np.clip((size - d - 0.5 - dead) / ramp, 0.0, 1.0))
    return w


def _axis_plan(length: int, tile: int, overlap: int) -> tuple[list[tuple[int, int, np.ndarray]], np.ndarray]:
    size = min(tile, length)
    plan, total = [], np.zeros(length, dtype=np.float32)
    for s in tile_starts(length, tile, overlap):
        w = edge_weights(size, s, length, overlap)
        plan.append((s, size, w))
        total[s:s + size] += w
    return plan, total


def restore_array(
    model: nn.Module,
    image: np.ndarray,
    tile: int = 256,
    overlap: int = 16,
    device: torch.device | str = "cpu",
    on_tile: Optional[Callable[[], None]] = None,
) -> np.ndarray:
    """Restore an H x W x 3 image (uint8, or float in [0, 1]) and return uint8 H x W x 3.

    ``tile`` <= 0 restores the whole image at once. ``on_tile`` is called after each window.
    """
    out = np.empty(image.shape[:2] + (3,), dtype=np.uint8)
    for rows, block in restore_rows(model, image, tile, overlap, device, on_tile):
        out[rows] = quantize(block)
    return out


def count_tiles(height: int, width: int, tile: int, overlap: int) -> int:
    if tile <= 0:
        return 1
    return len(tile_starts(height, tile, overlap)) * len(tile_starts(width, tile, overlap))


def _check(image: np.ndarray, tile: int, overlap: int) -> None:
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an H x W x 3 image, got shape {image.shape}")
    if tile > 0 and not 0 <= overlap < tile:
        raise ValueError(f"overlap: expected 0 <= overlap < tile ({tile}), got {overlap}")


def _run(model: nn.Module, window: np.ndarray, device: torch.device) -> np.ndarray:
    y = model(from_images(window[None], device))
    return y[0].float().permute(1, 2, 0).cpu().numpy()


@torch.inference_mode()
def restore_rows(
    model: nn.Module,
    image: np.ndarray,
    tile: int = 256,
    overlap: int = 16,
    device: torch.device | str = "cpu",
    on_tile: Optional[Callable[[], None]] = None,
) -> Iterator[tuple[slice, np.ndarray]]:
    """Yield ``(row_slice, float32 block)`` pieces of the restored image (unclipped) from top to bottom."""
    _check(image, tile, overlap)
    device = torch.device(device)
    h, w = image.shape[:2]
    if tile <= 0:
        block = _run(model, image, device)
        if on_tile:
            on_tile()
        yield slice(0, h), block
        return
    ys, total_y = _axis_plan(h, tile, overlap)
    xs, total_x = _axis_plan(w, tile, overlap)
    pending: Optional[tuple[int, np.ndarray]] = None  # (first row, weighted sum) not yet complete
    for y0, th, wy in ys:
        band = np.zeros((th, w, 3), dtype=np.float32)
        for x0, tw, wx in xs:
            pred = _run(model, image[y0:y0 + th, x0:x0 + tw], device)
            band[:, x0:x0 + tw] += pred * (wy[:, None, None] * wx[None, :, None])
            if on_tile:
                on_tile()
        if pending is not None:
            p0, acc = pending
            done = y0 - p0  # rows above this band are final
            if done > 0:
                yield slice(p0, y0), acc[:done] / (total_y[p0:y0, None, None] * total_x[None, :, None])
            band[: p0 + len(acc) - y0] += acc[done:]
        pending = (y0, band)
    p0, acc = pending
    yield slice(p0, h), acc / (total_y[p0:h, None, None] * total_x[None, :, None])
