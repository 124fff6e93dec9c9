"""Data sections of ``params.yaml``: ``data`` (sources), ``synthesis`` and ``crop``.

Protocol facts follow RL-Restore's released generator (``generate_train.m``); see
``reports/choices.md`` for where it and the paper's text disagree.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Optional

from .base import require

Source = Literal["embedded", "div2k", "did-mdn", "gopro", "folder"]
Level = Literal["mild", "moderate", "severe"]
# The paper's data that this pipeline can replace by its own (fdr/config/datasets.py), and the archive key of each.
Substitute = Literal["did-mdn", "gopro", "rl-restore"]
SUBSTITUTE_KEYS = {"did-mdn": "did_mdn", "gopro": "gopro", "rl-restore": "rl_restore_testsets"}
# DIV2K HR training images 0001-0800 from the data set's official host (size from protocol.md; SHA-256 is
# recorded in data/raw/archives.json on first download, then pin it under data.div2k_train.sha256).
DIV2K_TRAIN_URL = "http://data.vision.ee.ethz.ch/cvl/DIV2K/DIV2K_train_HR.zip"
DIV2K_TRAIN_SIZE = 3_530_603_713


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
class PairCounts:
    """Pairs a paired archive holds per split (0 = any), checked when the paper's data are required."""

    train: int = 0
    test: int = 0

    def validate(self, path: str) -> None:
        require(self.train >= 0, path, "train", "an integer >= 0", self.train)
        require(self.test >= 0, path, "test", "an integer >= 0", self.test)


@dataclass(frozen=True)
class PairsConfig:
    """Already-distorted inputs and their targets, matched by path relative to each folder without the suffix."""

    input: str = "photos/pairs/input"
    target: str = "photos/pairs/target"


@dataclass(frozen=True)
class FolderConfig:
    """``data.source: folder``: the user's own images (see ``fdr/data/folder.py``). The folders are
    dependencies of the download stage; the committed defaults under ``photos/`` are empty."""

    clean: str = "photos/clean"  # clean images: distorted here like DIV2K's
    pairs: PairsConfig = field(default_factory=PairsConfig)  # optional: used when its input folder holds images
    test_fraction: float = 0.1  # share of the files held out for testing (at least one), when test_files is empty
    test_files: list[str] = ()  # or: these files (paths relative to their folder) are the test split

    def validate(self, path: str) -> None:
        require(0 < self.test_fraction < 1, path, "test_fraction", "a number in (0, 1)", self.test_fraction)
        for key in ("clean", "pairs.input", "pairs.target"):
            value = self.clean if key == "clean" else getattr(self.pairs, key.split(".")[1])
            require(bool(value), path, key, "a folder path", value)


