"""``data.source: folder``: the user's own clean photos and distorted/clean pairs through the data stages, a short
training on each, the split and manifest, the errors, and DVC noticing a changed photo."""
from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
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
    ("no_image", r"data.folder.clean: no images in .*clean \(expected .png"),
    ("pairs_one_folder", r"data.folder.pairs.target: .*noisy is data.folder.pairs.input \(.*noisy\) or overlaps it"),
    ("targets_alone", r"data.folder.pairs.input: no partner for .*sharp/astronaut.png"),
    ("linked_folder", r"data.folder.clean: .*clean/linked is a link to a folder; its images would not be used"),
    ("same_image_in_both_splits", r"data.folder: .*clean/IMG_0001.jpg \(train\) and .*clean/coffee.jpg \(test\) are "
                                  r"the same image \(SHA-256 [0-9a-f]{16}...\)"),
    ("gray", r"clean/gray.png: one-channel image \(mode L\); expected colour"),
    ("animated", r"clean/moving.gif: 2 frames \(GIF\); expected one image"),
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
    elif fault == "no_image":
        for p in list(clean.rglob("*.*")):
            p.unlink()
    elif fault == "pairs_one_folder":
        ptg = pin
    elif fault == "targets_alone":
        shutil.rmtree(pin)  # the optional input folder gone, its targets left
    elif fault == "linked_folder":
        (tmp_path / "elsewhere").mkdir()
        shutil.copy(clean / "chelsea.png", tmp_path / "elsewhere" / "cat.png")
        (clean / "linked").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    elif fault == "same_image_in_both_splits":
        shutil.copy(clean / "coffee.jpg", clean / "IMG_0001.jpg")
        over["data.folder.test_files"] = ["coffee.jpg"]
    elif fault == "gray":
        Image.fromarray(np.full((90, 90), 128, np.uint8)).save(clean / "gray.png")
    elif fault == "animated":
        frames = [Image.fromarray(np.full((90, 90, 3), v, np.uint8)) for v in (0, 255)]
        frames[0].save(clean / "moving.gif", save_all=True, append_images=frames[1:])
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        prepare_raw(_cfg(tmp_path, clean, pin, ptg, **over), progress=False, log=lambda m: None)
    assert not (tmp_path / "data" / "raw").exists()


def test_the_same_image_twice_in_one_split_and_missing_pair_folders_are_accepted(tmp_path, folders):
    clean, pin, ptg = folders
    shutil.copy(clean / "coffee.jpg", clean / "IMG_0001.jpg")
    cfg = _cfg(tmp_path, clean, tmp_path / "no-input", tmp_path / "no-target",
               **{"data.folder.test_files": ["coffee.jpg", "IMG_0001.jpg"]})
    raw = prepare_raw(cfg, progress=False, log=lambda m: None).set_index("name")
    assert raw.loc["folder/coffee", "split"] == raw.loc["folder/IMG_0001", "split"] == "test"
    assert not raw.index.str.startswith("folder-pairs/").any()


