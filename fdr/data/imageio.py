"""Image reading/writing with the checks the data stages need.

``read_rgb`` returns ``uint8`` H x W x 3 or raises a :class:`BadImage` subclass naming the file:

- :class:`CorruptImage`: not decodable or truncated;
- :class:`GrayscaleImage`: one-channel image (skipped, as RL-Restore's generator does: ``if size(image,3) > 1``);
- :class:`TooLargeImage`: width x height above ``max_pixels`` (decompression-bomb limit), checked from the
  header before any pixel is decoded.

RGBA / palette / CMYK images are converted to RGB (alpha dropped, like MATLAB's ``imread``); 16-bit RGB PNGs
are reduced to 8 bits by Pillow (high byte kept).
"""
from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import numpy as np
from PIL import Image

from fdr.atomic import atomic_write


GRAY_MODES = {"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}


class BadImage(ValueError):
    """An input image the data stages cannot use; ``reason`` is a short tag for manifests."""

    reason = "bad"

    def __init__(self, path, detail: str):
        self.path = str(path)
        super().__init__(f"{path}: {detail}")


class CorruptImage(BadImage):
    reason = "corrupt"


class GrayscaleImage(BadImage):
    reason = "grayscale"


class TooLargeImage(BadImage):
    reason = "too_large"


def _open(path, max_pixels: int) -> Image.Image:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            im = Image.open(path)
        except Image.DecompressionBombError as exc:
            raise TooLargeImage(path, f"image exceeds the pixel limit ({exc})") from exc
        except FileNotFoundError:
            raise
        except (OSError, SyntaxError, ValueError) as exc:
            raise CorruptImage(path, f"not a readable image ({exc})") from exc
    w, h = im.size
    if w * h > max_pixels:
        im.close()
        raise TooLargeImage(path, f"{w}x{h} = {w * h} pixels exceeds data.max_pixels = {max_pixels}")
    return im


def probe(path, max_pixels: int) -> tuple[int, int, str]:
    """Header-only check: ``(width, height, mode)``; raises :class:`BadImage` like :func:`read_rgb`."""
    im = _open(path, max_pixels)
    with im:
        if im.mode in GRAY_MODES:
            raise GrayscaleImage(path, f"one-channel image (mode {im.mode}); expected colour")
        return im.size[0], im.size[1], im.mode


def read_rgb(path, max_pixels: int = 100_000_000, allow_gray: bool = False) -> np.ndarray:
    """Decode ``path`` to ``uint8`` H x W x 3 (see module docstring for what is rejected or converted)."""
    im = _open(path, max_pixels)
    with im, warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        if im.mode in GRAY_MODES and not allow_gray:
            raise GrayscaleImage(path, f"one-channel image (mode {im.mode}); expected colour")
        try:
            im.load()
            if im.mode == "P" and "transparency" in im.info:
                im = im.convert("RGBA")
            if im.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N"):
                arr = np.asarray(im, dtype=np.float64)
                im = Image.fromarray(np.clip(np.round(arr / 257.0), 0, 255).astype(np.uint8))
            rgb = im.convert("RGB") if im.mode != "RGB" else im
            arr = np.asarray(rgb, dtype=np.uint8)
        except (OSError, SyntaxError, ValueError) as exc:
            raise CorruptImage(path, f"cannot decode image ({exc})") from exc
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise CorruptImage(path, f"decoded to shape {arr.shape}; expected H x W x 3")
    return np.ascontiguousarray(arr)


def write_png(path, arr: np.ndarray, compress_level: int = 1) -> None:
    """Write ``uint8`` H x W x 3 as PNG atomically (temp file + ``os.replace``)."""
    path = Path(path)
    if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"{path}: expected uint8 H x W x 3, got {arr.dtype} {arr.shape}")
    atomic_write(path, lambda f: Image.fromarray(arr).save(f, format="PNG", compress_level=compress_level))


def write_image(path, arr: np.ndarray) -> None:
    """Write ``uint8`` RGB losslessly; the format follows the suffix (PNG, BMP, TIFF, PPM)."""
    path = Path(path)
    fmt = {".png": "PNG", ".bmp": "BMP", ".tif": "TIFF", ".tiff": "TIFF", ".ppm": "PPM"}.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"{path}: output must be a lossless format (.png, .bmp, .tif, .tiff, .ppm)")
    atomic_write(path, lambda f: Image.fromarray(arr).save(f, format=fmt))


def sha256_file(path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()
