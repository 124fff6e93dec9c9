"""Hybrid-distortion protocol: level triples, drawn ranges, the blur/noise/JPEG steps and their order."""
from __future__ import annotations

import itertools
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from fdr.config import SynthConfig
from fdr.data import degrade
from fdr.data import rain_motion as rain

CFG = SynthConfig()


def _image(h=96, w=80, seed=0):
    """A smooth colour image with edges (so blur, noise and JPEG all change it)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    img = np.stack([0.5 + 0.4 * np.sin(7 * x + 3 * y), 0.5 + 0.4 * np.cos(5 * y), (x > 0.5) * 0.8 + 0.1], -1)
    return np.clip(img + 0.02 * rng.standard_normal(img.shape), 0, 1).astype(np.float32)


def test_level_triple_counts_are_163_434_163():
    counts = {lvl: len(degrade.level_triples(lvl)) for lvl in degrade.LEVELS}
    assert counts == {"mild": 163, "moderate": 434, "severe": 163}
    brute = [t for t in itertools.product(range(1, 11), repeat=3) if 12 <= sum(t) - 2 <= 17]
    assert degrade.level_triples("moderate") == brute  # every ordered triple, in lexicographic order
    assert all(9 <= degrade.severity(t) <= 11 for t in degrade.level_triples("mild"))
    assert set(degrade.level_triples("mild")).isdisjoint(degrade.level_triples("moderate"))
    with pytest.raises(ValueError, match="level 'extreme'"):
        degrade.level_triples("extreme")


def test_drawn_values_lie_in_their_level_ranges():
    rng = np.random.default_rng(1)
    seen = set()
    for _ in range(3000):
        p = degrade.draw_params("moderate", rng, CFG)
        seen.add(p.triple)
        assert 12 <= degrade.severity(p.triple) <= 17
        r = degrade.level_ranges(p.triple, CFG)
        assert r["blur_sigma"][0] <= p.blur_sigma <= r["blur_sigma"][1]
        assert r["noise_sigma"][0] <= p.noise_sigma <= r["noise_sigma"][1]
        assert r["jpeg_quality"][0] <= p.jpeg_quality_drawn <= r["jpeg_quality"][1]
        assert r["jpeg_quality"][0] <= p.jpeg_quality <= r["jpeg_quality"][1]
        assert p.jpeg_quality == int(np.floor(p.jpeg_quality_drawn + 0.5))
        assert 0 <= p.blur_sigma <= 5 and 0 <= p.noise_sigma <= 50 and 10 <= p.jpeg_quality <= 100
    assert len(seen) > 400  # uniform over the 434 triples
    p = degrade.draw_params((10, 1, 10), rng, CFG)
    assert 4.5 <= p.blur_sigma <= 5.0 and p.noise_sigma <= 5 and 10 <= p.jpeg_quality <= 15


def test_blur_matches_fspecial_imfilter_replicate():
    img = _image()
    for sigma in (0.3, 1.7, 5.0):
        g = degrade.gaussian_kernel1d(sigma, 21)
        ref = ndimage.correlate(img.astype(np.float64), np.outer(g, g)[..., None], mode="nearest")
        assert np.abs(degrade.apply_blur(img, sigma, 21) - ref).max() < 1e-5
    assert np.array_equal(degrade.gaussian_kernel1d(0.0, 21), (np.arange(21) == 10).astype(float))


def test_noise_is_clipped_and_has_the_right_sigma():
    flat = np.full((200, 200, 3), 0.5, np.float32)
    out = degrade.apply_noise(flat, 25.0, np.random.default_rng(0))
    assert abs(out.std() * 255 - 25.0) < 0.5
    dark = degrade.apply_noise(np.zeros((50, 50, 3), np.float32), 40.0, np.random.default_rng(0))
    assert dark.min() == 0.0 and dark.max() <= 1.0 and (dark == 0).mean() > 0.4


def test_jpeg_uses_rounded_integer_quality():
    img = _image()
    a = degrade.apply_jpeg(img, 40)
    buf = __import__("io").BytesIO()
    Image.fromarray(np.floor(img * 255 + 0.5).astype(np.uint8)).save(buf, format="JPEG", quality=40)
    assert np.array_equal((a * 255).round().astype(np.uint8), np.asarray(Image.open(buf)))
    assert degrade.round_quality(42.5) == 43 and degrade.round_quality(42.49) == 42


def test_order_is_blur_then_noise_then_jpeg():
    img = _image(128, 128)
    p = degrade.DistortionParams(2.0, 20.0, 30, (4, 4, 8))
    out = degrade.apply(img, p, np.random.default_rng(5), CFG)
    rng = np.random.default_rng(5)  # the same generator state: the same noise field
    by_hand = degrade.apply_jpeg(degrade.apply_noise(degrade.apply_blur(img, 2.0, 21), 20.0, rng), 30)
    assert np.abs(out - by_hand).mean() < 1e-3  # equal up to float32 rounding at 8-bit boundaries
    rng = np.random.default_rng(5)
    noise_first = degrade.apply_jpeg(degrade.apply_blur(degrade.apply_noise(img, 20.0, rng), 2.0, 21), 30)
    jpeg_first = degrade.apply_noise(degrade.apply_blur(degrade.apply_jpeg(img, 30), 2.0, 21), 20.0,
                                     np.random.default_rng(5))
    for other in (noise_first, jpeg_first):
        assert np.abs(out - other).mean() > 20 * np.abs(out - by_hand).mean() + 0.01


def test_same_seed_same_bytes_different_seed_different():
    img = _image()
    p = degrade.draw_params("severe", np.random.default_rng(3), CFG)
    a = degrade.apply(img, p, np.random.default_rng(9), CFG)
    b = degrade.apply(img, p, np.random.default_rng(9), CFG)
    c = degrade.apply(img, p, np.random.default_rng(10), CFG)
    assert a.tobytes() == b.tobytes() and a.tobytes() != c.tobytes()


def test_triple_of_inverts_the_ranges():
    rng = np.random.default_rng(0)
    for _ in range(200):
        p = degrade.draw_params("mild", rng, CFG)
        t = degrade.triple_of(p.blur_sigma, p.noise_sigma, p.jpeg_quality_drawn, CFG)
        assert t == p.triple


def test_rain_and_motion_models():
    rng = np.random.default_rng(0)
    img = _image(128, 128) * 0.5
    light, heavy = rain.draw_rain(rng, "light"), rain.draw_rain(rng, "heavy")
    a, b = rain.add_rain(img, light, rng), rain.add_rain(img, heavy, rng)
    assert (a >= img - 1e-6).all() and (b - img).mean() > (a - img).mean() > 0  # additive, denser is brighter
    k = rain.line_kernel(15.0, 0.0)
    assert abs(k.sum() - 15.0) < 1e-9 and k[:, k.shape[1] // 2].sum() > 0.95 * k.sum()  # vertical streak
    blurred = rain.motion_blur(img, rain.MotionParams(9.0, 0.0))
    assert blurred.shape == img.shape and abs(blurred.mean() - img.mean()) < 0.01
    assert np.abs(np.diff(blurred, axis=1)).mean() < np.abs(np.diff(img, axis=1)).mean()  # horizontal smear


def test_degrade_command(tmp_path, capsys):
    from fdr.cli import main

    src = tmp_path / "in.png"
    Image.fromarray((_image() * 255).astype(np.uint8)).save(src)
    out = tmp_path / "out.png"
    args = ["degrade", "--level", "mild", "--seed", "4", str(src), str(out)]
    assert main(args) == 0
    first, log1 = out.read_bytes(), capsys.readouterr().out
    assert main(args) == 0
    assert out.read_bytes() == first and capsys.readouterr().out == log1
    assert "level=mild" in log1 and "jpeg_quality=" in log1
    assert 9 <= int(log1.split("severity=")[1].split()[0]) <= 11
    assert main(args[:3] + ["--blur", "0", "--noise", "0", "--jpeg", "100", str(src), str(out)]) == 0
    assert "blur_sigma=0.0000 noise_sigma=0.0000 jpeg_quality=100" in capsys.readouterr().out
    assert main(args[:5] + [str(tmp_path / "missing.png"), str(out)]) == 2
    assert "missing.png" in capsys.readouterr().err
    assert main(args[:5] + [str(src), str(tmp_path / "out.jpg")]) == 2
    assert "lossless" in capsys.readouterr().err
    help_text = subprocess.run([sys.executable, "-m", "fdr", "degrade", "--help"], capture_output=True, text=True)
    assert help_text.returncode == 0 and "--level" in help_text.stdout


def test_degrade_refuses_outputs_that_would_lose_data_before_any_work(tmp_path, capsys):
    from fdr.cli import main

    src = tmp_path / "in.png"
    Image.fromarray((_image() * 255).astype(np.uint8)).save(src)
    original = src.read_bytes()
    (tmp_path / "folder.png").mkdir()
    link = tmp_path / "link.png"
    link.symlink_to(src)
    cases = [(str(src), "is the input image itself"), (str(link), "is the input image itself"),
             (str(tmp_path / "folder.png"), "is a folder"),
             (str(tmp_path / "missing" / "out.png"), "does not exist")]
    for out, message in cases:
        assert main(["degrade", str(src), out]) == 2, out
        assert message in capsys.readouterr().err, out
    assert main(["degrade", "--max-pixels", "0", str(src), str(tmp_path / "o.png")]) == 2
    assert "--max-pixels: expected a pixel count >= 1" in capsys.readouterr().err
    assert src.read_bytes() == original and not (tmp_path / "o.png").exists()


def test_jpeg_step_refuses_images_wider_than_a_jpeg_can_be(tmp_path, capsys):
    from fdr.cli import main

    assert degrade.jpeg_roundtrip(np.zeros((2, degrade.JPEG_MAX_SIDE, 3), np.uint8), 50).shape[1] == 65_500
    with pytest.raises(ValueError, match="65501x2 pixels; the JPEG step"):
        degrade.jpeg_roundtrip(np.zeros((2, 65_501, 3), np.uint8), 50)
    Image.fromarray(np.zeros((8, 66_000, 3), np.uint8)).save(tmp_path / "pano.png")
    assert main(["degrade", str(tmp_path / "pano.png"), str(tmp_path / "o.png")]) == 2
    assert "pano.png: 66000x8 pixels; the JPEG step of the protocol encodes at most 65,500" in capsys.readouterr().err
    assert not (tmp_path / "o.png").exists()
