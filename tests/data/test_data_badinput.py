"""Bad input: each rejected or converted case, alone and through the stages (DIV2K layout, local archive)."""
from __future__ import annotations

import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from fdr import config
from fdr.data.imageio import (
    CorruptImage,
    GrayscaleImage,
    TooLargeImage,
    probe,
    read_rgb,
)
from fdr.data.patches import crop
from fdr.data.sources import prepare_raw
from fdr.data.synthesize import synthesize
from tests.helpers import png_bytes


def _rgb(h, w, seed=0):
    return (np.random.default_rng(seed).random((h, w, 3)) * 255).astype(np.uint8)


def _png16(a: np.ndarray) -> bytes:
    """A 16-bit RGB PNG (Pillow cannot write one)."""
    h, w, _ = a.shape
    raw = b"".join(b"\x00" + a[i].astype(">u2").tobytes() for i in range(h))

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def _truncated() -> bytes:
    full = png_bytes(_rgb(90, 90, 5))
    return full[: len(full) // 2]


def test_reader_cases(tmp_path):
    ok = tmp_path / "ok.png"
    ok.write_bytes(png_bytes(_rgb(20, 30)))
    assert read_rgb(ok).shape == (20, 30, 3)
    rgba = np.dstack([_rgb(20, 30), np.full((20, 30), 9, np.uint8)])
    (tmp_path / "rgba.png").write_bytes(png_bytes(rgba))
    assert np.array_equal(read_rgb(tmp_path / "rgba.png"), rgba[..., :3])  # alpha dropped
    a16 = (np.random.default_rng(1).random((20, 30, 3)) * 65535).astype(np.uint16)
    (tmp_path / "16.png").write_bytes(_png16(a16))
    got = read_rgb(tmp_path / "16.png")
    assert got.dtype == np.uint8 and np.array_equal(got, (a16 >> 8).astype(np.uint8))
    (tmp_path / "gray.png").write_bytes(png_bytes(_rgb(20, 30)[..., 0]))
    with pytest.raises(GrayscaleImage, match="gray.png"):
        read_rgb(tmp_path / "gray.png")
    assert read_rgb(tmp_path / "gray.png", allow_gray=True).shape == (20, 30, 3)
    (tmp_path / "trunc.png").write_bytes(_truncated())
    assert probe(tmp_path / "trunc.png", 10**6)[:2] == (90, 90)  # header is fine...
    with pytest.raises(CorruptImage, match="trunc.png"):  # ...the pixels are not
        read_rgb(tmp_path / "trunc.png")
    (tmp_path / "junk.png").write_bytes(b"not an image")
    with pytest.raises(CorruptImage, match="junk.png.*not a readable image"):
        read_rgb(tmp_path / "junk.png")
    with pytest.raises(TooLargeImage, match="600 pixels exceeds data.max_pixels 599"):
        read_rgb(ok, max_pixels=599)


def _div2k_zip(path: Path, files: dict) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(f"DIV2K_train_HR/{name}", data)
    return path


@pytest.fixture()
def bad_archive(tmp_path):
    files = {
        "0001.png": png_bytes(_rgb(100, 120, 1)),
        "0002.png": png_bytes(np.dstack([_rgb(100, 100, 2), np.full((100, 100), 200, np.uint8)])),  # RGBA
        "0003.png": _png16((np.random.default_rng(3).random((90, 100, 3)) * 65535).astype(np.uint16)),
        "0004.png": png_bytes(_rgb(100, 100, 4)[..., 0]),  # grayscale
        "0005.png": _truncated(),  # header fine, data cut
        "0006.png": png_bytes(_rgb(40, 40, 6)),  # smaller than a 63 x 63 patch
        "0007.png": png_bytes(_rgb(200, 200, 7)),  # over max_pixels below
        "0008.png": b"garbage",  # not an image at all
        "0009.png": png_bytes(_rgb(100, 100, 9)),
    }
    return _div2k_zip(tmp_path / "DIV2K_train_HR.zip", files)


def _cfg(root, archive, **over):
    return config.from_dict({}, overrides={
        "data.root": str(root), "data.source": "div2k", "data.div2k_train.url": str(archive),
        "data.div2k_train_images": 7, "data.max_pixels": 30_000, "synthesis.didhy": False,
        "synthesis.single": False, "synthesis.workers": 1, **over})


@pytest.mark.parametrize("name, data, error, match", [
    ("0002.png", png_bytes(_rgb(200, 200)), TooLargeImage, r"0002\.png: 200x200 = 40,000 pixels exceeds data.max_pixels"),
    ("0002.png", b"garbage", CorruptImage, r"0002\.png: not a readable image"),
], ids=["too_large", "corrupt"])
def test_stages_stop_on_bad_images_naming_the_file(tmp_path, name, data, error, match):
    arch = _div2k_zip(tmp_path / "a.zip", {"0001.png": png_bytes(_rgb(100, 100)), name: data})
    cfg = _cfg(tmp_path / "data", arch)
    with pytest.raises(error, match=rf"a.zip: DIV2K_train_HR/{match}") as info:
        prepare_raw(cfg, progress=False, log=lambda m: None)
    assert ".partial" not in str(info.value)  # the member of the user's archive, not a temporary path
    assert not (tmp_path / "data" / "raw").exists()  # nothing half-built
    assert [p.name for p in (tmp_path / "data").iterdir() if p.name.startswith(".raw")] == []


def test_skip_bad_skips_and_counts_every_case(tmp_path, bad_archive):
    root = tmp_path / "data"
    cfg = _cfg(root, bad_archive, **{"data.skip_bad": True})
    raw = prepare_raw(cfg, progress=False, log=lambda m: None).set_index("name")
    status = raw["status"].to_dict()
    assert status["div2k/0004"] == "grayscale" and status["div2k/0007"] == "too_large"
    assert status["div2k/0008"] == "corrupt"
    assert status["div2k/0002"] == status["div2k/0003"] == status["div2k/0005"] == "ok"  # decoded later
    assert raw.loc["div2k/0001", "split"] == "train" and raw.loc["div2k/0009", "split"] == "test"
    synthesize(cfg, progress=False, log=lambda m: None)
    skipped = pd.read_csv(root / "synth" / "skipped.csv")
    reasons = {(r.source, r.reason) for r in skipped.itertuples() if r.set in ("train", "raw")}
    assert {("div2k/0004", "grayscale"), ("div2k/0007", "too_large"), ("div2k/0008", "corrupt"),
            ("div2k/0005", "corrupt"), ("div2k/0006", "too_small")} <= reasons
    train = pd.read_csv(root / "synth" / "train" / "manifest.csv")
    assert set(train["source"]) == {"div2k/0001", "div2k/0002", "div2k/0003"}  # RGBA / 16-bit converted
    import json

    counts = json.loads((root / "synth" / "summary.json").read_text())["skipped"]
    assert counts["too_small"] >= 1 and counts["corrupt"] >= 2 and counts["grayscale"] >= 1
    crop(cfg, log=lambda m: None)
    assert np.load(root / "patches" / "train" / "input.npy", mmap_mode="r").shape[0] > 0
    assert np.load(root / "patches" / "test_mild" / "input.npy", mmap_mode="r").shape[1:] == (63, 63, 3)


def test_truncated_image_stops_synthesis_without_skip_bad(tmp_path):
    arch = _div2k_zip(tmp_path / "a.zip", {"0001.png": png_bytes(_rgb(100, 100)), "0002.png": _truncated(),
                                            "0009.png": png_bytes(_rgb(100, 100, 3))})
    cfg = _cfg(tmp_path / "data", arch)
    prepare_raw(cfg, progress=False, log=lambda m: None)
    with pytest.raises(ValueError, match=r"0002\.png.*data.skip_bad"):
        synthesize(cfg, progress=False, log=lambda m: None)
    assert not (tmp_path / "data" / "synth").exists()


def test_config_rejects_missing_archive_urls():
    with pytest.raises(config.ConfigError, match="data.did_mdn.url"):
        config.from_dict({"data": {"source": "did-mdn"}})
    with pytest.raises(config.ConfigError, match="data.div2k_train_images"):
        config.from_dict({"data": {"div2k_train_images": 800}})
    with pytest.raises(config.ConfigError, match="synthesis.scales"):
        config.from_dict({"synthesis": {"scales": [0.5, 1.0]}})


def test_paired_archives_did_mdn_gopro_released(tmp_path):
    """DID-MDN side-by-side pairs, GoPro blur/sharp pairs and the released RL-Restore tests, from local archives."""
    rain, clean = _rgb(70, 70, 1), _rgb(70, 70, 2)
    pair = png_bytes(np.concatenate([rain, clean], axis=1))  # rainy half left
    did = tmp_path / "did.zip"
    with zipfile.ZipFile(did, "w") as zf:
        zf.writestr("DID-MDN-training/Rain_Heavy/train2018new/1.png", pair)
        zf.writestr("DID-MDN-test/1.png", pair)
    blur, sharp = _rgb(64, 80, 3), _rgb(64, 80, 4)
    gopro = tmp_path / "gopro.zip"
    with zipfile.ZipFile(gopro, "w") as zf:
        for split in ("train", "test"):
            zf.writestr(f"GOPRO_Large/{split}/SEQ_{split}/blur/000001.png", png_bytes(blur))
            zf.writestr(f"GOPRO_Large/{split}/SEQ_{split}/sharp/000001.png", png_bytes(sharp))
    rel_in, rel_gt = _rgb(63, 63, 5), _rgb(63, 63, 6)
    released = tmp_path / "released.zip"
    with zipfile.ZipFile(released, "w") as zf:
        for level in ("mild", "moderate", "severe"):
            zf.writestr(f"test/{level}_in/1_in.png", png_bytes(rel_in))
            zf.writestr(f"test/{level}_gt/1_gt.png", png_bytes(rel_gt))
    root = tmp_path / "data"
    cfg = config.from_dict({}, overrides={
        "data.root": str(root), "data.did_mdn.url": str(did), "data.gopro.url": str(gopro),
        "data.rl_restore_testsets.url": str(released), "synthesis.didhy_size": 70, "synthesis.base_scale": 0.5,
        "synthesis.workers": 1})
    raw = prepare_raw(cfg, progress=False, log=lambda m: None)
    assert set(raw["dataset"]) == {"embedded", "did-mdn", "gopro", "rl-restore"}
    assert (raw[raw["dataset"] == "did-mdn"]["width"] == 70).all()  # half of the side-by-side image
    synthesize(cfg, progress=False, log=lambda m: None)
    crop(cfg, log=lambda m: None)

    def first(name):
        return (np.load(root / "patches" / name / "input.npy")[0], np.load(root / "patches" / name / "target.npy")[0],
                pd.read_csv(root / "patches" / name / "manifest.csv"))

    x, y, man = first("derain_train")  # DID-MDN pairs used as they are
    assert np.array_equal(x, rain[:63, :63]) and np.array_equal(y, clean[:63, :63]) and len(man) == 1
    x, y, man = first("deblur_test")  # GoPro pairs used as they are
    assert np.array_equal(x, blur[:63, :63]) and np.array_equal(y, sharp[:63, :63])
    x, y, man = first("test_severe")  # the released patches replace the synthesized test set
    assert np.array_equal(x, rel_in) and np.array_equal(y, rel_gt) and set(man["track"]) == {"released"}
    x, y, man = first("didhy_train")  # DID-MDN's own rain + blur/noise/JPEG; target = clean half
    assert np.array_equal(y, clean[:63, :63]) and not np.array_equal(x, rain[:63, :63])
    assert man["rain_class"].isna().all() and (man["level"] == "moderate").all()
    assert len(pd.read_csv(root / "patches" / "train" / "manifest.csv")) > 0  # embedded still feeds training


def test_float_and_16_bit_gray_images_keep_their_brightness(tmp_path):
    """A float TIFF (mode F, 0-1) read as 8-bit levels came out black; each encoding of one picture must read
    to the same 8-bit image (within one level), and floats outside both scales are refused."""

    g = np.linspace(0, 1, 48 * 64).reshape(48, 64)
    want = np.floor(g * 255 + 0.5)
    Image.fromarray(g.astype(np.float32)).save(tmp_path / "unit.tif")
    Image.fromarray((g * 255).astype(np.float32)).save(tmp_path / "levels.tif")
    Image.fromarray(np.round(g * 65535).astype(np.uint16)).save(tmp_path / "g16.png")
    for name in ("unit.tif", "levels.tif", "g16.png"):
        got = read_rgb(tmp_path / name, allow_gray=True).astype(int)
        assert got.shape == (48, 64, 3) and np.abs(got - want[..., None]).max() <= 1, name
    for bad, match in ((g * 1000, r"values in \[0, 1000\]"), (np.where(g > 0.5, np.nan, g), "NaN")):
        Image.fromarray(bad.astype(np.float32)).save(tmp_path / "bad.tif")
        with pytest.raises(CorruptImage, match=match):
            read_rgb(tmp_path / "bad.tif", allow_gray=True)
