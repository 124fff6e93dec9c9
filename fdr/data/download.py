"""HTTP(S) download with resume, progress bar, size + SHA-256 verification and atomic rename.

``fetch(url, dest, size, sha256)``:

- an existing ``dest`` whose size/hash match is reused (no request);
- bytes go to ``dest.part``; an existing ``.part`` is resumed with ``Range: bytes=N-`` (a server that answers
  200 instead of 206 restarts from zero);
- a dropped connection (fewer bytes than announced, timeout, reset) is retried ``retries`` times, each
  resuming where it stopped; after that the error says how far it got and the ``.part`` stays for a rerun;
- on a size or SHA-256 mismatch the partial file is removed and the error says expected vs got; a server that
  announces or sends more than a pinned ``size`` is cut off at once (nothing past the pin is written);
- ``deadline`` bounds the whole fetch (all attempts): a server trickling bytes slower than any per-read
  ``timeout`` is stopped there, the ``.part`` kept for a rerun;
- success: ``os.replace(dest.part, dest)``, so ``dest`` only ever holds a complete, verified file.

A ``url`` without a scheme (or ``file://``) is a local archive the user placed: it is verified, not copied.
"""
from __future__ import annotations

import http.client
import os
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Optional

from tqdm import tqdm

from fdr.errors import InputError

from .imageio import sha256_file

CHUNK = 1 << 20


class DownloadError(InputError):
    """A download or archive check failed; the message names the URL/file and what was expected."""


def is_local(url: str) -> bool:
    scheme = urllib.parse.urlparse(url).scheme.lower()
    return scheme in ("", "file") or (len(scheme) == 1 and os.name == "nt")


def local_path(url: str) -> Path:
    parsed = urllib.parse.urlparse(url)
    return Path(urllib.parse.unquote(parsed.path)) if parsed.scheme.lower() == "file" else Path(url).expanduser()


def _check(path: Path, size: Optional[int], sha256: Optional[str], what: str) -> str:
    got_size = path.stat().st_size
    if size is not None and got_size != size:
        raise DownloadError(f"{what}: size mismatch: expected {size} bytes, got {got_size}")
    digest = sha256_file(path)
    if sha256 is not None and digest != sha256.lower():
        raise DownloadError(f"{what}: SHA-256 mismatch: expected {sha256.lower()}, got {digest}")
    return digest


def verify_local(url: str, size: Optional[int], sha256: Optional[str]) -> tuple[Path, str]:
    """A user-placed archive: must exist and match size/hash when given. Returns ``(path, sha256)``."""
    path = local_path(url)
    if not path.is_file():
        raise DownloadError(f"{path}: archive not found (expected a file placed there, or an http(s) URL)")
    return path, _check(path, size, sha256, str(path))


def _too_much(url: str, part: Path, size: int, what: str) -> DownloadError:
    part.unlink(missing_ok=True)
    return DownloadError(f"GET {url}: the server {what} more than the pinned size of {size} bytes; stopped, "
                         f"nothing kept (check the URL and the size in params.yaml)")


def _attempt(url: str, part: Path, size: Optional[int], timeout: float, stop_at: float, progress: bool,
             desc: str) -> None:
    """One request: append to ``part`` from its current length until the body ends, the pinned ``size`` is
    exceeded or the clock passes ``stop_at``. Raises on HTTP errors and short reads."""
    have = part.stat().st_size if part.exists() else 0
    if size is not None and have > size:
        part.unlink()
        have = 0
    headers = {"User-Agent": "fdr-data/1.0"}
    if have:
        headers["Range"] = f"bytes={have}-"
    req = urllib.request.Request(url, headers=headers)
    try:
        resp = urllib.request.urlopen(req, timeout=min(timeout, max(stop_at - time.monotonic(), 0.001)))
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # range not satisfiable: the part is already complete
            return
        raise DownloadError(f"GET {url}: HTTP {exc.code} {exc.reason}") from exc
    with resp:
        if have and resp.status != 206:  # server ignored Range: start again
            have = 0
        total = resp.headers.get("Content-Length")
        expected = have + int(total) if total is not None else size
        if size is not None and expected > size:
            raise _too_much(url, part, size, f"announces {expected} bytes,")
        got = have
        with open(part, "ab" if have else "wb") as f, tqdm(total=expected, initial=have, unit="B", unit_scale=True,
                                                          desc=desc, disable=not progress, leave=False) as bar:
            while block := resp.read1(CHUNK):  # returns what has arrived: the deadline is checked as bytes come
                if size is not None and got + len(block) > size:
                    raise _too_much(url, part, size, "sent")
                f.write(block)
                got += len(block)
                bar.update(len(block))
                if time.monotonic() > stop_at:
                    raise TimeoutError(f"deadline passed after {got} bytes")
        if expected is not None and got < expected:
            raise http.client.IncompleteRead(b"", expected - got)


def fetch(url: str, dest, size: Optional[int] = None, sha256: Optional[str] = None, retries: int = 3,
          timeout: float = 60.0, progress: bool = True, deadline: float = 6 * 3600.0) -> tuple[Path, str]:
    """Download ``url`` to ``dest`` within ``deadline`` seconds (see module docstring). Returns ``(path, sha256)``."""
    if is_local(url):
        return verify_local(url, size, sha256)
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.exists():
        try:
            return dest, _check(dest, size, sha256, str(dest))
        except DownloadError:
            dest.unlink()
    part = dest.with_name(dest.name + ".part")
    last: Exception | None = None
    stop_at = time.monotonic() + deadline
    for _ in range(retries + 1):
        try:
            _attempt(url, part, size, timeout, stop_at, progress, dest.name)
            last = None
            break
        except (http.client.IncompleteRead, ConnectionError, socket.timeout, TimeoutError,
                urllib.error.URLError, http.client.HTTPException, OSError) as exc:
            last = exc
            if time.monotonic() > stop_at:
                have = part.stat().st_size if part.exists() else 0
                raise DownloadError(f"GET {url}: not complete within the {deadline:g} s deadline "
                                    f"(data.download_deadline); {have} of {size if size is not None else '?'} "
                                    f"bytes kept in {part}, rerun to resume") from exc
    if last is not None:
        have = part.stat().st_size if part.exists() else 0
        raise DownloadError(
            f"GET {url}: connection failed after {retries + 1} attempts ({type(last).__name__}: {last}); "
            f"{have} of {size if size is not None else '?'} bytes kept in {part}, rerun to resume"
        ) from last
    try:
        digest = _check(part, size, sha256, f"GET {url}")
    except DownloadError:
        part.unlink(missing_ok=True)
        raise
    os.replace(part, dest)
    return dest, digest