@dataclass(frozen=True)
class DataConfig:
    """Where images come from and how they are split (paper §4.1-4.2).

    ``source`` feeds the hybrid-distortion sets (train, test_*). DID-HY and derain use DID-MDN's own
    rain when ``did_mdn.url`` is set, deblur uses GoPro pairs when ``gopro.url`` is set; otherwise
    they are synthesised from the source's images (see ``fdr/data/rain_motion.py``).
    """

    source: Source = "embedded"  # embedded = photos shipped with scikit-image/matplotlib (offline); folder = data.folder
    root: str = "data"  # all data products live below this folder
    skip_bad: bool = False  # corrupt/oversized images: false = stop with an error naming the file; true = skip and count
    max_pixels: int = 100_000_000  # decompression-bomb limit per image (width x height)
    test_count: int = 2  # embedded: number of scenes held out for testing
    div2k_train: ArchiveConfig = field(default_factory=ArchiveConfig)  # url/size null = DIV2K_TRAIN_URL/_SIZE
    div2k_train_images: int = 750  # DIV2K images 1..N train, the rest (N+1..800) test (paper: 750 / 50)
    rl_restore_testsets: ArchiveConfig = field(default_factory=ArchiveConfig)  # released {mild,moderate,severe}_{in,gt}
    did_mdn: ArchiveConfig = field(default_factory=ArchiveConfig)
    did_mdn_layout: Literal["rain|clean", "clean|rain"] = "rain|clean"  # halves of each side-by-side DID-MDN image
    did_mdn_train: str = "DID-MDN-training"  # the archive's folder of training pairs (Rain_Heavy/Medium/Light)
    did_mdn_test: str = "DID-MDN-test"  # the archive's folder of the paper's 1,200 test pairs; other test folders unused
    did_mdn_pairs: PairCounts = field(default_factory=lambda: PairCounts(12_000, 1_200))  # paper §4.1
    gopro: ArchiveConfig = field(default_factory=ArchiveConfig)
    gopro_blur: Literal["blur", "blur_gamma"] = "blur"  # which GoPro blurred frames pair with "sharp"
    gopro_pairs: PairCounts = field(default_factory=lambda: PairCounts(2_103, 1_111))  # paper §4.2
    substitutes: list[Substitute] = ()  # paper data replaced by this pipeline's own, deliberately (datasets.py)
    folder: FolderConfig = field(default_factory=FolderConfig)  # source "folder": the user's own images
    max_extract_bytes: int = 16 * 2**30  # refuse archives that declare more content than this (bytes) ...
    max_extract_ratio: float = 20.0  # ... or more than this many times their own size (image archives: ~1)
    download_retries: int = 3  # resumed attempts after a dropped connection
    download_timeout: float = 60.0  # seconds without data before a connection counts as dropped
    download_deadline: float = 6 * 3600.0  # seconds for a whole download, all attempts (then: error, .part kept)

    def validate(self, path: str) -> None:
        require(self.max_pixels >= 1, path, "max_pixels", "an integer >= 1", self.max_pixels)
        require(self.test_count >= 1, path, "test_count", "an integer >= 1", self.test_count)
        require(bool(self.root), path, "root", "a non-empty folder name", self.root)
        require(1 <= self.div2k_train_images < 800, path, "div2k_train_images", "an integer in [1, 799]",
                self.div2k_train_images)
        require(self.max_extract_bytes >= 1, path, "max_extract_bytes", "an integer >= 1", self.max_extract_bytes)
        require(self.max_extract_ratio >= 1, path, "max_extract_ratio", "a number >= 1", self.max_extract_ratio)
        require(self.download_retries >= 0, path, "download_retries", "an integer >= 0", self.download_retries)
        require(self.download_timeout > 0, path, "download_timeout", "a number > 0", self.download_timeout)
        require(self.download_deadline > 0, path, "download_deadline", "a number > 0", self.download_deadline)
        for name in self.substitutes:
            key = SUBSTITUTE_KEYS[name]
            require(getattr(self, key).url is None, path, "substitutes",
                    f"data sets not given: {name} is given by data.{key}.url (remove it from the substitutes)",
                    list(self.substitutes))
        require(len(set(self.substitutes)) == len(self.substitutes), path, "substitutes", "distinct names",
                list(self.substitutes))
        for key in ("did_mdn_train", "did_mdn_test"):
            require(bool(getattr(self, key)) and "/" not in getattr(self, key), path, key,
                    "a folder name of the DID-MDN archive", getattr(self, key))
        needed = {"did-mdn": "did_mdn", "gopro": "gopro"}.get(self.source)
        if needed:
            require(getattr(self, needed).url is not None, path, f"{needed}.url",
                    f"a URL or local archive path when source is {self.source!r}", None)


@dataclass(frozen=True)
class CopiesConfig:
    """Independently distorted copies of each source image (and scale), per kind of set (the protocol: 1)."""

    hybrid_train: int = 1  # the hybrid training set (Table 1)
    hybrid_test: int = 1  # each hybrid test level
    scene_train: int = 1  # DID-HY, deblur and derain training sets
    scene_test: int = 1  # DID-HY, deblur and derain test sets

    def validate(self, path: str) -> None:
        for key in ("hybrid_train", "hybrid_test", "scene_train", "scene_test"):
            require(getattr(self, key) >= 1, path, key, "an integer >= 1", getattr(self, key))


@dataclass(frozen=True)
class PaletteConfig:
    """Colour augmentation of the synthetic training sets (:mod:`fdr.data.palette`), applied to the clean image
    before it is distorted: copy 0 of each training image keeps its colours, every further copy
    (``synthesis.copies``) gets a random channel order, hue rotation and saturation factor."""

    train: bool = False  # recolour copies >= 1 of every synthetic training image (the paper: no augmentation)
    saturation: list[float] = (0.6, 1.4)  # the range of the saturation factor

    def validate(self, path: str) -> None:
        s = self.saturation
        require(len(s) == 2 and 0 <= s[0] <= s[1], path, "saturation", "[low, high] with 0 <= low <= high", s)


