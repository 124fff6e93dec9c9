"""Downloads against a real threaded HTTP server on 127.0.0.1, and safe archive extraction."""
from __future__ import annotations

import hashlib
import io
import tarfile
import time
import zipfile
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from fdr.data.download import DownloadError, fetch
from fdr.data.extract import UnsafeArchive, safe_extract
from tests.helpers import http_server, zip_archive

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB


class _Handler(BaseHTTPRequestHandler):
    files: dict = {}
    log: list = []
    truncate_first: dict = {}  # path -> number of requests still to cut short

    def log_message(self, *args):  # keep pytest output clean
        pass

    def do_GET(self):
        self.log.append((self.path, self.headers.get("Range")))
        if self.path in ("/flood", "/announce", "/trickle"):
            return self._misbehave()
        data = self.files.get(self.path.split("?")[0])
        if data is None:
            self.send_error(404, "Not Found")
            return
        start = 0
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes="):
            start = int(rng[6:].split("-")[0])
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.truncate_first.get(self.path, 0) > 0:
            self.truncate_first[self.path] -= 1
            self.wfile.write(body[: len(body) // 3])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)


    def _misbehave(self):
        """/flood: no length, 32 MiB in 1 MiB blocks (or until the client hangs up); /announce: a length far
        above any pin; /trickle: 40 bytes, one every 0.1 s, each well inside any read timeout."""
        self.send_response(200)
        if self.path == "/announce":
            self.send_header("Content-Length", str(10 * 2**30))
        self.end_headers()
        try:
            for _ in range(40 if self.path == "/trickle" else 32):
                if self.path == "/trickle":
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(0.1)
                else:
                    self.wfile.write(PAYLOAD)
        except (BrokenPipeError, ConnectionResetError):
            pass


@pytest.fixture()
def server():
    _Handler.files, _Handler.log, _Handler.truncate_first = {}, [], {}
    with http_server(_Handler) as base:
        yield base, _Handler


def _sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def test_normal_download_verifies_and_renames(server, tmp_path):
    base, h = server
    h.files["/a.zip"] = PAYLOAD
    path, digest = fetch(f"{base}/a.zip", tmp_path / "a.zip", size=len(PAYLOAD), sha256=_sha(PAYLOAD), progress=False)
    assert path.read_bytes() == PAYLOAD and digest == _sha(PAYLOAD)
    assert not (tmp_path / "a.zip.part").exists()
    n = len(h.log)
    fetch(f"{base}/a.zip", tmp_path / "a.zip", size=len(PAYLOAD), sha256=_sha(PAYLOAD), progress=False)
    assert len(h.log) == n  # verified file reused, no request


def test_resume_sends_range_and_completes(server, tmp_path):
    base, h = server
    h.files["/b.zip"] = PAYLOAD
    (tmp_path / "b.zip.part").write_bytes(PAYLOAD[:300_000])
    path, digest = fetch(f"{base}/b.zip", tmp_path / "b.zip", size=len(PAYLOAD), sha256=_sha(PAYLOAD), progress=False)
    assert h.log == [("/b.zip", "bytes=300000-")]
    assert path.read_bytes() == PAYLOAD and digest == _sha(PAYLOAD)


def test_truncated_connection_is_resumed(server, tmp_path):
    base, h = server
    h.files["/c.zip"] = PAYLOAD
    h.truncate_first["/c.zip"] = 1
    path, _ = fetch(f"{base}/c.zip", tmp_path / "c.zip", size=len(PAYLOAD), sha256=_sha(PAYLOAD), retries=2,
                    timeout=5, progress=False)
    assert path.read_bytes() == PAYLOAD
    assert h.log[0][1] is None and h.log[1][1] == f"bytes={len(PAYLOAD) // 3}-"


def test_truncated_connection_gives_up_and_keeps_part(server, tmp_path):
    base, h = server
    h.files["/d.zip"] = PAYLOAD
    h.truncate_first["/d.zip"] = 10
    with pytest.raises(DownloadError, match=r"connection failed after 2 attempts.*rerun to resume"):
        fetch(f"{base}/d.zip", tmp_path / "d.zip", size=len(PAYLOAD), retries=1, timeout=5, progress=False)
    assert not (tmp_path / "d.zip").exists()
    assert 0 < (tmp_path / "d.zip.part").stat().st_size < len(PAYLOAD)


def test_checksum_mismatch_removes_partial(server, tmp_path):
    base, h = server
    h.files["/e.zip"] = PAYLOAD
    wrong = "0" * 64
    with pytest.raises(DownloadError, match=f"expected {wrong}, got {_sha(PAYLOAD)}"):
        fetch(f"{base}/e.zip", tmp_path / "e.zip", sha256=wrong, progress=False)
    assert not (tmp_path / "e.zip").exists() and not (tmp_path / "e.zip.part").exists()
    with pytest.raises(DownloadError, match=f"expected {len(PAYLOAD) + 1} bytes, got {len(PAYLOAD)}"):
        fetch(f"{base}/e.zip", tmp_path / "e.zip", size=len(PAYLOAD) + 1, progress=False)


def test_404_names_the_url(server, tmp_path):
    base, _ = server
    with pytest.raises(DownloadError, match=r"/missing.zip: HTTP 404"):
        fetch(f"{base}/missing.zip", tmp_path / "m.zip", progress=False)
    assert not list(tmp_path.iterdir())


def test_local_archive_is_verified_not_copied(tmp_path):
    f = tmp_path / "placed.zip"
    f.write_bytes(PAYLOAD)
    path, digest = fetch(str(f), tmp_path / "dl" / "placed.zip", sha256=_sha(PAYLOAD))
    assert path == f and digest == _sha(PAYLOAD)
    with pytest.raises(DownloadError, match="SHA-256 mismatch"):
        fetch(str(f), tmp_path / "x", sha256="1" * 64)
    with pytest.raises(DownloadError, match="archive not found"):
        fetch(str(tmp_path / "nope.zip"), tmp_path / "y")


# ------------------------------------------------------------------------------------------- extraction
def _zip(path: Path, members: dict, symlink: str | None = None) -> Path:
    """A zip of ``members``, plus a symbolic link member named ``symlink`` pointing at /etc/passwd."""
    return zip_archive(path, [*members.items(), *([(symlink, "/etc/passwd", 0o120777)] if symlink else [])])


def _tar(path: Path, members: dict, link: str | None = None) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        if link:
            info = tarfile.TarInfo(link)
            info.type = tarfile.SYMTYPE
            info.linkname = "/etc"
            tf.addfile(info)
    return path


def test_extracts_zip_and_tar(tmp_path):
    members = {"set/a.txt": b"a", "set/sub/b.txt": b"bb"}
    for maker, name in ((_zip, "ok.zip"), (_tar, "ok.tar.gz")):
        dest = tmp_path / f"out-{name}"
        assert safe_extract(maker(tmp_path / name, members), dest, 1 << 20) == 2
        assert (dest / "set/sub/b.txt").read_bytes() == b"bb"


@pytest.mark.parametrize("maker", [_zip, _tar])
@pytest.mark.parametrize("bad, match", [
    ({"../evil.txt": b"x"}, r"escapes the target"),
    ({"ok/../../evil.txt": b"x"}, r"escapes the target"),
    ({"/tmp/fdr-test-abs/evil.txt": b"x"}, r"absolute path"),
    ({"big.bin": b"x" * 5000}, r"more than 4096 bytes"),
])
def test_malicious_archives_are_refused(tmp_path, maker, bad, match):
    arch = maker(tmp_path / ("bad.zip" if maker is _zip else "bad.tgz"), {"good.txt": b"g", **bad})
    dest = tmp_path / "out"
    with pytest.raises(UnsafeArchive, match=match):
        safe_extract(arch, dest, max_bytes=4096)
    assert not dest.exists() and [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path.parent / "evil.txt").exists()


def test_links_are_refused(tmp_path):
    with pytest.raises(UnsafeArchive, match="symbolic link"):
        safe_extract(_zip(tmp_path / "l.zip", {"a": b"a"}, symlink="link"), tmp_path / "o1", 1 << 20)
    with pytest.raises(UnsafeArchive, match="is a link"):
        safe_extract(_tar(tmp_path / "l.tgz", {"a": b"a"}, link="link"), tmp_path / "o2", 1 << 20)
    assert not (tmp_path / "o1").exists() and not (tmp_path / "o2").exists()


def test_zip_lying_about_sizes_is_refused_as_corrupt(tmp_path):
    arch = _zip(tmp_path / "lie.zip", {"a.bin": b"y" * 10_000})
    # rewrite the central directory's declared size to 10 bytes (a zip bomb's trick): zipfile stops after the
    # declared 10 bytes and the CRC-32 of those does not match, so the archive is refused as corrupt
    raw = bytearray(arch.read_bytes())
    cd = raw.rfind(b"PK\x01\x02")
    raw[cd + 24:cd + 28] = (10).to_bytes(4, "little")
    arch.write_bytes(bytes(raw))
    with pytest.raises(UnsafeArchive, match=r"lie\.zip: corrupt or truncated archive \(BadZipFile"):
        safe_extract(arch, tmp_path / "out", max_bytes=4096)
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["lie.zip"]


@pytest.mark.parametrize("path, what", [("/flood", "sent"), ("/announce", "announces 10737418240 bytes,")])
def test_a_server_sending_more_than_the_pinned_size_is_cut_off(server, tmp_path, path, what):
    base, _ = server
    t0 = time.monotonic()
    with pytest.raises(DownloadError, match=f"server {what} more than the pinned size of 1000000 bytes"):
        fetch(f"{base}{path}", tmp_path / "big.zip", size=1_000_000, retries=2, timeout=5, progress=False)
    assert time.monotonic() - t0 < 5
    assert list(tmp_path.iterdir()) == []  # nothing past the pin written, nothing kept


def test_a_trickling_server_is_stopped_at_the_deadline_and_the_part_kept(server, tmp_path):
    base, _ = server
    t0 = time.monotonic()
    with pytest.raises(DownloadError, match=r"not complete within the 1.5 s deadline \(data.download_deadline\); "
                                            r"\d+ of 1000000 bytes kept in .*slow.zip.part, rerun to resume"):
        fetch(f"{base}/trickle", tmp_path / "slow.zip", size=1_000_000, timeout=3, deadline=1.5, progress=False)
    assert 1.5 <= time.monotonic() - t0 < 3
    assert 5 <= (tmp_path / "slow.zip.part").stat().st_size <= 20 and not (tmp_path / "slow.zip").exists()


def _div2k_zip_bytes(members: dict) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(f"DIV2K_train_HR/{name}", data)
    return buf.getvalue()


def _div2k_cfg(base: str, root: Path):
    from fdr import config

    return config.from_dict({}, overrides={
        "data.root": str(root), "data.source": "div2k", "data.div2k_train.url": f"{base}/DIV2K_train_HR.zip",
        "data.div2k_train_images": 1, "data.download_timeout": 5})


def test_an_archive_that_does_not_extract_is_deleted_and_fetched_again(server, tmp_path):
    """An HTML page served as the archive: a one-line error, nothing cached, no "pin it"; the rerun after the
    server is fixed asks again and succeeds."""
    import numpy as np
    from PIL import Image

    from fdr.data.sources import prepare_raw

    base, h = server
    h.files["/DIV2K_train_HR.zip"] = b"<html><body>Service unavailable</body></html>"
    cfg, logged = _div2k_cfg(base, tmp_path / "data"), []
    with pytest.raises(DownloadError, match=r"data.div2k_train: .*DIV2K_train_HR.zip: not a zip or tar archive; "
                                            r"the downloaded file was deleted"):
        prepare_raw(cfg, progress=False, log=logged.append)
    assert list((tmp_path / "data" / "downloads").iterdir()) == [] and not (tmp_path / "data" / "raw").exists()
    assert not any("pin it" in m for m in logged)
    png = io.BytesIO()
    Image.fromarray(np.full((70, 70, 3), 90, np.uint8)).save(png, format="PNG")
    h.files["/DIV2K_train_HR.zip"] = _div2k_zip_bytes({"0001.png": png.getvalue(), "0002.png": png.getvalue()})
    raw = prepare_raw(cfg, progress=False, log=logged.append)
    assert len(h.log) == 2 and sorted(raw["split"]) == ["test", "train"]
    assert any("pin it as data.div2k_train.sha256" in m for m in logged)


def test_an_archive_declaring_far_more_than_its_size_is_refused_before_writing(server, tmp_path):
    from fdr.data.sources import prepare_raw

    base, h = server
    h.files["/DIV2K_train_HR.zip"] = _div2k_zip_bytes({"0001.png": bytes(64 * 2**20)})  # 64 MiB of zeros
    size = len(h.files["/DIV2K_train_HR.zip"])
    with pytest.raises(DownloadError, match=rf"downloads/DIV2K_train_HR.zip: declares more than {20 * size} bytes"):
        prepare_raw(_div2k_cfg(base, tmp_path / "data"), progress=False, log=lambda m: None)
    assert size < 2**20 and sum(p.stat().st_size for p in tmp_path.rglob("*") if p.is_file()) == 0
