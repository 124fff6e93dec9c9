"""Atomic file writes (bytes, text, JSON): a reader, or a writer killed half-way, only ever sees the old or the
new complete file.

Kept free of heavy imports (no torch), so data stages and light users can write files through it.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def current_umask() -> int:
    """The process umask, read without changing it where the system says it (Linux ``/proc``); elsewhere
    set and restored at once."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def public_mode(path: Path, folder: bool = False) -> None:
    """Give a file made by :mod:`tempfile` (0600, folders 0700) the mode a plain ``open`` / ``mkdir`` would
    have given it under the umask, so shared data folders and reports stay readable to whom the user intends."""
    os.chmod(path, (0o777 if folder else 0o666) & ~current_umask())


def atomic_write(path: Path, write) -> None:
    """Call ``write(file_object)`` on a temporary file next to ``path``, fsync it, then rename it over
    ``path``: a reader (or a killed writer) only ever sees the old or the new complete file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            public_mode(tmp)
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass


def write_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) atomically."""
    atomic_write(Path(path), lambda f: f.write(text.encode()))


def write_json(path: Path, data: Any, sort_keys: bool = False) -> None:
    """Write ``data`` as indented JSON with a trailing newline, atomically; NaN is written as null."""
    write_text(path, json.dumps(_no_nan(data), indent=2, sort_keys=sort_keys) + "\n")


def _no_nan(obj: Any) -> Any:
    if isinstance(obj, float) and obj != obj:
        return None
    if isinstance(obj, dict):
        return {str(k): _no_nan(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_no_nan(v) for v in obj]
    return obj