def test_images_no_patch_fits_or_a_set_left_empty_stop_synthesis_naming_them(tmp_path, folders):
    """Synthesis is the first stage that knows crop.patch: it names a photo too small for it (crop used to blame
    crop.patch for an empty test set), and a set whose images were all skipped (data.skip_bad)."""
    clean = folders[0]
    Image.fromarray(np.full((40, 50, 3), 90, np.uint8)).save(clean / "tiny.png")

    def run(test_files, **over):
        cfg = _cfg(tmp_path, clean, tmp_path / "no-input", tmp_path / "no-target", **{
            "data.folder.test_files": test_files, "synthesis.didhy": False, "synthesis.single": False, **over})
        prepare_raw(cfg, progress=False, log=lambda m: None)
        synthesize(cfg, progress=False, log=lambda m: None)

    with pytest.raises(config.ConfigError, match=r"crop.patch: 63 leaves set 'test_mild' without a single patch \(every "
                                                 r"image is smaller, e.g. .*raw/folder/clean/tiny.png: 50x40 after"):
        run(["tiny.png"])
    with pytest.raises(ValueError, match=r"folder/tiny: .*raw/folder/clean/tiny.png: 50x40 after base_scale=1.0 is "
                                         r"smaller than crop.patch=63 \(data.skip_bad: true skips"):
        run(["tiny.png", "coffee.jpg"])
    assert not (tmp_path / "data" / "synth").exists()
    whole = (tmp_path / "whole.png")
    Image.fromarray((np.random.default_rng(0).random((90, 90, 3)) * 255).astype(np.uint8)).save(whole)
    (clean / "cut.png").write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])  # header fine, pixels cut
    with pytest.raises(ValueError, match=r"synthesize: set 'test_mild' has no samples: its 1 image\(s\) were all "
                                         r"skipped, e.g. folder/cut \(corrupt"):
        run(["cut.png"], **{"data.skip_bad": True})


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


def test_optional_folders_may_be_missing_and_a_changed_photo_reruns_the_download_stage(tmp_path, folders):
    """The project's photos and download stages (as dvc.yaml writes them) in a scratch DVC project without a
    photos/ folder: the embedded source runs; the folder source runs without its pairs folders; a retouched photo
    re-runs the download stage, an untouched folder does not."""
    clean = folders[0]
    work = tmp_path / "project"
    work.mkdir()
    for part in ("fdr", "stages"):
        shutil.copytree(REPO / part, work / part, ignore=shutil.ignore_patterns("__pycache__"))
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    (work / "dvc.yaml").write_text(yaml.safe_dump({"stages": {k: stages[k] for k in ("photos", "download")}}))
    env = subprocess_env()
    env["PYTHONPATH"] = str(work)

    def dvc(*args) -> str:
        done = subprocess.run(["dvc", *args], cwd=work, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def params(**data) -> None:
        (work / "params.yaml").write_text(yaml.safe_dump({"seed": 0, "data": {"test_count": 2, **data}}))

    dvc("init", "--no-scm", "-q")
    params(source="embedded")  # photos/ (clean, pairs) does not exist at all
    dvc("repro", "-q", "download")
    params(source="folder", folder={"clean": str(clean), "pairs": {"input": "mine/in", "target": "mine/gt"}})
    dvc("repro", "-q", "download")
    assert dvc("status").split() == ["photos:", "always", "changed"]  # the list is made again; download is current
    assert "Stage 'download' didn't change" in dvc("repro", "download")
    arr = np.asarray(Image.open(clean / "chelsea.png")).copy()
    arr[0, 0] ^= 1
    Image.fromarray(arr).save(clean / "chelsea.png")  # retouched: one pixel
    assert "Running stage 'download'" in dvc("repro", "download")
    raw = pd.read_csv(work / "data" / "raw" / "manifest.csv").set_index("name")
    assert raw.loc["folder/chelsea", "sha256"] == _sha(clean / "chelsea.png")


def test_a_user_folder_inside_what_the_pipeline_writes_is_refused_before_anything_is_touched(tmp_path, folders):
    """data/raw is replaced whole by the download stage: a folder of the user's there is refused, files kept."""
    mine = tmp_path / "data" / "raw" / "mine"
    shutil.copytree(folders[0], mine)
    (mine / "notes.txt").write_text("not an image, nowhere else")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"data": {"source": "folder", "folder": {"clean": str(mine)}}}))
    done = subprocess.run([sys.executable, "-m", "stages.download"], cwd=tmp_path, env=subprocess_env(),
                          capture_output=True, text=True)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert re.search(r"download: error: data.folder.clean: .*data/raw/mine overlaps .*data/raw, which the pipeline "
                     r"writes", done.stderr), done.stderr
    assert (mine / "notes.txt").read_text() == "not an image, nowhere else"
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["raw"]
