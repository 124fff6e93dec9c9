"""download -> synthesize -> crop on the embedded source: manifests, ranges, order, determinism, patches."""
from __future__ import annotations

import hashlib
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from fdr import config
from fdr.data import degrade
from fdr.data.dataset import PatchDataset
from fdr.data.imageio import quantize, read_rgb, sha256_file
from fdr.data.patches import crop
from fdr.data.sources import embedded_split, prepare_raw
from fdr.data.synthesize import planar01, scaled, synthesize

SMALL = {"synthesis.base_scale": 0.5, "synthesis.didhy_size": 96, "synthesis.workers": 1,
         "crop.max_train_patches": 200}


def _cfg(root: Path, **over) -> config.Config:
    return config.from_dict({}, overrides={"data.root": str(root), **SMALL, **over})


def _quiet(_msg):
    pass


def _build(root: Path, workers: int = 1, **over) -> config.Config:
    cfg = _cfg(root, **over)
    prepare_raw(cfg, progress=False, log=_quiet)
    synthesize(cfg, workers=workers, progress=False, log=_quiet)
    crop(cfg, log=_quiet)
    return cfg


def _digest(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != "summary.json"}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("emb") / "data"
    return _build(root), root


def test_raw_manifest_split_by_scene(built):
    cfg, root = built
    raw = pd.read_csv(root / "raw" / "manifest.csv", keep_default_na=False)
    assert list(raw.columns[:6]) == ["name", "split", "path", "sha256", "width", "height"]
    assert len(raw) == 12 and (raw["status"] == "ok").all()
    for _, r in raw.iterrows():
        assert sha256_file(root / r["path"]) == r["sha256"]
        assert read_rgb(root / r["path"]).shape == (r["height"], r["width"], 3)
    assert set(raw.groupby("scene")["split"].nunique()) == {1}  # no scene on both sides
    moto = raw[raw["scene"] == "motorcycle"]
    assert len(moto) == 2 and moto["split"].nunique() == 1
    assert set(raw[raw["split"] == "test"]["scene"]) == {"coffee", "chelsea"}
    assert sum(v == "test" for v in embedded_split(4).values()) == 4
    with pytest.raises(ValueError, match="data.test_count"):
        embedded_split(11)
    assert {"china", "flower"} <= set(raw["scene"])  # scikit-learn's colour photos join scikit-image's


def test_recoloured_copies_train_in_other_palettes_and_the_test_sets_keep_theirs(tmp_path):
    """Copy 0 of a training image keeps its colours and its pixels (bit-identical to a build without palettes);
    every further copy is a recoloured target with the input distorted from it; test sets are never recoloured."""
    over = {"synthesis.scales": [1.0], "synthesis.test_scales": [1.0], "synthesis.copies.hybrid_train": 3,
            "synthesis.copies.scene_train": 2, "synthesis.didhy": True, "synthesis.single": False,
            "synthesis.draws": "image", "data.test_count": 9}
    on = _build(tmp_path / "on" / "data", **over, **{"synthesis.palettes.train": True})
    off = _build(tmp_path / "off" / "data", **over, **{"synthesis.palettes.train": False})
    for cfg in (on, off):
        assert cfg.synthesis.palettes.train == (cfg is on)
    m_on = pd.read_csv(tmp_path / "on" / "data" / "synth" / "train" / "manifest.csv", keep_default_na=False)
    m_off = pd.read_csv(tmp_path / "off" / "data" / "synth" / "train" / "manifest.csv", keep_default_na=False)
    first = m_on[m_on["copy"] == 0]
    assert (first["palette_order"] == "").all() and (m_off["palette_order"] == "").all()
    for (_, a), (_, b) in zip(first.iterrows(), m_off[m_off["copy"] == 0].iterrows()):
        for col in ("input", "target"):
            assert sha256_file(tmp_path / "on" / "data" / a[col]) == sha256_file(tmp_path / "off" / "data" / b[col])
    later = m_on[m_on["copy"] > 0]
    assert len(later) == 2 * len(first) and (later["palette_order"] != "").all()
    own = {r["source"]: read_rgb(tmp_path / "on" / "data" / r["target"]) for _, r in first.iterrows()}
    for _, r in later.iterrows():
        target = read_rgb(tmp_path / "on" / "data" / r["target"])
        assert not np.array_equal(target, own[r["source"]])  # other colours, same photo
        assert target.shape == own[r["source"]].shape
        inp = read_rgb(tmp_path / "on" / "data" / r["input"]).astype(float)
        means = inp.reshape(-1, 3).mean(0), target.reshape(-1, 3).astype(float).mean(0)
        assert np.abs(means[0] - means[1]).max() < 12  # the input is the recoloured photo, distorted
    didhy = pd.read_csv(tmp_path / "on" / "data" / "synth" / "didhy_train" / "manifest.csv", keep_default_na=False)
    assert (didhy[didhy["copy"] == 1]["palette_order"] != "").all()
    for name in ("test_moderate", "didhy_test"):
        m = pd.read_csv(tmp_path / "on" / "data" / "synth" / name / "manifest.csv", keep_default_na=False)
        assert (m["palette_order"] == "").all(), name


