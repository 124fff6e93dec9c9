"""Each guard of :func:`fdr.data.extract.safe_extract`, one at a time.

Every archive here passes all the guards but the one under test (plain relative names, regular members, a
small declared size), so each test fails when only its guard is removed. Where another layer would still
refuse the member without the guard (a zip symlink also has non-regular type bits, a tar link or device is
also refused by tarfile's ``data`` filter, a tar ``..`` name escaping the folder too), the test checks which
guard refused it through the error message.
"""
from __future__ import annotations

import io
import os
import random
import stat
import tarfile
import zipfile
import zlib
from pathlib import Path

import pytest

from fdr.data.extract import UnsafeArchive, safe_extract
from tests.helpers import zip_archive

BIG = 1 << 20


# ---------------------------------------------------------------------------------------------- helpers
def tar_member(name: str, data: bytes = b"", type_=tarfile.REGTYPE, mode: int = 0o644, **attrs):
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.size = type_, mode, len(data) if type_ == tarfile.REGTYPE else 0
    for k, v in attrs.items():
        setattr(info, k, v)
    return info, data


def make_tar(path: Path, members, mode: str = "w") -> Path:
    with tarfile.open(path, mode) as tf:
        for info, data in members:
            tf.addfile(info, io.BytesIO(data) if info.isreg() else None)
    with tarfile.open(path) as tf:
        assert [m.name for m in tf.getmembers()] == [m[0].name for m in members]
    return path


def refused(arch: Path, match: str, max_bytes: int = BIG) -> None:
    """``safe_extract`` raises UnsafeArchive matching ``match`` and leaves nothing but the archive behind."""
    root = arch.parent
    before = sorted(p.name for p in root.iterdir())
    with pytest.raises(UnsafeArchive, match=match):
        safe_extract(arch, root / "out", max_bytes)
    assert sorted(p.name for p in root.iterdir()) == before  # no 'out', no '.out.partial-*', nothing escaped
    assert not (root.parent / "evil.txt").exists()


@pytest.fixture()
def work(tmp_path):
    """A folder for the archive one level below tmp_path, so that one '..' lands in tmp_path (checked too)."""
    d = tmp_path / "work"
    d.mkdir()
    yield d
    assert not (tmp_path / "evil.txt").exists()


# ---------------------------------------------------------------------------------------------- zip (a)
@pytest.mark.parametrize("name, match", [
    ("..\\evil.txt", "escapes the target"),
    ("sub\\..\\..\\evil.txt", "escapes the target"),
    ("{work}\\escaped\\evil.txt", "absolute path"),  # the work folder, absolute, with backslashes
])
def test_zip_backslash_names_are_normalised_and_refused(work, name, match):
    name = name.format(work=str(work).replace("/", "\\"))  # an escape lands in the test's own folder
    refused(zip_archive(work / "bs.zip", [("good.txt", b"g"), (name, b"x")]), match)
    assert not (work / "escaped").exists()


def test_zip_backslash_separators_make_folders(work):
    arch = zip_archive(work / "bs-ok.zip", [("dir\\sub\\file.txt", b"abc")])
    assert safe_extract(arch, work / "out", BIG) == 1
    assert (work / "out" / "dir" / "sub" / "file.txt").read_bytes() == b"abc"


# ---------------------------------------------------------------------------------------------- zip (b)
@pytest.mark.parametrize("name", ["C:/evil.txt", "C:evil.txt", "c:\\evil.txt", "z:"])
def test_zip_drive_letters_are_refused(work, name):
    refused(zip_archive(work / "drive.zip", [("good.txt", b"g"), (name, b"x")]), "absolute path")


def test_zip_empty_name_is_refused(work):
    refused(zip_archive(work / "empty.zip", [("good.txt", b"g"), ("", b"x")]), "member '' has an absolute path")


# ---------------------------------------------------------------------------------------------- zip (c)
def test_zip_absolute_names_are_refused(work):
    target = work / "escaped" / "evil.txt"  # where the member would land if written as named
    for i, name in enumerate([str(target), "/" + str(target)]):
        refused(zip_archive(work / f"abs{i}.zip", [("good.txt", b"g"), (name, b"x")]), "absolute path")
    assert not (work / "escaped").exists()


# ---------------------------------------------------------------------------------------------- zip (d)
@pytest.mark.parametrize("name", ["../evil.txt", "ok/../../evil.txt", "a/../b.txt", ".."])
def test_zip_dotdot_components_are_refused(work, name):
    refused(zip_archive(work / "dots.zip", [("good.txt", b"g"), (name, b"x")]), r"escapes the target folder \('\.\.'\)")