@dataclass(frozen=True)
class SynthConfig:
    """Hybrid-distortion synthesis (RL-Restore protocol): blur -> noise -> JPEG, 10 levels each.

    ``draws: image`` is the protocol (one level triple per image, scale and copy); ``draws: patch`` draws one
    per window of the crop grid (``crop.patch`` / ``crop.stride``), each distorted with the context the whole
    image would give it, so a few photos yield as many independent draws as they have patches.
    """

    blur_sigma_step: float = 0.5  # level i: sigma ~ U[step*(i-1), step*i]; generator 0.5 -> [0, 5] (paper text says [0, 10])
    noise_sigma_step: float = 5.0  # level i: sigma ~ U[step*(i-1), step*i] on the 0-255 scale -> [0, 50]
    jpeg_quality: list[int] = (100, 80, 60, 50, 40, 35, 30, 25, 20, 15, 10)  # q(1..11); level i draws between q(i) and q(i+1)
    kernel_size: int = 21  # Gaussian blur kernel size (replicate border)
    train_level: Level = "moderate"
    test_levels: list[Level] = ("mild", "moderate", "severe")
    scales: list[float] = (1.0, 2.0 / 3.0, 1.0 / 3.0)  # cumulative bicubic downscales of each training image
    test_scales: list[float] = (1.0, 2.0 / 3.0, 1.0 / 3.0)  # same for test images (the test generator is not public)
    base_scale: float = 1.0  # downscale applied to every source image first (the authors used down-sampled DIV2K)
    workers: int = 2  # process pool size; output does not depend on it
    didhy: bool = True  # also build DID-HY (rain + blur + noise + JPEG at didhy_size)
    didhy_size: int = 512
    didhy_level: Level = "moderate"  # level range of DID-HY's blur/noise/JPEG triple (not stated in the paper)
    single: bool = True  # also build single-distortion tracks (deblur, derain)
    motion_length: list[float] = (5.0, 21.0)  # synthetic deblurring track: motion-blur length range (pixels)
    draws: Literal["image", "patch"] = "image"  # one level triple per image and scale, or per crop window
    copies: CopiesConfig = field(default_factory=CopiesConfig)
    palettes: PaletteConfig = field(default_factory=PaletteConfig)

    def validate(self, path: str) -> None:
        require(self.blur_sigma_step > 0, path, "blur_sigma_step", "a number > 0", self.blur_sigma_step)
        require(self.noise_sigma_step >= 0, path, "noise_sigma_step", "a number >= 0", self.noise_sigma_step)
        q = self.jpeg_quality
        require(len(q) == 11, path, "jpeg_quality", "11 qualities (levels 1..10 draw between neighbours)", q)
        require(all(1 <= v <= 100 for v in q) and all(a > b for a, b in zip(q, q[1:])),
                path, "jpeg_quality", "strictly decreasing qualities in [1, 100]", q)
        require(self.kernel_size >= 1 and self.kernel_size % 2 == 1, path, "kernel_size", "an odd integer >= 1", self.kernel_size)
        for key in ("scales", "test_scales"):
            v = getattr(self, key)
            require(len(v) >= 1 and all(0 < s <= 1 for s in v) and all(a > b for a, b in zip(v, v[1:])),
                    path, key, "a decreasing list of scales in (0, 1]", v)
        require(len(set(self.test_levels)) == len(self.test_levels) and len(self.test_levels) >= 1,
                path, "test_levels", "distinct levels", self.test_levels)
        require(0 < self.base_scale <= 1, path, "base_scale", "a number in (0, 1]", self.base_scale)
        require(self.workers >= 1, path, "workers", "an integer >= 1", self.workers)
        require(self.didhy_size >= 16, path, "didhy_size", "an integer >= 16", self.didhy_size)
        m = self.motion_length
        require(len(m) == 2 and 1 <= m[0] <= m[1], path, "motion_length", "[low, high] pixels, 1 <= low <= high", m)


@dataclass(frozen=True)
class MaxTestPatches:
    """A seeded subset of at most this many patches of each test set of a track (0 = every patch). The
    hybrid levels are Table 1's test sets: cut them and the table's cells carry sampling error (about
    0.085 dB at 1,000 patches, against FDR-Net - OWAN margins of 0.17-0.33 dB); the report names every cut."""

    hybrid: int = 0  # each of test_mild, test_moderate, test_severe (Table 1)
    didhy: int = 0  # didhy_test (Tables 2, 5, 6)
    deblur: int = 0  # deblur_test (Table 3)
    derain: int = 0  # derain_test (Table 4)
    pairs: int = 0  # pairs_test (data.folder.pairs)

    def validate(self, path: str) -> None:
        for key in ("hybrid", "didhy", "deblur", "derain", "pairs"):
            require(getattr(self, key) >= 0, path, key, "an integer >= 0", getattr(self, key))

    def of(self, set_name: str) -> int:
        """The cut of test set ``set_name`` (``test_<level>`` or ``<track>_test``)."""
        return self.hybrid if set_name.startswith("test_") else getattr(self, set_name[: -len("_test")])


@dataclass(frozen=True)
class CropConfig:
    """Patch cropping (paper: 63x63, stride 56)."""

    patch: int = 63
    stride: int = 56
    max_train_patches: int = 0  # 0 = keep all; else a seeded subset of this many
    max_test_patches: MaxTestPatches = field(default_factory=MaxTestPatches)  # per test set, by track; 0 = keep all

    def validate(self, path: str) -> None:
        require(self.patch >= 8, path, "patch", "an integer >= 8", self.patch)
        require(self.stride >= 1, path, "stride", "an integer >= 1", self.stride)
        require(self.max_train_patches >= 0, path, "max_train_patches", "an integer >= 0", self.max_train_patches)
