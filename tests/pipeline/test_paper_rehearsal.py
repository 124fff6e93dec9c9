"""The paper profile rehearsed offline, end to end: archives in the released layouts (DIV2K HR, the RL-Restore test
sets, GoPro, DID-MDN) served by a local HTTP server, ``profiles/paper.yaml`` applied, and ``dvc repro`` through
every stage to the report. Only counts are shrunk: images per archive, one training iteration per run, patches
per evaluated set; the model (1.67M parameters), the 63 x 63 patches and the batch of 28 are the paper's."""
from __future__ import annotations

import io
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skimage.data
import yaml
from PIL import Image

from fdr.commands.profile import load_profile
from fdr.config import (
    ModelConfig,
    SynthConfig,
    _set_dotted,  # the same dotted keys (and ~deletions) as DVC's -S
)
from fdr.data import degrade, rain_motion
from fdr.models import build, count_parameters
from tests.helpers import (
    REPO,
    folder_handler,
    http_server,
    png_bytes,
    subprocess_env,
    zip_archive,
)

PHOTOS = (skimage.data.astronaut, skimage.data.coffee, skimage.data.chelsea, skimage.data.rocket,
          lambda: skimage.data.stereo_motorcycle()[0])


# One run per kind: each architecture (FDR-Net at the paper's size, DnCNN, OWAN), each track, each kind of
# ablation switch (a model key, a training key, a seed) and one sweep of each kind. The rest of the paper's run
# table repeats these code paths at 4 to 60 s more each on 2 CPU cores (the whole table: 13 minutes).
REHEARSED = {"fdrnet", "dncnn", "owan", "didhy_fdrnet", "deblur_fdrnet", "derain_fdrnet", "nofdm", "beta0", "seed1"}


def _crop(k: int, h: int, w: int) -> np.ndarray:
    """Photo ``k`` resized to ``h`` x ``w``."""
    return np.asarray(Image.fromarray(PHOTOS[k % len(PHOTOS)]()).resize((w, h), Image.BICUBIC))


def build_archives(folder: Path) -> dict[str, Path]:
    """Small archives in each data set's released layout, from photos that ship with scikit-image; each training
    set yields at least one batch of 28 patches."""
    rng = np.random.default_rng(0)
    div2k = {f"DIV2K_train_HR/{i:04d}.png": png_bytes(_crop(i, 400, 400)) for i in (1, 2, 3, 4)}
    tests = {}
    for level in ("mild", "moderate", "severe"):
        for k in range(3):
            gt = _crop(k + 1, 63, 63)
            p = degrade.draw_params(level, rng, SynthConfig())
            inp = degrade.distort_planar(np.ascontiguousarray(gt.transpose(2, 0, 1)), p, rng, SynthConfig())
            tests[f"testsets/{level}_in/{k}_in.png"] = png_bytes(inp)
            tests[f"testsets/{level}_gt/{k}_gt.png"] = png_bytes(gt)
    gopro, did = {}, {}
    for split, seq, k in (("train", "GOPR0372_07_00", 0), ("test", "GOPR0384_11_00", 3)):
        sharp = _crop(k, 300, 400)
        blur = (rain_motion.motion_blur(sharp / 255.0, rain_motion.draw_motion(rng)) * 255).round().astype(np.uint8)
        gopro[f"GOPRO_Large/{split}/{seq}/blur/000001.png"] = png_bytes(blur)
        gopro[f"GOPRO_Large/{split}/{seq}/sharp/000001.png"] = png_bytes(sharp)
    for name, k in (("DID-MDN-training/Rain_Medium/train2018new/1.jpg", 1),
                    ("DID-MDN-datasets/DID-MDN-test/1.jpg", 4)):
        clean = _crop(k, 400, 400)
        rain = (rain_motion.add_rain(clean / 255.0, rain_motion.draw_rain(rng), rng) * 255).round().astype(np.uint8)
        buf = io.BytesIO()
        Image.fromarray(np.concatenate([rain, clean], axis=1)).save(buf, format="JPEG", quality=95)
        did[name] = buf.getvalue()
    return {"div2k_train": zip_archive(folder / "DIV2K_train_HR.zip", div2k),
            "rl_restore_testsets": zip_archive(folder / "testsets.zip", tests),
            "gopro": zip_archive(folder / "GOPRO_Large.zip", gopro), "did_mdn": zip_archive(folder / "DID-MDN.zip", did)}


@pytest.fixture()
def served(tmp_path):
    folder = tmp_path / "www"
    folder.mkdir()
    archives = build_archives(folder)
    with http_server(folder_handler(folder)) as base:
        yield base, archives