# ------------------------------------------------------------------------------------------- zip (e, f)
def test_zip_symlinks_are_refused(work):
    arch = zip_archive(work / "ln.zip", [("good.txt", b"g"), ("link", b"/etc/passwd", stat.S_IFLNK | 0o777)])
    refused(arch, "member 'link' is a symbolic link")


@pytest.mark.parametrize("kind", [stat.S_IFIFO, stat.S_IFCHR, stat.S_IFBLK, stat.S_IFSOCK])
def test_zip_non_regular_members_are_refused(work, kind):
    arch = zip_archive(work / "dev.zip", [("good.txt", b"g"), ("dev", b"", kind | 0o644)])
    refused(arch, "member 'dev' is not a regular file or folder")


def test_zip_regular_and_untyped_members_are_accepted(work):
    arch = zip_archive(work / "modes.zip", [("plain.txt", b"p"), ("reg.txt", b"r", stat.S_IFREG | 0o600),
                                         ("d/", b"", stat.S_IFDIR | 0o755), ("d/x.txt", b"x", 0o644)])
    assert safe_extract(arch, work / "out", BIG) == 3
    assert (work / "out" / "d" / "x.txt").read_bytes() == b"x"


# ---------------------------------------------------------------------------------------------- zip (g)
def test_zip_declared_size_is_refused_before_writing(work, monkeypatch):
    opened = []
    real_open = zipfile.ZipFile.open

    def spy(self, name, *args, **kwargs):
        opened.append(getattr(name, "filename", name))
        return real_open(self, name, *args, **kwargs)

    arch = zip_archive(work / "big.zip", [("a.bin", b"a" * 3000), ("b.bin", b"b" * 3000)], zipfile.ZIP_DEFLATED)
    monkeypatch.setattr(zipfile.ZipFile, "open", spy)
    refused(arch, "declares more than 4096 bytes of content", max_bytes=4096)
    assert opened == []  # refused from the central directory alone: no member was read or written
    assert safe_extract(arch, work / "out", max_bytes=6000) == 2  # exactly the limit is allowed
    assert opened == ["a.bin", "b.bin"]


# ------------------------------------------------------ zip sizes cannot lie (why no write-time count)
def _lying_zip(path: Path, compression, crc_of_prefix: bool) -> Path:
    """A 10,000-byte member whose central directory and local header both declare 10 bytes."""
    data = b"y" * 10_000
    zip_archive(path, [("a.bin", data)], compression)
    raw = bytearray(path.read_bytes())
    lh, cd = raw.find(b"PK\x03\x04"), raw.rfind(b"PK\x01\x02")
    assert int.from_bytes(raw[cd + 24:cd + 28], "little") == int.from_bytes(raw[lh + 22:lh + 26], "little") == 10_000
    raw[cd + 24:cd + 28] = raw[lh + 22:lh + 26] = (10).to_bytes(4, "little")  # uncompressed size
    if compression == zipfile.ZIP_STORED:  # stored: the compressed size is the size too
        raw[cd + 20:cd + 24] = raw[lh + 18:lh + 22] = (10).to_bytes(4, "little")
    if crc_of_prefix:
        raw[cd + 16:cd + 20] = raw[lh + 14:lh + 18] = zlib.crc32(data[:10]).to_bytes(4, "little")
    path.write_bytes(bytes(raw))
    with zipfile.ZipFile(path) as zf:
        assert zf.getinfo("a.bin").file_size == 10
    return path


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_zip_lying_about_sizes_is_refused_as_corrupt(work, compression):
    arch = _lying_zip(work / "lie.zip", compression, crc_of_prefix=False)
    with zipfile.ZipFile(arch) as zf, pytest.raises(zipfile.BadZipFile, match="CRC"):
        zf.read("a.bin")  # the claim: zipfile stops at the declared size, then the CRC-32 does not match
    refused(arch, r"lie\.zip: corrupt or truncated archive \(BadZipFile: Bad CRC-32", max_bytes=4096)


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_zip_member_output_is_capped_at_declared_size(work, compression):
    # even with a CRC matching the first 10 bytes, only the declared 10 bytes come out
    arch = _lying_zip(work / "cap.zip", compression, crc_of_prefix=True)
    assert safe_extract(arch, work / "out", max_bytes=100) == 1
    assert (work / "out" / "a.bin").read_bytes() == b"y" * 10


def test_corrupt_zip_data_is_a_clear_error(work):
    arch = zip_archive(work / "bad.zip", [("a.bin", random.Random(0).randbytes(2000))], zipfile.ZIP_DEFLATED)
    raw = bytearray(arch.read_bytes())
    start = raw.find(b"a.bin") + len(b"a.bin")  # local header name, data follows
    raw[start + 100:start + 400] = b"\xff" * 300
    arch.write_bytes(bytes(raw))
    refused(arch, r"bad\.zip: corrupt or truncated archive \((BadZipFile|error|EOFError)")


