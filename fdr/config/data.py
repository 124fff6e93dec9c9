"""Data sections of ``params.yaml``: ``data`` (sources), ``synthesis`` and ``crop``.

Protocol facts follow RL-Restore's released generator (``generate_train.m``); see
``reports/choices.md`` for where it and the paper's text disagree.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Optional

from .base import require

Source = Literal["embedded", "div2k", "did-mdn", "gopro"]


@dataclass(frozen=True)
class ArchiveConfig:
    """One downloadable archive: URL or local path, expected size and SHA-256 (null = record on first download)."""

    url: Optional[str] = None  # http(s):// URL, or a local path the user placed
    size: Optional[int] = None  # bytes
    sha256: Optional[str] = None

    def validate(self, path: str) -> None:
        require(self.size is None or self.size > 0, path, "size", "a positive byte count or null", self.size)
        require(
            self.sha256 is None or (len(self.sha256) == 64 and all(c in "0123456789abcdef" for c in self.sha256)),
            path, "sha256", "64 lowercase hex digits or null", self.sha256,
        )


@dataclass(frozen=True)
class DataConfig:
    """Where images come from and how they are split (paper §4.1)."""

    source: Source = "embedded"  # embedded = photos shipped with scikit-image/matplotlib (offline)
    root: str = "data"  # all data products live below this folder
    skip_bad: bool = False  # corrupt/undecodable images: false = stop with an error naming the file; true = skip and count
    max_pixels: int = 100_000_000  # decompression-bomb limit per image
    test_count: int = 2  # embedded: number of scenes held out for testing
    div2k_train: ArchiveConfig = field(default_factory=ArchiveConfig)
    div2k_valid: ArchiveConfig = field(default_factory=ArchiveConfig)
    rl_restore_testsets: ArchiveConfig = field(default_factory=ArchiveConfig)
    did_mdn: ArchiveConfig = field(default_factory=ArchiveConfig)
    gopro: ArchiveConfig = field(default_factory=ArchiveConfig)

    def validate(self, path: str) -> None:
        require(self.max_pixels >= 1, path, "max_pixels", "an integer >= 1", self.max_pixels)
        require(self.test_count >= 1, path, "test_count", "an integer >= 1", self.test_count)
        require(bool(self.root), path, "root", "a non-empty folder name", self.root)


@dataclass(frozen=True)
class SynthConfig:
    """Hybrid-distortion synthesis (RL-Restore protocol): blur -> noise -> JPEG, 10 levels each."""

    blur_sigma_step: float = 0.5  # level i: sigma ~ U[step*(i-1), step*i]; generator 0.5 -> [0, 5] (paper text says [0, 10])
    noise_sigma_step: float = 5.0  # level i: sigma ~ U[step*(i-1), step*i] on the 0-255 scale -> [0, 50]
    jpeg_quality: list[int] = (100, 80, 60, 50, 40, 35, 30, 25, 20, 15, 10)  # q(1..11); level i draws between q(i) and q(i+1)
    kernel_size: int = 21  # Gaussian blur kernel size (replicate border)
    train_level: Literal["mild", "moderate", "severe"] = "moderate"
    test_levels: list[Literal["mild", "moderate", "severe"]] = ("mild", "moderate", "severe")
    scales: list[float] = (1.0, 2.0 / 3.0, 1.0 / 3.0)  # cumulative bicubic downscales of each training image
    base_scale: float = 1.0  # downscale applied to every source image first (the authors used down-sampled DIV2K)
    workers: int = 2  # process pool size; output does not depend on it
    didhy: bool = True  # also build DID-HY (rain + blur + noise + JPEG at didhy_size)
    didhy_size: int = 512
    single: bool = True  # also build single-distortion tracks (deblur, derain)

    def validate(self, path: str) -> None:
        require(self.blur_sigma_step > 0, path, "blur_sigma_step", "a number > 0", self.blur_sigma_step)
        require(self.noise_sigma_step >= 0, path, "noise_sigma_step", "a number >= 0", self.noise_sigma_step)
        q = self.jpeg_quality
        require(len(q) == 11, path, "jpeg_quality", "11 qualities (levels 1..10 draw between neighbours)", q)
        require(all(1 <= v <= 100 for v in q) and all(a > b for a, b in zip(q, q[1:])),
                path, "jpeg_quality", "strictly decreasing qualities in [1, 100]", q)
        require(self.kernel_size >= 1 and self.kernel_size % 2 == 1, path, "kernel_size", "an odd integer >= 1", self.kernel_size)
        require(len(self.scales) >= 1 and all(0 < s <= 1 for s in self.scales), path, "scales", "scales in (0, 1]", self.scales)
        require(0 < self.base_scale <= 1, path, "base_scale", "a number in (0, 1]", self.base_scale)
        require(self.workers >= 1, path, "workers", "an integer >= 1", self.workers)
        require(self.didhy_size >= 16, path, "didhy_size", "an integer >= 16", self.didhy_size)


@dataclass(frozen=True)
class CropConfig:
    """Patch cropping (paper: 63x63, stride 56)."""

    patch: int = 63
    stride: int = 56
    max_train_patches: int = 0  # 0 = keep all; else a seeded subset of this many
    max_test_patches: int = 0  # per level; 0 = keep all

    def validate(self, path: str) -> None:
        require(self.patch >= 8, path, "patch", "an integer >= 8", self.patch)
        require(self.stride >= 1, path, "stride", "an integer >= 1", self.stride)
        require(self.max_train_patches >= 0, path, "max_train_patches", "an integer >= 0", self.max_train_patches)
        require(self.max_test_patches >= 0, path, "max_test_patches", "an integer >= 0", self.max_test_patches)