def rehearsal_params(base: str, archives: dict[str, Path]) -> dict:
    """params.yaml + profiles/paper.yaml + the archives' URLs and pinned sizes + the shrunk counts."""
    tree = yaml.safe_load((REPO / "params.yaml").read_text())
    for key, value in load_profile("paper", REPO / "profiles").items():
        _set_dotted(tree, key, value)
    for key, path in archives.items():
        _set_dotted(tree, f"data.{key}", {"url": f"{base}/{path.name}", "size": path.stat().st_size, "sha256": None})
    shrink = {"data.div2k_train_images": 3, "train.iterations": 1, "train.checkpoint_every": 1,
              "train.log_every": 1, "train.val_every": 1, "train.val_patches": 28, "crop.max_test_patches": 28,
              "evaluate.max_patches": 28, "analysis.patches": 6, "analysis.response_patches": 2}
    for key, value in shrink.items():
        _set_dotted(tree, key, value)
    tree["runs"] = {run: row for run, row in tree["runs"].items() if run in REHEARSED}
    for row in tree["runs"].values():
        row.setdefault("training", {})["iterations"] = 1
    tree["evaluate"]["whole"]["runs"] = [r for r in tree["evaluate"]["whole"]["runs"] if r in REHEARSED]
    tree["ablations"].update(flayers=[1], channels=[16])
    return tree


@pytest.mark.slow
def test_paper_profile_runs_every_stage_to_the_report_offline(tmp_path, served):
    base, archives = served
    work = tmp_path / "project"
    work.mkdir()
    for part in ("fdr", "stages", "profiles", "photos"):
        shutil.copytree(REPO / part, work / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "reports" / "paper", work / "reports" / "paper")
    shutil.copy(REPO / "reports" / "choices.md", work / "reports" / "choices.md")
    shutil.copy(REPO / "dvc.yaml", work / "dvc.yaml")
    (work / "params.yaml").write_text(yaml.safe_dump(rehearsal_params(base, archives), sort_keys=False))
    env = subprocess_env(threads=2)
    env["PYTHONPATH"] = str(work)
    subprocess.run(["dvc", "init", "--no-scm", "-q"], cwd=work, check=True, env=env)
    done = subprocess.run(["dvc", "repro"], cwd=work, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    # the paper's data layout went through: DIV2K images, the released test patches, GoPro and DID-MDN pairs
    raw = pd.read_csv(work / "data" / "raw" / "manifest.csv")
    assert set(raw["dataset"]) == {"div2k", "rl-restore", "gopro", "did-mdn"}
    archives_json = json.loads((work / "data" / "raw" / "archives.json").read_text())
    assert {a["key"] for a in archives_json} == set(archives) and all(len(a["sha256"]) == 64 for a in archives_json)
    patches = np.load(work / "data" / "patches" / "train" / "input.npy", mmap_mode="r")
    assert patches.shape[1:] == (63, 63, 3)
    synth = pd.read_csv(work / "data" / "synth" / "test_mild" / "manifest.csv")
    assert set(synth["track"]) == {"released"}
    # the paper's model and batch
    summary = json.loads((work / "models" / "fdrnet" / "summary.json").read_text())
    paper_cfg = ModelConfig(channels=32, n_flayers=3, phases=7, pm_blocks=2, aux_blocks=3)
    assert summary["params"] == count_parameters(build("fdrnet", paper_cfg)) and abs(summary["params"] - 1.67e6) < 0.02e6
    assert summary["batch_size"] == 28 and summary["iterations"] == 1
    # the report: every table has our numbers, marked with the paper's data sources
    report = (work / "reports" / "report.md").read_text()
    assert "| data source | `div2k` |" in report
    for table, what in (("## Table 1", "DIV2K, RL-Restore protocol"), ("## Table 3", "GoPro"),
                        ("## Table 4", "DID-MDN"), ("## Table 2", "DID-HY (built from DID-MDN)"),
                        ("## Table 5", "DID-HY (built from DID-MDN)")):
        block = report[report.index(table):report.index("\n## ", report.index(table) + 1)]
        assert f"Same kind of data as the paper ({what})" in block, table
        ours = [line for line in block.splitlines() if "FDR-Net (Ours)" in line or "`nofdm`" in line]
        assert ours and all("not run" not in line for line in ours), table
    table2 = report[report.index("## Table 2"):report.index("## Table 3")]
    assert "Ours on whole test images" in table2 and "DID-HY per 63x63 patch (ours)" in table2
    whole = json.loads((work / "reports" / "metrics" / "whole" / "didhy_fdrnet.json").read_text())
    assert whole["didhy"]["images"] == 1  # the rehearsal archive's one DID-MDN test image, scored whole
    table1 = report[report.index("## Table 1"):report.index("## Table 2")]
    assert "not run" not in table1  # FDR-Net, DnCNN and OWAN all rehearsed
    metrics = json.loads((work / "reports" / "metrics" / "analysis.json").read_text())
    assert "models" in metrics["disentanglement"]
