"""Pipeline sections of ``params.yaml``: ``evaluate``, ``ablations`` and ``analysis``."""
from __future__ import annotations

from dataclasses import dataclass, field

from .base import require
from .model import MAX_CHANNELS, MAX_REPEATS


@dataclass(frozen=True)
class WholeConfig:
    """Whole-image evaluation (``fdr/evaluate/whole.py``): the runs scored on their track's whole test images
    (Table 2: DID-HY's 512 x 512 images), and how many images (evenly spaced; 0 = all)."""

    runs: list[str] = ()  # params.yaml: the DID-HY rows of Table 2
    images: int = 0

    def validate(self, path: str) -> None:
        require(self.images >= 0, path, "images", "an integer >= 0", self.images)


@dataclass(frozen=True)
class PaletteSpec:
    """One palette of the held-out photo test (:mod:`fdr.data.palette`): a channel order, a hue rotation in
    degrees and a saturation factor."""

    order: str = "RGB"  # output R, G, B take these input channels
    hue: float = 0.0
    saturation: float = 1.0

    @property
    def label(self) -> str:
        extra = (f"+h{self.hue:g}" if self.hue else "") + (f"+s{self.saturation:g}" if self.saturation != 1.0 else "")
        return self.order + extra

    def validate(self, path: str) -> None:
        require(sorted(self.order) == ["B", "G", "R"], path, "order", "a permutation of RGB", self.order)
        require(0 <= self.hue < 360, path, "hue", "degrees in [0, 360)", self.hue)
        require(self.saturation >= 0, path, "saturation", "a number >= 0", self.saturation)


@dataclass(frozen=True)
class PhotosConfig:
    """The held-out photo test (``fdr/evaluate/heldout.py``): the test photos, restored whole as ``fdr restore``
    does, in their own colours and in other palettes; rows ``runs``, the input and the best Gaussian filter."""

    runs: list[str] = ()  # trained runs of the hybrid track (params.yaml: the main model and its baselines)
    palettes: list[PaletteSpec] = (PaletteSpec(),)

    def validate(self, path: str) -> None:
        require(len(self.palettes) >= 1, path, "palettes", "at least one palette (RGB: the photos' own colours)",
                self.palettes)
        labels = [p.label for p in self.palettes]
        require(len(set(labels)) == len(labels), path, "palettes", "distinct palettes", labels)


@dataclass(frozen=True)
class EvalConfig:
    """Evaluation (OWAN protocol: RGB, clip to [0, 1], no rounding, per 63x63 patch, averaged; ``whole``: per
    whole image)."""

    batch_size: int = 64
    max_patches: int = 0  # per test set; 0 = all
    whole: WholeConfig = field(default_factory=WholeConfig)
    photos: PhotosConfig = field(default_factory=PhotosConfig)

    def validate(self, path: str) -> None:
        require(self.batch_size >= 1, path, "batch_size", "an integer >= 1", self.batch_size)
        require(self.max_patches >= 0, path, "max_patches", "an integer >= 0", self.max_patches)


@dataclass(frozen=True)
class AblationConfig:
    """Table 6 sweeps (runs ``fl<N>`` / ``ch<N>``): the reference row of the run table with one model key changed."""

    reference: str = ""  # DID-HY row the sweeps copy (data, budget, seed); every ablation compares with it ("": none)
    flayers: list[int] = ()  # Table 6 left; the reference's n_flayers is not repeated
    channels: list[int] = ()  # Table 6 right; the reference's channels is not repeated

    def validate(self, path: str) -> None:
        require(all(1 <= v <= MAX_REPEATS for v in self.flayers), path, "flayers", f"integers in [1, {MAX_REPEATS}]",
                self.flayers)
        require(all(1 <= v <= MAX_CHANNELS for v in self.channels), path, "channels",
                f"integers in [1, {MAX_CHANNELS}]", self.channels)


@dataclass(frozen=True)
class AnalysisConfig:
    """Interpretative experiment (§4.5, Fig. 8)."""

    patches: int = 64  # test patches used for the correlation matrices (Fig. 8a/b)
    response_patches: int = 8  # clean test patches for the channel responses (Fig. 8c)
    grid_crops: int = 4  # test crops per level in the visual comparison grids (Fig. 6)

    def validate(self, path: str) -> None:
        require(self.patches >= 1, path, "patches", "an integer >= 1", self.patches)
        require(self.response_patches >= 1, path, "response_patches", "an integer >= 1", self.response_patches)
        require(self.grid_crops >= 1, path, "grid_crops", "an integer >= 1", self.grid_crops)
