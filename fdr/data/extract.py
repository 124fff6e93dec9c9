"""Safe extraction of zip / tar archives (no zip-slip, no links, bounded size, all-or-nothing).

Every member is checked before anything is written: names must be relative, without ``..`` components,
drive letters or backslash tricks; only regular files and folders are allowed (symlinks, hard links, devices
and FIFOs are refused); the declared total size must not exceed ``max_bytes``. The declared total bounds what
is written, so no count is kept while writing:

- zip: :mod:`zipfile` never returns more bytes for a member than its central-directory entry declares (the
  size that is summed here) and raises ``BadZipFile`` when the bytes it returns do not match the entry's
  CRC-32, so an archive lying about its sizes (a zip bomb's trick) ends as a corrupt-archive error;
- tar: a member's size is its header's and a short member is a read error; members are extracted by
  :mod:`tarfile` with its ``data`` filter (sanitised permissions, no ownership, outside-destination checks).

A corrupt or truncated archive (``BadZipFile``, ``tarfile.ReadError``, a zlib / gzip / lzma error or an early
end of the stream while reading it) raises :class:`UnsafeArchive` naming the archive. Extraction goes to a
temporary sibling folder that is renamed to ``dest`` only when complete, so a folder named ``dest`` is always
a full extraction.
"""
from __future__ import annotations

import gzip
import lzma
import shutil
import stat
import tarfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from .download import DownloadError
from .layout import built_aside

# Raised by zipfile / tarfile / the decompressors on damaged or cut-short input.
CORRUPT_ERRORS = (zipfile.BadZipFile, tarfile.ReadError, zlib.error, EOFError, gzip.BadGzipFile, lzma.LZMAError)


class UnsafeArchive(DownloadError):
    """The archive contains a member that would escape the target or is not a plain file/folder, declares
    more content than allowed, or is corrupt / truncated."""


def _safe_name(archive: Path, name: str) -> PurePosixPath:
    norm = name.replace("\\", "/")
    p = PurePosixPath(norm)
    if not norm or (len(norm) > 1 and norm[1] == ":") or p.is_absolute():
        raise UnsafeArchive(f"{archive}: member {name!r} has an absolute path")
    if any(part == ".." for part in p.parts):
        raise UnsafeArchive(f"{archive}: member {name!r} escapes the target folder ('..')")
    return PurePosixPath(*[part for part in p.parts if part not in ("", ".")])


def _extract_zip(archive: Path, tmp: Path, max_bytes: int) -> int:
    with zipfile.ZipFile(archive) as zf:
        plan = []
        declared = 0
        for info in zf.infolist():
            rel = _safe_name(archive, info.filename)
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise UnsafeArchive(f"{archive}: member {info.filename!r} is a symbolic link")
            if stat.S_IFMT(mode) and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):  # type bits are optional
                raise UnsafeArchive(f"{archive}: member {info.filename!r} is not a regular file or folder")
            declared += info.file_size
            if declared > max_bytes:
                raise UnsafeArchive(f"{archive}: declares more than {max_bytes} bytes of content")
            plan.append((info, rel))
        count = 0
        for info, rel in plan:
            target = tmp.joinpath(*rel.parts) if rel.parts else tmp
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            # zipfile stops at info.file_size and checks the CRC-32 at the end (see the module docstring)
            with zf.open(info) as src, open(target, "wb") as out:
                shutil.copyfileobj(src, out)
            count += 1
        return count


def _extract_tar(archive: Path, tmp: Path, max_bytes: int) -> int:
    """Tar members carry exact sizes (a short member is a read error), so the declared total bounds the output;
    the standard library's ``data`` filter then extracts (outside-destination checks, sane permissions)."""
    with tarfile.open(archive) as tf:
        members = tf.getmembers()
        declared = 0
        for m in members:
            _safe_name(archive, m.name)
            if m.issym() or m.islnk():
                raise UnsafeArchive(f"{archive}: member {m.name!r} is a link")
            if not (m.isfile() or m.isdir()):
                raise UnsafeArchive(f"{archive}: member {m.name!r} is not a regular file or folder")
            declared += m.size
            if declared > max_bytes:
                raise UnsafeArchive(f"{archive}: declares more than {max_bytes} bytes of content")
        try:
            tf.extractall(tmp, members=members, filter="data")
        except tarfile.FilterError as exc:
            raise UnsafeArchive(f"{archive}: {exc}") from exc
        return sum(m.isfile() for m in members)


def safe_extract(archive, dest, max_bytes: int) -> int:
    """Extract ``archive`` (zip or tar, any compression tarfile reads) into ``dest``; returns the file count.
    ``dest`` is replaced only after a complete extraction."""
    archive, dest = Path(archive), Path(dest)
    with built_aside(dest.parent, dest.name) as tmp:
        try:
            if zipfile.is_zipfile(archive):
                return _extract_zip(archive, tmp, max_bytes)
            if tarfile.is_tarfile(archive):
                return _extract_tar(archive, tmp, max_bytes)
        except CORRUPT_ERRORS as exc:
            raise UnsafeArchive(f"{archive}: corrupt or truncated archive ({type(exc).__name__}: {exc})") from exc
        raise DownloadError(f"{archive}: not a zip or tar archive")