def test_manifest_values_lie_in_their_level_ranges(built):
    cfg, root = built
    syn = cfg.synthesis
    checked = 0
    for name in ["train", "test_mild", "test_moderate", "test_severe", "didhy_train", "didhy_test"]:
        man = pd.read_csv(root / "synth" / name / "manifest.csv")
        assert len(man) > 0
        want = syn.train_level if name == "train" else syn.didhy_level if name.startswith("didhy") else name[5:]
        assert set(man["level"]) == {want}
        lo, hi = degrade.LEVELS[want]
        for r in man.itertuples():
            assert lo <= r.k + r.m + r.n - 2 <= hi and r.severity == r.k + r.m + r.n - 2
            rng = degrade.level_ranges((r.k, r.m, r.n), syn)
            assert rng["blur_sigma"][0] <= r.blur_sigma <= rng["blur_sigma"][1]
            assert rng["noise_sigma"][0] <= r.noise_sigma <= rng["noise_sigma"][1]
            assert rng["jpeg_quality"][0] <= r.jpeg_quality_drawn <= rng["jpeg_quality"][1]
            assert r.jpeg_quality == int(np.floor(r.jpeg_quality_drawn + 0.5))
            checked += 1
        assert not man.duplicated(["source", "scale_index"]).any()  # one triple per image and scale
    train = pd.read_csv(root / "synth" / "train" / "manifest.csv")
    assert set(train["split"]) == {"train"} and set(train["scale_index"]) <= {0, 1, 2}
    assert set(pd.read_csv(root / "synth" / "test_mild" / "manifest.csv")["split"]) == {"test"}
    didhy = pd.read_csv(root / "synth" / "didhy_train" / "manifest.csv")
    assert didhy["rain_class"].isin(["light", "medium", "heavy"]).all() and (didhy["height"] == 96).all()
    assert pd.read_csv(root / "synth" / "deblur_train" / "manifest.csv")["motion_length"].between(5, 21).all()
    assert checked > 30