# ---------------------------------------------------------------------------------------------- tar (h)
@pytest.mark.parametrize("member", [
    tar_member("link", type_=tarfile.SYMTYPE, linkname="/etc"),
    tar_member("link", type_=tarfile.SYMTYPE, linkname="good.txt"),  # inside: the data filter would allow it
    tar_member("link", type_=tarfile.LNKTYPE, linkname="good.txt"),
], ids=["symlink-out", "symlink-in", "hardlink"])
def test_tar_links_are_refused(work, member):
    refused(make_tar(work / "ln.tar", [tar_member("good.txt", b"g"), member]), "member 'link' is a link")


# ---------------------------------------------------------------------------------------------- tar (i)
@pytest.mark.parametrize("type_", [tarfile.FIFOTYPE, tarfile.CHRTYPE, tarfile.BLKTYPE, b"Z"],
                         ids=["fifo", "chr", "blk", "unknown"])
def test_tar_non_regular_members_are_refused(work, type_):
    arch = make_tar(work / "dev.tar", [tar_member("good.txt", b"g"), tar_member("dev", type_=type_)])
    refused(arch, "member 'dev' is not a regular file or folder")


# ---------------------------------------------------------------------------------------------- tar (j)
def test_tar_declared_size_is_refused_before_writing(work, monkeypatch):
    calls = []
    real = tarfile.TarFile.extractall
    arch = make_tar(work / "big.tar.gz", [tar_member("a.bin", b"a" * 3000), tar_member("b.bin", b"b" * 3000)], "w:gz")
    monkeypatch.setattr(tarfile.TarFile, "extractall", lambda self, *a, **k: (calls.append(a), real(self, *a, **k))[1])
    refused(arch, "declares more than 4096 bytes of content", max_bytes=4096)
    assert calls == []
    assert safe_extract(arch, work / "out", max_bytes=6000) == 2
    assert len(calls) == 1


# ---------------------------------------------------------------------------------------------- tar (k)
def test_tar_absolute_names_are_refused(work):
    # tarfile's data filter would strip the leading '/' and extract it inside: our check refuses it
    target = work / "escaped" / "evil.txt"
    for i, name in enumerate([str(target), "C:/evil.txt", "C:evil.txt"]):
        refused(make_tar(work / f"abs{i}.tar", [tar_member("good.txt", b"g"), tar_member(name, b"x")]), "absolute path")
    assert not (work / "escaped").exists()


@pytest.mark.parametrize("name", ["../evil.txt", "ok/../../evil.txt", "a/../b.txt", "..\\evil.txt"])
def test_tar_dotdot_names_are_refused(work, name):
    arch = make_tar(work / "dots.tar", [tar_member("good.txt", b"g"), tar_member(name, b"x")])
    refused(arch, r"escapes the target folder \('\.\.'\)")


# ---------------------------------------------------------------------------------------------- tar (l)
def test_tar_data_filter_sanitises_permissions_and_owner(work):
    arch = make_tar(work / "modes.tar", [
        tar_member("setuid.sh", b"#!/bin/sh\n", mode=0o4777, uid=4242, gid=4242, uname="evil", gname="evil"),
        tar_member("sgid-sticky.txt", b"s", mode=0o3764),
        tar_member("locked.txt", b"l", mode=0o000),
        tar_member("shared.txt", b"w", mode=0o666),
    ])
    assert safe_extract(arch, work / "out", BIG) == 4
    out = work / "out"
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in out.iterdir()}
    assert modes == {"setuid.sh": 0o755, "sgid-sticky.txt": 0o744, "locked.txt": 0o600, "shared.txt": 0o644}
    assert (out / "setuid.sh").stat().st_uid == os.getuid()  # archive ownership ignored (matters as root)
    assert (out / "locked.txt").read_bytes() == b"l"


# -------------------------------------------------------------------------------- corrupt / truncated tar
def test_truncated_tar_is_a_clear_error(work):
    arch = make_tar(work / "cut.tar.gz", [tar_member("a.bin", random.Random(1).randbytes(50_000)),
                                          tar_member("b.bin", random.Random(2).randbytes(50_000))], "w:gz")
    raw = arch.read_bytes()
    arch.write_bytes(raw[: len(raw) // 2])
    refused(arch, r"cut\.tar\.gz: corrupt or truncated archive \((EOFError|ReadError|BadGzipFile|error)")
