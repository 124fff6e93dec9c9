"""``data.source: folder``: the user's own clean photos and distorted/clean pairs through the data stages, a short
training on each, the split and manifest, the errors, and DVC noticing a changed photo."""
from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skimage.data
import yaml
from PIL import Image

from fdr import config
from fdr.config.runs import resolve
from fdr.data.folder import split
from fdr.data.imageio import CorruptImage
from fdr.data.patches import crop
from fdr.data.sources import prepare_raw
from fdr.data.synthesize import synthesize
from fdr.evaluate.patches import evaluate_run
from fdr.train.trainer import train
from tests.helpers import REPO, TINY_MODEL, subprocess_env

PHOTOS = {"astronaut": skimage.data.astronaut, "coffee": skimage.data.coffee, "chelsea": skimage.data.chelsea,
          "rocket": skimage.data.rocket, "motorcycle": lambda: skimage.data.stereo_motorcycle()[0]}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture()
def folders(tmp_path):
    """Five photos (one as JPEG, one in a sub-folder) and four noisy/clean pairs (inputs JPEG, targets PNG)."""
    clean, pin, ptg = tmp_path / "mine" / "clean", tmp_path / "mine" / "noisy", tmp_path / "mine" / "sharp"
    for d in (clean / "holiday", pin, ptg):
        d.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i, (name, load) in enumerate(PHOTOS.items()):
        arr = load()[:150, :180]
        (clean / "holiday" if name == "rocket" else clean).mkdir(exist_ok=True)
        if name == "coffee":
            Image.fromarray(arr).save(clean / f"{name}.jpg", quality=92)
        else:
            Image.fromarray(arr).save((clean / "holiday" if name == "rocket" else clean) / f"{name}.png")
        if i < 4:
            gt = load()[50:150, 50:170]
            Image.fromarray(gt).save(ptg / f"{name}.png")
            noisy = np.clip(gt + rng.normal(0, 20, gt.shape), 0, 255).astype(np.uint8)
            Image.fromarray(noisy).save(pin / f"{name}.jpg", quality=90)
    return clean, pin, ptg


def _cfg(root: Path, clean, pin, ptg, **over) -> config.Config:
    return config.from_dict({"runs": {"fdrnet": {}, "mine": {"train": "pairs_train", "val": "pairs_test"},
                                      "didhy_fdrnet": {"train": "didhy_train", "val": "didhy_test"}}},
                            overrides={
        "data.root": str(root / "data"), "data.source": "folder", "data.folder.clean": str(clean),
        "data.folder.pairs.input": str(pin), "data.folder.pairs.target": str(ptg), "data.folder.test_fraction": 0.25,
        "synthesis.workers": 1, "synthesis.didhy_size": 128, "model": TINY_MODEL, "train.iterations": 6,
        "train.batch_size": 4, "train.val_patches": 4, "train.device": "cpu", "train.log_every": 3, **over})


def test_clean_photos_and_pairs_go_through_the_data_stages_and_train(tmp_path, folders):
    clean, pin, ptg = folders
    cfg = _cfg(tmp_path, *folders)
    raw = prepare_raw(cfg, progress=False, log=lambda m: None).set_index("name")
    # every file listed once, with the SHA-256 of the user's file and a copy of the same bytes under data/raw
    assert sorted(raw.index) == sorted([f"folder/{n}" for n in ("astronaut", "coffee", "chelsea", "holiday/rocket",
                                                                 "motorcycle")] +
                                       [f"folder-pairs/{n}" for n in ("astronaut", "coffee", "chelsea", "rocket")])
    assert raw.loc["folder/coffee", "sha256"] == _sha(clean / "coffee.jpg")
    assert _sha(tmp_path / "data" / raw.loc["folder/coffee", "path"]) == _sha(clean / "coffee.jpg")
    assert _sha(tmp_path / "data" / raw.loc["folder-pairs/rocket", "target"]) == _sha(ptg / "rocket.png")
    assert raw.loc["folder-pairs/rocket", "sha256"] == _sha(pin / "rocket.jpg")
    # the split: by SHA-256 of the relative name, round(0.25 * n) files (at least one) held out
    for prefix, names in (("folder/", ["astronaut", "coffee", "chelsea", "holiday/rocket", "motorcycle"]),
                          ("folder-pairs/", ["astronaut", "coffee", "chelsea", "rocket"])):
        ordered = sorted(names, key=lambda n: hashlib.sha256(n.encode()).hexdigest())
        want = {n: "test" if n in ordered[:max(1, round(0.25 * len(names)))] else "train" for n in names}
        assert {n: raw.loc[prefix + n, "split"] for n in names} == want
    synthesize(cfg, progress=False, log=lambda m: None)
    summary = crop(cfg, log=lambda m: None)
    assert {"train", "test_moderate", "didhy_train", "deblur_test", "pairs_train", "pairs_test"} <= set(summary)
    pairs = pd.read_csv(tmp_path / "data" / "synth" / "pairs_test" / "manifest.csv")
    assert list(pairs["input"].str.endswith(".jpg")) == [True] * len(pairs)  # used as given, not re-distorted
    for run in ("fdrnet", "mine"):  # synthesised hybrid training; the user's own pairs
        result = train(cfg, resolve(cfg, run), tmp_path / "models" / run, progress=False)
        assert result["iterations"] == 6 and np.isfinite(result["final_loss"])
    means, _ = evaluate_run(cfg, "mine", tmp_path / "models", progress=False)
    assert set(means) == {"pairs"} and means["pairs"]["patches"] == summary["pairs_test"]["patches"]
    hybrid, _ = evaluate_run(cfg, "fdrnet", tmp_path / "models", progress=False)
    assert set(hybrid) == {"mild", "moderate", "severe", "pairs"}