def test_stage_order_blur_noise_jpeg_by_hand(built):
    """Re-draw sample 0 of the train set from its recorded seed and apply the three steps by hand."""
    cfg, root = built
    man = pd.read_csv(root / "synth" / "train" / "manifest.csv")
    r = man[(man["index"] == 0) & (man["scale_index"] == 0)].iloc[0]
    raw = pd.read_csv(root / "raw" / "manifest.csv", keep_default_na=False).set_index("name")
    clean = scaled(planar01(read_rgb(root / raw.loc[r["source"], "path"])), cfg.synthesis.base_scale)
    img = clean.transpose(1, 2, 0)
    seq = np.random.SeedSequence(int(r["seed"]), spawn_key=tuple(int(v) for v in r["spawn_key"].split("-")))
    rng = np.random.default_rng(seq)
    p = degrade.draw_params(r["level"], rng, cfg.synthesis)
    assert (p.triple, p.blur_sigma, p.noise_sigma, p.jpeg_quality) == (
        (r["k"], r["m"], r["n"]), r["blur_sigma"], r["noise_sigma"], r["jpeg_quality"])
    stored = read_rgb(root / r["input"]).astype(np.float32) / 255
    by_hand = degrade.apply_jpeg(degrade.apply_noise(degrade.apply_blur(img, p.blur_sigma), p.noise_sigma, rng),
                                 p.jpeg_quality)
    assert np.abs(stored - by_hand).mean() < 2e-3
    gt = read_rgb(root / r["target"])
    assert np.array_equal(gt, quantize(img))
    other = degrade.apply_noise(degrade.apply_jpeg(degrade.apply_blur(img, p.blur_sigma), p.jpeg_quality),
                                p.noise_sigma, np.random.default_rng(0))
    assert np.abs(stored - other).mean() > 10 * np.abs(stored - by_hand).mean()


def test_same_seed_same_bytes_any_worker_count(built, tmp_path):
    cfg, root = built
    again = tmp_path / "again"
    _build(again, workers=2)
    for stage in ("raw", "synth", "patches"):
        assert _digest(root / stage) == _digest(again / stage), stage
    other = tmp_path / "seed1" / "data"
    cfg1 = _cfg(other, seed=1)
    prepare_raw(cfg1, progress=False, log=_quiet)
    synthesize(cfg1, workers=1, progress=False, log=_quiet)
    a = pd.read_csv(root / "synth" / "train" / "manifest.csv")
    b = pd.read_csv(other / "synth" / "train" / "manifest.csv")
    assert not np.allclose(a["blur_sigma"], b["blur_sigma"])


