"""Images <-> model tensors, one conversion each way (uint8 values / 255 in, clipped to [0, 1] out), and the device
they go to."""
from __future__ import annotations

import numpy as np
import torch


def to_device(batch: torch.Tensor, device: torch.device | str = "cpu", non_blocking: bool = False) -> torch.Tensor:
    """B x 3 x H x W (uint8, or float in [0, 1]) -> float on ``device``; uint8 values / 255."""
    x = batch.to(device, non_blocking=non_blocking)
    return x.float().div_(255) if batch.dtype == torch.uint8 else x.float()


def from_images(images: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """N x H x W x 3 numpy images (uint8, or float in [0, 1]) -> float N x 3 x H x W on ``device``."""
    arr = np.ascontiguousarray(images)
    if not arr.flags.writeable:  # torch wants writable memory (a decoded image or a read-only map is not)
        arr = arr.copy()
    return to_device(torch.from_numpy(arr).permute(0, 3, 1, 2), device)


def to_images(y: torch.Tensor) -> np.ndarray:
    """Model output N x 3 x H x W -> numpy float32 N x H x W x 3, clipped to [0, 1]."""
    return y.float().clamp(0, 1).permute(0, 2, 3, 1).cpu().numpy()


def choose_device(preference: str, local_rank: int = 0) -> torch.device:
    """``auto``: CUDA when available, else CPU; ``cuda`` fails clearly when there is none."""
    if preference not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device: expected auto, cpu or cuda, got {preference!r}")
    if preference == "cuda" and not torch.cuda.is_available():
        raise ValueError("device: 'cuda' requested but no CUDA device is available (use auto or cpu)")
    if preference == "cpu" or not torch.cuda.is_available():
        return torch.device("cpu")
    return torch.device("cuda", local_rank % torch.cuda.device_count())
