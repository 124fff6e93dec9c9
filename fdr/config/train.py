"""``train`` section of ``params.yaml`` (paper §3.6, §4.3)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .base import require


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation. Defaults are the paper's: Adam 1e-4, x0.8 every 9,000 iterations, batch 28, beta 1e-5."""

    iterations: int = 200_000  # budget in iterations (not seconds) so results are reproducible
    batch_size: int = 28  # global batch (split across DDP ranks)
    lr: float = 1e-4
    lr_decay: float = 0.8
    lr_step: int = 9000
    beta: float = 1e-5  # SVDO weight (Eq. 8)
    svdo: Literal["literal", "unsquared", "normalized", "unsquared_normalized", "abdnet"] = "unsquared"  # reading of Eq. 5 (fdr.train.losses)
    crop: int = 0  # random crop of training patches (0 = use the whole patch)
    augment: Literal["none", "dihedral"] = "none"  # dihedral: random flips / 90-degree rotations (the paper: none)
    checkpoint_every: int = 1000  # also written at the last iteration
    log_every: int = 100  # DVCLive: mean training loss and learning rate every this many iterations
    val_every: int = 1000  # DVCLive: validation PSNR/SSIM every this many iterations (and at the end)
    val_patches: int = 256  # validation subset size (evenly spaced patches of the moderate test set)
    device: Literal["auto", "cpu", "cuda"] = "auto"  # auto = CUDA when present, else CPU
    amp: Literal["off", "bf16", "fp16"] = "off"  # autocast: bf16 on CPU and CUDA, fp16 on CUDA only (numerics change)
    compile: bool = False  # torch.compile the model for training (inductor); eager with a message where it fails
    channels_last: bool = False  # channels_last memory format (CUDA and CPU; faster depthwise convs on CPU)
    num_workers: int = 0  # DataLoader worker processes (0 = load in the training process)
    deterministic: bool = True  # torch deterministic algorithms; CPU runs are then bit-reproducible

    def validate(self, path: str) -> None:
        require(self.iterations >= 1, path, "iterations", "an integer >= 1", self.iterations)
        require(self.batch_size >= 1, path, "batch_size", "an integer >= 1", self.batch_size)
        require(self.lr > 0, path, "lr", "a number > 0", self.lr)
        require(0 < self.lr_decay <= 1, path, "lr_decay", "a number in (0, 1]", self.lr_decay)
        require(self.lr_step >= 1, path, "lr_step", "an integer >= 1", self.lr_step)
        require(self.beta >= 0, path, "beta", "a number >= 0", self.beta)
        require(self.crop >= 0, path, "crop", "an integer >= 0", self.crop)
        require(self.checkpoint_every >= 1, path, "checkpoint_every", "an integer >= 1", self.checkpoint_every)
        require(self.log_every >= 1, path, "log_every", "an integer >= 1", self.log_every)
        require(self.val_every >= 1, path, "val_every", "an integer >= 1", self.val_every)
        require(self.val_patches >= 1, path, "val_patches", "an integer >= 1", self.val_patches)
        require(self.num_workers >= 0, path, "num_workers", "an integer >= 0", self.num_workers)
