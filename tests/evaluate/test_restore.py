"""Tiled restoration and the ``python -m fdr restore`` command (fdr.evaluate.restore, fdr.commands.restore)."""
import os
import threading

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from fdr.cli import main
from fdr.evaluate.restore import edge_weights, restore_array, restore_rows, tile_starts
from tests.helpers import tiny_checkpoint


class LocalNet(nn.Module):
    """Fully convolutional, receptive field 5x5 (radius 2): tiling with overlap >= 8 must be exact."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.body = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 3, 3, padding=1))

    def forward(self, x):
        return x + self.body(x)


def assemble(model, image, tile, overlap):
    out = np.zeros(image.shape, dtype=np.float32)
    for rows, block in restore_rows(model, image, tile, overlap):
        out[rows] = block
    return out


@pytest.mark.parametrize("length,tile,overlap", [(100, 32, 16), (257, 64, 8), (64, 64, 16), (20, 64, 16), (70, 32, 31)])
def test_tiles_cover_the_axis_with_positive_weights(length, tile, overlap):
    starts = tile_starts(length, tile, overlap)
    size = min(tile, length)
    assert starts[0] == 0 and starts[-1] + size == length
    assert all(b - a <= tile - overlap for a, b in zip(starts, starts[1:]))
    total = np.zeros(length)
    for s in starts:
        total[s:s + size] += edge_weights(size, s, length, overlap)
    assert total.min() > 0


def test_tiled_matches_whole_image():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, size=(101, 133, 3), dtype=np.uint8)
    model = LocalNet().eval()
    whole = assemble(model, image, 0, 0)
    for tile, overlap in ((32, 16), (48, 12), (40, 8)):
        tiled = assemble(model, image, tile, overlap)
        assert np.abs(tiled - whole).max() < 1e-4, (tile, overlap)
    uint8 = restore_array(model, image, 32, 16).astype(int) - restore_array(model, image, 0, 0).astype(int)
    assert np.abs(uint8).max() <= 1 and np.mean(uint8 != 0) < 1e-3  # rounding of near-ties only


def test_restore_rows_comes_in_order_and_bounded_strips():
    image = np.zeros((300, 90, 3), dtype=np.uint8)
    pieces = list(restore_rows(LocalNet().eval(), image, 64, 16))
    rows = [r for r, _ in pieces]
    assert rows[0].start == 0 and rows[-1].stop == 300
    assert all(a.stop == b.start for a, b in zip(rows, rows[1:]))
    assert max(r.stop - r.start for r in rows) <= 64


def _photo(path, size=(70, 50), seed=0):
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(arr).save(path)
    return arr


def test_cli_restores_files_and_folders_and_reports_bad_inputs(tmp_path, capsys):
    tiny_checkpoint(tmp_path / "model.pt")
    src = tmp_path / "photos"
    (src / "sub").mkdir(parents=True)
    _photo(src / "a.png")
    _photo(src / "sub" / "b.jpg", size=(40, 90), seed=1)
    (src / "broken.png").write_bytes(b"this is not an image")
    single = tmp_path / "single.v2.png"
    _photo(single, size=(33, 21), seed=2)
    out = tmp_path / "out"
    code = main(["restore", "--checkpoint", str(tmp_path / "model.pt"), str(src), str(single),
                 str(tmp_path / "nothing.png"), "-o", str(out), "--tile", "32", "--overlap", "8", "--quiet"])
    err = capsys.readouterr().err
    assert code == 1
    assert "broken.png" in err and "nothing.png" in err and "restored 3 of 5" in err
    assert Image.open(out / "a.png").size == (70, 50)
    assert Image.open(out / "sub" / "b.png").size == (40, 90)
    assert Image.open(out / "single.v2.png").size == (33, 21)
    assert not list(out.rglob(".*.tmp"))


def test_cli_never_writes_over_an_input_unless_asked(tmp_path, capsys):
    tiny_checkpoint(tmp_path / "model.pt")
    original = _photo(tmp_path / "a.png")
    args = ["restore", "--checkpoint", str(tmp_path / "model.pt"), str(tmp_path / "a.png"), "-o", str(tmp_path), "--quiet"]
    assert main(args) == 1
    assert "would replace an input" in capsys.readouterr().err
    assert np.array_equal(np.asarray(Image.open(tmp_path / "a.png")), original)
    assert main(args + ["--overwrite"]) == 0


def test_cli_never_replaces_a_file_already_in_the_output_folder_unless_asked(tmp_path, capsys):
    tiny_checkpoint(tmp_path / "model.pt")
    _photo(tmp_path / "a.png")
    out = tmp_path / "out"
    out.mkdir()
    kept = _photo(out / "a.png", seed=5)
    (out / "a.png").chmod(0o444)  # read-only, and still replaced by a rename unless refused
    args = ["restore", "--checkpoint", str(tmp_path / "model.pt"), str(tmp_path / "a.png"), "-o", str(out), "--quiet"]
    assert main(args) == 1
    assert f"output {out / 'a.png'} already exists (use --overwrite to replace it" in capsys.readouterr().err
    assert np.array_equal(np.asarray(Image.open(out / "a.png")), kept)
    assert main(args + ["--overwrite"]) == 0
    assert not np.array_equal(np.asarray(Image.open(out / "a.png")), kept)


def test_cli_refuses_an_overlap_beyond_half_the_tile_and_a_multi_frame_image(tmp_path, capsys):
    """--tile 32 --overlap 31 would restore a 4000 x 3000 photo in 209,961 tiles; an animated GIF would be
    restored as its first frame alone."""
    tiny_checkpoint(tmp_path / "model.pt")
    _photo(tmp_path / "a.png")
    base = ["restore", "--checkpoint", str(tmp_path / "model.pt"), "-o", str(tmp_path / "o"), "--quiet"]
    assert main(base + [str(tmp_path / "a.png"), "--tile", "32", "--overlap", "31"]) == 2
    assert "--overlap: expected 0 <= overlap <= tile / 2 (16), got 31" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
    frames = [Image.fromarray(np.full((40, 40, 3), v, np.uint8)) for v in (0, 200, 90)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    assert main(base + [str(tmp_path / "anim.gif"), str(tmp_path / "a.png"), "--tile", "32", "--overlap", "16"]) == 1
    err = capsys.readouterr().err
    assert "anim.gif: 3 frames (GIF); expected one image" in err and "restored 1 of 2" in err
    assert not (tmp_path / "o" / "anim.png").exists()


def test_cli_pixel_limit_and_missing_default_checkpoint(tmp_path, capsys, monkeypatch):
    tiny_checkpoint(tmp_path / "model.pt")
    _photo(tmp_path / "a.png")
    assert main(["restore", "--checkpoint", str(tmp_path / "model.pt"), str(tmp_path / "a.png"),
                 "-o", str(tmp_path / "o"), "--max-pixels", "1000", "--quiet"]) == 1
    assert "a.png: 70x50 = 3,500 pixels exceeds --max-pixels 1,000" in capsys.readouterr().err
    monkeypatch.chdir(tmp_path)
    assert main(["restore", "a.png"]) == 2
    err = capsys.readouterr().err
    assert "models/fdrnet/checkpoint.pt: checkpoint not found" in err and "dvc repro" in err


class Identity(nn.Module):
    def forward(self, x):
        return x.clone()


def _colour_image(h=37, w=53) -> np.ndarray:
    """A gradient whose three channels differ everywhere (a channel swap cannot go unnoticed)."""
    yy, xx = np.mgrid[0:h, 0:w]
    return np.stack([(4 * xx) % 256, (5 * yy) % 256, (3 * xx + 2 * yy + 60) % 256], axis=-1).astype(np.uint8)


def test_restore_output_keeps_channel_order_and_value_range():
    image = _colour_image()
    for tile, overlap in ((0, 0), (16, 4)):
        assert np.array_equal(restore_array(Identity(), image, tile, overlap), image)  # uint8 in, uint8 out
        floats = restore_array(Identity(), image.astype(np.float32) / 255, tile, overlap)
        assert np.array_equal(floats, image)  # float [0, 1] in: the same pixels


def test_cli_writes_the_restored_pixels_in_rgb(tmp_path):
    from fdr.train.checkpoint import load_model

    tiny_checkpoint(tmp_path / "model.pt")
    Image.fromarray(_colour_image()).save(tmp_path / "in.png")
    assert main(["restore", "--checkpoint", str(tmp_path / "model.pt"), str(tmp_path / "in.png"),
                 "-o", str(tmp_path / "o"), "--quiet"]) == 0
    written = np.asarray(Image.open(tmp_path / "o" / "in.png"))
    model, _ = load_model(tmp_path / "model.pt")
    assert np.array_equal(written, restore_array(model, _colour_image(), 256, 16))
    assert not np.array_equal(written, _colour_image())  # the model's output, not the input


@pytest.fixture(scope="module")
def trained_checkpoint(tmp_path_factory):
    """A tiny FDR-Net trained to denoise synthetic gratings (noise sigma 20) for 100 iterations."""
    from tests.helpers import run_inprocess

    tmp = tmp_path_factory.mktemp("trained")
    run_inprocess(tmp, iterations=100, lr=3e-3, checkpoint_every=1000, val_every=1000, log_every=50)
    return tmp / "out" / "checkpoint.pt"


def test_cli_restoration_is_closer_to_the_clean_image_than_its_input(tmp_path, trained_checkpoint):
    from fdr.evaluate.metrics import psnr

    yy, xx = np.mgrid[0:40, 0:56]
    clean = 0.5 + 0.4 * np.sin(0.3 * (xx[..., None] + 0.7 * yy[..., None]) + np.array([0.0, 2.0, 4.0]))
    noisy = np.clip(np.round(clean * 255 + np.random.default_rng(9).normal(0, 20, clean.shape)), 0, 255)
    Image.fromarray(noisy.astype(np.uint8)).save(tmp_path / "noisy.png")
    assert main(["restore", "--checkpoint", str(trained_checkpoint), str(tmp_path / "noisy.png"),
                 "-o", str(tmp_path / "o"), "--tile", "32", "--overlap", "8", "--quiet"]) == 0
    restored = np.asarray(Image.open(tmp_path / "o" / "noisy.png")) / 255.0
    assert psnr(restored, clean) > psnr(noisy / 255.0, clean) + 1.0


@pytest.mark.parametrize("option, value, message", [
    ("--tile", "-5", "--tile: expected 0 (whole image) or at least 32"),
    ("--tile", "1", "--tile: expected 0 (whole image) or at least 32"),
    ("--max-pixels", "0", "--max-pixels: expected a pixel count >= 1"),
    ("--max-pixels", "-5", "--max-pixels: expected a pixel count >= 1"),
])
def test_cli_rejects_numeric_options_before_any_work(tmp_path, capsys, option, value, message):
    tiny_checkpoint(tmp_path / "model.pt")
    _photo(tmp_path / "a.png")
    out = tmp_path / "out"
    assert main(["restore", "--checkpoint", str(tmp_path / "model.pt"), str(tmp_path / "a.png"), "-o", str(out),
                 option, value, "--overlap", "0", "--quiet"]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_cli_output_folder_inside_an_input_folder_is_not_restored_again(tmp_path, capsys):
    tiny_checkpoint(tmp_path / "model.pt")
    photos = tmp_path / "photos"
    photos.mkdir()
    _photo(photos / "a.png")
    args = ["restore", "--checkpoint", str(tmp_path / "model.pt"), str(photos), "-o", str(photos / "restored"),
            "--tile", "32", "--overlap", "8", "--quiet"]
    assert main(args) == 0 and main(args + ["--overwrite"]) == 0
    assert "restored 1 of 1" in capsys.readouterr().err.splitlines()[-1]
    assert sorted(p.relative_to(photos).as_posix() for p in photos.rglob("*.png")) == ["a.png", "restored/a.png"]


def test_cli_unwritable_output_fails_before_restoring(tmp_path, capsys):
    tiny_checkpoint(tmp_path / "model.pt")
    _photo(tmp_path / "a.png")
    (tmp_path / "file").write_text("not a folder")
    assert main(["restore", "--checkpoint", str(tmp_path / "model.pt"), str(tmp_path / "a.png"),
                 "-o", str(tmp_path / "file" / "out"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "cannot create the output folder" in err and "restored" not in err


def test_cli_reads_a_named_pipe(tmp_path, capsys):
    tiny_checkpoint(tmp_path / "model.pt")
    _photo(tmp_path / "a.png")
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    data = (tmp_path / "a.png").read_bytes()
    writer = threading.Thread(target=lambda: fifo.write_bytes(data), daemon=True)  # never blocks pytest exit
    writer.start()
    code = main(["restore", "--checkpoint", str(tmp_path / "model.pt"), str(fifo), "-o", str(tmp_path / "o"),
                 "--tile", "32", "--overlap", "8", "--quiet"])
    writer.join(timeout=10)
    assert code == 0, capsys.readouterr().err
    assert Image.open(tmp_path / "o" / "pipe.png").size == (70, 50)


def test_cli_refuses_a_checkpoint_with_non_finite_weights(tmp_path, capsys):
    net = tiny_checkpoint(tmp_path / "model.pt")
    state = torch.load(tmp_path / "model.pt", weights_only=True)
    name = next(iter(net.state_dict()))
    state["model"][name] = torch.full_like(state["model"][name], float("nan"))
    torch.save(state, tmp_path / "nan.pt")
    _photo(tmp_path / "a.png")
    assert main(["restore", "--checkpoint", str(tmp_path / "nan.pt"), str(tmp_path / "a.png"),
                 "-o", str(tmp_path / "o"), "--quiet"]) == 2
    assert f"nan.pt: 1 weight tensor(s) hold NaN or infinite values (first: {name})" in capsys.readouterr().err
    assert not list((tmp_path / "o").glob("*.png"))


def test_exif_orientation_is_applied_alike_by_restore_and_degrade(tmp_path, capsys):
    """A camera JPEG stored 60 x 40 with orientation 6 (rotate 90 degrees) is a 40 x 60 picture for both."""
    tiny_checkpoint(tmp_path / "model.pt")
    exif = Image.Exif()
    exif[0x0112] = 6
    arr = np.zeros((40, 60, 3), np.uint8)
    arr[:, :10] = 255  # a bright left edge: on top after the rotation
    Image.fromarray(arr).save(tmp_path / "cam.jpg", quality=95, exif=exif)
    assert main(["restore", "--checkpoint", str(tmp_path / "model.pt"), str(tmp_path / "cam.jpg"),
                 "-o", str(tmp_path / "r"), "--quiet"]) == 0
    assert main(["degrade", "--blur", "0", "--noise", "0", "--jpeg", "100", str(tmp_path / "cam.jpg"),
                 str(tmp_path / "d.png")]) == 0
    for out in (next((tmp_path / "r").glob("cam*")), tmp_path / "d.png"):
        got = np.asarray(Image.open(out).convert("L"), dtype=float)
        assert got.shape == (60, 40), out
        assert got[:10].mean() > got[-10:].mean() + 100, out
