"""Image reading/writing with the checks the data stages need.

``read_rgb`` returns ``uint8`` H x W x 3 or raises a :class:`BadImage` subclass naming the file:

- :class:`CorruptImage`: not decodable or truncated;
- :class:`GrayscaleImage`: one-channel image (RL-Restore's generator skips them: ``if size(image,3) > 1``; the data
  stages stop naming the file unless ``data.skip_bad``);
- :class:`MultiFrameImage`: an animated GIF / PNG / WebP or a multi-page TIFF (only the first frame would be
  used); a camera's MPO file, whose extra frames are previews of the first, is read as its first frame;
- :class:`TooLargeImage`: width x height above ``max_pixels`` (decompression-bomb limit), checked from the
  header before any pixel is decoded; :class:`TooSmallImage` (raised by the synthesize stage): below the patch.

RGBA / palette / CMYK images are converted to RGB (alpha dropped, like MATLAB's ``imread``); 16-bit RGB PNGs
are reduced to 8 bits by Pillow (high byte kept); the EXIF orientation is applied. Every image the project
reads (the data stages, ``fdr degrade``, ``fdr restore``) goes through :func:`read_rgb`.

The 8-bit conversions live here too, one rule each way: :func:`to_float` (``u / 255`` in float32) and
:func:`quantize` (``floor(255 x + 0.5)``, MATLAB's ``im2uint8``: round half up).
"""
from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from fdr.atomic import atomic_write
from fdr.errors import InputError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".gif")
GRAY_MODES = {"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}


class BadImage(InputError):
    """An input image the data stages cannot use; ``reason`` is a short tag for manifests."""

    reason = "bad"

    def __init__(self, path, detail: str):
        self.path, self.detail = str(path), detail
        super().__init__(f"{path}: {detail}")


class CorruptImage(BadImage):
    reason = "corrupt"


class GrayscaleImage(BadImage):
    reason = "grayscale"


class TooLargeImage(BadImage):
    reason = "too_large"


class TooSmallImage(BadImage):
    reason = "too_small"


class MultiFrameImage(BadImage):
    reason = "multi_frame"


def to_float(u8: np.ndarray) -> np.ndarray:
    """``uint8`` -> float32 in [0, 1] (``u / 255``, as torchvision's ``ToTensor``, which OWAN's loader used)."""
    return np.asarray(u8).astype(np.float32) / 255.0


def quantize(img: np.ndarray, dtype=np.float32) -> np.ndarray:
    """float [0, 1] -> ``uint8``, rounding half up (MATLAB ``im2uint8``); computed in ``dtype``."""
    return np.floor(np.clip(np.asarray(img, dtype=dtype), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def _open(path, max_pixels: int, limit_name: str = "data.max_pixels") -> Image.Image:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        limit = Image.MAX_IMAGE_PIXELS
        try:
            if limit is not None and max_pixels > limit:  # our limit is checked below; Pillow's may not undercut it
                Image.MAX_IMAGE_PIXELS = max_pixels
            im = Image.open(path)
        except Image.DecompressionBombError as exc:
            raise TooLargeImage(path, f"image exceeds the pixel limit ({exc})") from exc
        except FileNotFoundError:
            raise
        except (OSError, SyntaxError, ValueError) as exc:
            raise CorruptImage(path, f"not a readable image ({exc})") from exc
        finally:
            Image.MAX_IMAGE_PIXELS = limit
    w, h = im.size
    if w * h > max_pixels:
        im.close()
        raise TooLargeImage(path, f"{w}x{h} = {w * h:,} pixels exceeds {limit_name} {max_pixels:,}")
    try:
        frames = getattr(im, "n_frames", 1)
    except (OSError, EOFError, SyntaxError, ValueError) as exc:
        im.close()
        raise CorruptImage(path, f"not a readable image ({exc})") from exc
    if frames > 1 and im.format != "MPO":
        im.close()
        raise MultiFrameImage(path, f"{frames} frames ({im.format}); expected one image (save each frame as a file)")
    return im


def probe(path, max_pixels: int) -> tuple[int, int, str]:
    """Header-only check: ``(width, height, mode)``; raises :class:`BadImage` like :func:`read_rgb`."""
    im = _open(path, max_pixels)
    with im:
        if im.mode in GRAY_MODES:
            raise GrayscaleImage(path, f"one-channel image (mode {im.mode}); expected colour")
        return im.size[0], im.size[1], im.mode


def _float_scale(path, arr: np.ndarray) -> np.ndarray:
    """A floating-point image (mode F) to [0, 1]: values within [0, 1] are taken as they are, values within
    [0, 255] as 8-bit levels; anything else (negative, larger, not finite) is refused, not guessed."""
    if not np.isfinite(arr).all():
        raise CorruptImage(path, "floating-point image with NaN or infinite values")
    lo, hi = float(arr.min()), float(arr.max())
    if lo >= 0 and hi <= 1:
        return arr
    if lo >= 0 and hi <= 255:
        return arr / 255.0
    raise CorruptImage(path, f"floating-point image with values in [{lo:g}, {hi:g}]; expected [0, 1] or [0, 255]")


def read_rgb(path, max_pixels: int = 100_000_000, allow_gray: bool = False,
             limit_name: str = "data.max_pixels") -> np.ndarray:
    """Decode ``path`` to ``uint8`` H x W x 3 (see module docstring for what is rejected or converted);
    ``limit_name`` is how errors name the pixel limit."""
    im = _open(path, max_pixels, limit_name)
    with im, warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        if im.mode in GRAY_MODES and not allow_gray:
            raise GrayscaleImage(path, f"one-channel image (mode {im.mode}); expected colour")
        try:
            im.load()
            im = ImageOps.exif_transpose(im)
            if im.mode == "P" and "transparency" in im.info:
                im = im.convert("RGBA")
            if im.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N"):
                im = Image.fromarray(quantize(np.asarray(im, dtype=np.float64) / 65535.0, np.float64))
            elif im.mode == "F":
                im = Image.fromarray(quantize(_float_scale(path, np.asarray(im, dtype=np.float64)), np.float64))
            rgb = im.convert("RGB") if im.mode != "RGB" else im
            arr = np.asarray(rgb, dtype=np.uint8)
        except BadImage:
            raise
        except (OSError, SyntaxError, ValueError) as exc:
            raise CorruptImage(path, f"cannot decode image ({exc})") from exc
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise CorruptImage(path, f"decoded to shape {arr.shape}; expected H x W x 3")
    return np.ascontiguousarray(arr)


def write_png(path, arr: np.ndarray, compress_level: int = 1, atomic: bool = True) -> None:
    """Write ``uint8`` H x W x 3 as PNG, atomically (temp file, fsync, ``os.replace``) unless the caller builds
    the whole folder aside and renames it when complete (``atomic=False``: 6x faster for small images)."""
    path = Path(path)
    if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"{path}: expected uint8 H x W x 3, got {arr.dtype} {arr.shape}")
    if atomic:
        atomic_write(path, lambda f: Image.fromarray(arr).save(f, format="PNG", compress_level=compress_level))
    else:
        Image.fromarray(arr).save(path, format="PNG", compress_level=compress_level)


def write_image(path, arr: np.ndarray) -> None:
    """Write ``uint8`` H x W x 3 atomically; the format follows the suffix (JPEG / WebP at quality 95)."""
    path = Path(path)
    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"{path}: unknown image format {path.suffix!r}")
    options = {"quality": 95} if fmt in ("JPEG", "WEBP") else {}
    atomic_write(path, lambda f: Image.fromarray(arr).save(f, format=fmt, **options))


def sha256_file(path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()