def test_patches_are_uint8_memmaps_cut_from_the_images(built):
    cfg, root = built
    for name in ("train", "test_moderate", "didhy_test"):
        folder = root / "patches" / name
        inp = np.load(folder / "input.npy", mmap_mode="r")
        tgt = np.load(folder / "target.npy", mmap_mode="r")
        man = pd.read_csv(folder / "manifest.csv")
        assert inp.dtype == np.uint8 and inp.shape == tgt.shape and inp.shape[1:] == (63, 63, 3)
        assert len(man) == len(inp) > 0
        for j in (0, len(man) // 2, len(man) - 1):
            r = man.iloc[j]
            y, x = int(r["y"]), int(r["x"])
            assert np.array_equal(inp[j], read_rgb(root / r["input"])[y:y + 63, x:x + 63])
            assert np.array_equal(tgt[j], read_rgb(root / r["target"])[y:y + 63, x:x + 63])
            assert y % cfg.crop.stride == 0 and x % cfg.crop.stride == 0
    train = pd.read_csv(root / "patches" / "train" / "manifest.csv")
    assert len(train) == cfg.crop.max_train_patches  # seeded subset
    assert {"blur_sigma", "noise_sigma", "jpeg_quality", "k", "m", "n", "scale", "source"} <= set(train.columns)


def test_patch_dataset(built):
    cfg, root = built
    ds = PatchDataset(root / "patches" / "test_mild")
    x, y = ds[0]
    assert x.dtype == torch.uint8 and x.shape == (3, 63, 63) and y.shape == (3, 63, 63)
    assert isinstance(ds.arrays()[0], np.memmap)
    raw = np.load(root / "patches" / "test_mild" / "input.npy", mmap_mode="r")
    assert np.array_equal(x.numpy(), raw[0].transpose(2, 0, 1))
    dc = PatchDataset(root / "patches" / "test_mild", crop=48, seed=3)
    a, b = dc[1]
    assert a.shape == (3, 48, 48) and torch.equal(a, dc[1][0])
    crops = {tuple(dc[1][0][:, 0, 0].tolist())}
    for e in range(1, 6):
        dc.set_epoch(e)
        crops.add(tuple(dc[1][0][:, 0, 0].tolist()))
    assert len(crops) > 1  # the crop moves with the epoch
    loader = torch.utils.data.DataLoader(ds, batch_size=8, num_workers=1)
    xb, yb = next(iter(loader))
    assert xb.shape == (8, 3, 63, 63) and xb.dtype == torch.uint8
    with pytest.raises(IndexError):
        ds[len(ds)]
    with pytest.raises(ValueError, match="crop"):
        PatchDataset(root / "patches" / "test_mild", crop=64)


def _rss_file_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssFile:"):
            return int(line.split()[1])
    return -1


def test_dataset_never_holds_the_set_in_memory(tmp_path):
    n = 4000  # 4000 x 63 x 63 x 3 = 47.6 MB per array
    for name in ("input.npy", "target.npy"):
        arr = np.lib.format.open_memmap(tmp_path / name, mode="w+", dtype=np.uint8, shape=(n, 63, 63, 3))
        arr[::97] = 7
        arr.flush()
        del arr
    ds = PatchDataset(tmp_path)
    rss0 = _rss_file_kb()
    tracemalloc.start()
    total = 0
    for i in range(n):
        total += int(ds[i][0][0, 0, 0])
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert total == 7 * len(range(0, n, 97)) and peak < 2_000_000  # a few patches, not 95 MB
    if rss0 >= 0:  # Linux: reading the whole set leaves the resident set (file pages) where it was
        assert _rss_file_kb() - rss0 < 20_000


def test_stage_scripts_report_errors(tmp_path, capsys):
    from stages import crop as crop_stage
    from stages import download as download_stage

    bad = tmp_path / "bad.yaml"
    bad.write_text("data:\n  test_count: 0\n")
    assert download_stage.main(["--params", str(bad)]) == 2
    assert "data.test_count" in capsys.readouterr().err
    empty = tmp_path / "empty.yaml"
    empty.write_text(f"data:\n  root: {tmp_path / 'nothing'}\n")
    (tmp_path / "nothing").mkdir()
    assert crop_stage.main(["--params", str(empty)]) == 2
    assert "run the synthesize stage first" in capsys.readouterr().err


def test_crop_window_is_the_same_for_input_and_target(tmp_path):
    """Each patch's pixels encode their own (row, column), the target is the input + 1: a crop that takes
    different windows (or swaps y and x) for the two breaks the pairing the L1 loss relies on."""
    n, p, c = 5, 20, 7
    rows, cols = np.meshgrid(np.arange(p), np.arange(p), indexing="ij")
    inp = np.stack([rows, cols, np.full((p, p), 0)], axis=-1).astype(np.uint8)
    inp = np.repeat(inp[None], n, axis=0)
    inp[:, :, :, 2] = np.arange(n)[:, None, None]
    np.save(tmp_path / "input.npy", inp)
    np.save(tmp_path / "target.npy", inp + 1)
    ds = PatchDataset(tmp_path, crop=c, seed=0)
    corners = set()
    for epoch in range(6):
        ds.set_epoch(epoch)
        for i in range(n):
            a, b = (t.numpy().astype(int) for t in ds[i])
            y, x = a[0, 0, 0], a[1, 0, 0]
            corners.add((y, x))
            assert np.array_equal(a[0], y + rows[:c, :c]) and np.array_equal(a[1], x + cols[:c, :c])
            assert np.array_equal(b, a + 1), (epoch, i)
            assert (a[2] == i).all()
    assert len({y for y, _ in corners}) > 1 and len({x for _, x in corners}) > 1 and any(y != x for y, x in corners)


def test_a_patch_larger_than_the_images_stops_the_crop_stage_with_the_key(tmp_path):
    """crop.patch beyond every image left empty patch sets behind (exit 0); training failed much later."""
    with pytest.raises(config.ConfigError, match=r"crop.patch: 10000 leaves set '\w+' without a single patch"):
        _build(tmp_path, **{"crop.patch": 10000, "synthesis.draws": "image", "synthesis.didhy": False,
                            "synthesis.single": False})
    assert not (tmp_path / "patches").exists() and not list(tmp_path.glob(".patches*"))