def test_split_follows_test_files_and_is_stable_when_photos_are_added():
    cfg = config.from_dict({"data": {"folder": {"test_files": ["b.png", "sub/c.jpg"]}}}).data.folder
    assert split(["a", "b", "sub/c", "d"], cfg, "clean") == {"a": "train", "b": "test", "sub/c": "test", "d": "train"}
    cfg = config.from_dict({"data": {"folder": {"test_fraction": 0.2}}}).data.folder
    names = [f"img{i:03d}" for i in range(20)]
    before = split(names, cfg, "clean")
    after = split(names + ["new1", "new2"], cfg, "clean")  # round(0.2 * 22) = 4 test: the earlier 4 stay unless
    assert sum(v == "test" for v in before.values()) == 4  # a new name sorts before them
    moved = [n for n in names if before[n] != after[n]]
    assert len(moved) <= 2 and all(before[n] == "test" for n in moved)


@pytest.mark.parametrize("fault, message", [
    ("missing_target", r"data.folder.pairs.target: no partner for .*noisy/coffee.jpg \(expected coffee.<image suffix> "
                       r"in .*sharp; 1 unmatched\)"),
    ("missing_input", r"data.folder.pairs.input: no partner for .*sharp/extra.png"),
    ("size", r"data.folder.pairs: .*noisy/chelsea.jpg is 120x100 but its target .*sharp/chelsea.png is 60x100"),
    ("same_stem", r"data.folder.clean: astronaut.jpg and astronaut.png in .*clean are both named 'astronaut'"),
    ("no_folder", r"data.folder.clean: .*nowhere is not a folder"),
    ("unknown_test_file", r"data.folder.test_files: 'zebra' is not an image"),
    ("one_image", r"data.folder.clean: 1 image\(s\); at least 2 are needed"),
])
def test_folder_faults_stop_with_a_message_naming_the_file(tmp_path, folders, fault, message):
    clean, pin, ptg = folders
    over = {}
    if fault == "missing_target":
        (ptg / "coffee.png").unlink()
    elif fault == "missing_input":
        shutil.copy(ptg / "rocket.png", ptg / "extra.png")
    elif fault == "size":
        Image.open(ptg / "chelsea.png").crop((0, 0, 60, 100)).save(ptg / "chelsea.png")
    elif fault == "same_stem":
        shutil.copy(clean / "astronaut.png", clean / "astronaut.jpg")
    elif fault == "no_folder":
        clean = tmp_path / "nowhere"
    elif fault == "unknown_test_file":
        over["data.folder.test_files"] = ["zebra.png"]
    elif fault == "one_image":
        for p in list(clean.rglob("*.*"))[1:]:
            p.unlink()
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        prepare_raw(_cfg(tmp_path, clean, pin, ptg, **over), progress=False, log=lambda m: None)
    assert not (tmp_path / "data" / "raw").exists()


def test_bad_photos_are_named_or_skipped_and_counted(tmp_path, folders):
    clean, pin, ptg = folders
    (clean / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    Image.fromarray(np.full((90, 90), 128, np.uint8)).save(clean / "gray.png")
    Image.fromarray(np.full((20, 30, 3), 200, np.uint8)).save(clean / "tiny.png")
    Image.fromarray((np.arange(100 * 100).reshape(100, 100) * 6).astype(np.uint16)).save(clean / "deep16.png")
    with pytest.raises(CorruptImage, match=rf"{clean}/broken.png: not a readable image"):
        prepare_raw(_cfg(tmp_path, *folders), progress=False, log=lambda m: None)
    cfg = _cfg(tmp_path, *folders, **{"data.skip_bad": True})
    raw = prepare_raw(cfg, progress=False, log=lambda m: None).set_index("name")
    assert raw.loc["folder/broken", "status"] == "corrupt" and raw.loc["folder/gray", "status"] == "grayscale"
    assert raw.loc["folder/deep16", "status"] == "grayscale"  # a 16-bit one-channel photo, checked like any other
    synthesize(cfg, progress=False, log=lambda m: None)
    skipped = pd.read_csv(tmp_path / "data" / "synth" / "skipped.csv")
    reasons = set(zip(skipped["source"], skipped["reason"]))
    assert {("folder/broken", "corrupt"), ("folder/gray", "grayscale")} <= reasons
    assert ("folder/tiny", "too_small") in reasons


def test_a_changed_photo_makes_dvc_rerun_the_download_stage(tmp_path, folders):
    """The project's own download stage (as dvc.yaml writes it) in a scratch DVC project."""
    clean, pin, ptg = folders
    work = tmp_path / "project"
    work.mkdir()
    for part in ("fdr", "stages"):
        shutil.copytree(REPO / part, work / part, ignore=shutil.ignore_patterns("__pycache__"))
    stage = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]["download"]
    (work / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"download": stage}}))
    (work / "params.yaml").write_text(yaml.safe_dump({"seed": 0, "data": {
        "source": "folder", "folder": {"clean": str(clean), "pairs": {"input": str(pin), "target": str(ptg)}}}}))
    env = subprocess_env()

    def dvc(*args) -> str:
        done = subprocess.run(["dvc", *args], cwd=work, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    dvc("init", "--no-scm", "-q")
    dvc("repro", "-q", "download")
    assert "up to date" in dvc("status")
    arr = np.asarray(Image.open(clean / "chelsea.png")).copy()
    arr[0, 0] ^= 1
    Image.fromarray(arr).save(clean / "chelsea.png")  # retouched: one pixel
    assert f"modified:           {clean}" in dvc("status")
    dvc("repro", "-q", "download")
    raw = pd.read_csv(work / "data" / "raw" / "manifest.csv").set_index("name")
    assert raw.loc["folder/chelsea", "sha256"] == _sha(clean / "chelsea.png")
