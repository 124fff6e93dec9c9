"""The paper's data, or a refusal: the download stage refuses a configuration on DIV2K without the paper's other data
sets unless they are substituted on purpose; DID-MDN is split by its archive's folders into the paper's 1,200 test
pairs; paired archives are counted; the test-set subset is per track (none for Table 1)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fdr import config
from fdr.config import datasets
from fdr.data.patches import crop
from fdr.data.sources import list_did_mdn, prepare_raw
from tests.helpers import REPO, RUNS, png_bytes, zip_archive


def _rgb(h, w, seed=0):
    return (np.random.default_rng(seed).random((h, w, 3)) * 255).astype(np.uint8)


def _div2k(tmp_path):
    return zip_archive(tmp_path / "DIV2K_train_HR.zip",
                       {f"DIV2K_train_HR/{i:04d}.png": png_bytes(_rgb(70, 70, i)) for i in (1, 2)})


def _paper_cfg(tmp_path, runs=("fdrnet", "didhy_fdrnet", "deblur_fdrnet", "derain_fdrnet"), **over):
    """DIV2K (a local two-image archive) with rows of the repository's run table: on the paper's images."""
    return config.from_dict({"runs": {r: RUNS[r] for r in runs}}, overrides={
        "data.root": str(tmp_path / "data"), "data.source": "div2k", "data.div2k_train.url": str(_div2k(tmp_path)),
        "data.div2k_train_images": 1, **over})


def test_download_refuses_div2k_without_the_papers_data_sets_naming_each_key(tmp_path):
    cfg = _paper_cfg(tmp_path)
    assert datasets.missing(cfg) == {"rl-restore": ["fdrnet"], "did-mdn": ["didhy_fdrnet", "derain_fdrnet"],
                                     "gopro": ["deblur_fdrnet"]}
    with pytest.raises(config.ConfigError) as err:
        prepare_raw(cfg, progress=False, log=lambda m: None)
    for key in ("data.rl_restore_testsets.url", "data.did_mdn.url", "data.gopro.url",
                "data.substitutes: [rl-restore, did-mdn, gopro]", "DID-MDN-test, 1,200"):
        assert key in str(err.value)
    assert not (tmp_path / "data" / "downloads").exists()  # refused before the first download


def test_named_substitutes_are_accepted_and_only_the_tables_runs_count(tmp_path):
    cfg = _paper_cfg(tmp_path, **{"data.substitutes": ["rl-restore", "did-mdn", "gopro"]})
    raw = prepare_raw(cfg, progress=False, log=lambda m: None)
    assert set(raw["dataset"]) == {"div2k"}
    only_table1 = _paper_cfg(tmp_path, runs=("fdrnet",), **{"data.substitutes": ["rl-restore"]})
    assert datasets.missing(only_table1) == {}
    embedded = config.from_dict({"runs": RUNS})
    assert datasets.required(embedded) == {}  # own images: the report says they are not comparable
    with pytest.raises(config.ConfigError, match="data.substitutes.*gopro is given by data.gopro.url"):
        _paper_cfg(tmp_path, **{"data.substitutes": ["gopro"], "data.gopro.url": "g.zip"})


def test_did_mdn_is_split_by_its_folders_into_the_papers_test_set(tmp_path):
    """DID-MDN-test (1,200 pairs) is the paper's test set; the archive's testing_fu (1,000 pairs of another data
    set) has "test" in its name too and must not join it."""
    root = tmp_path / "DID-MDN-datasets"
    for rel in ("DID-MDN-training/Rain_Heavy/train2018new/1.jpg", "DID-MDN-training/Rain_Light/train2018new/1.jpg",
                "DID-MDN-test/1.jpg", "DID-MDN-test/2.jpg", "testing_fu/1.jpg", "testing_fu/2.jpg"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(png_bytes(_rgb(8, 16)))
    logged = []
    rows = list_did_mdn(tmp_path, config.from_dict({}).data, logged.append)
    splits = {r["name"]: r["split"] for r in rows}
    assert splits == {"did-mdn/DID-MDN-datasets/DID-MDN-training/Rain_Heavy/train2018new/1": "train",
                      "did-mdn/DID-MDN-datasets/DID-MDN-training/Rain_Light/train2018new/1": "train",
                      "did-mdn/DID-MDN-datasets/DID-MDN-test/1": "test", "did-mdn/DID-MDN-datasets/DID-MDN-test/2": "test"}
    assert any("2 images outside" in m for m in logged)


def test_paired_archives_the_paper_needs_are_counted(tmp_path):
    pair = png_bytes(np.concatenate([_rgb(70, 70, 1), _rgb(70, 70, 2)], axis=1))
    did = zip_archive(tmp_path / "DID-MDN.zip", {"DID-MDN-datasets/DID-MDN-training/Rain_Heavy/train2018new/1.jpg": pair,
                                                 "DID-MDN-datasets/DID-MDN-test/1.jpg": pair})
    over = {"data.did_mdn.url": str(did), "data.substitutes": ["rl-restore", "gopro"]}
    with pytest.raises(ValueError, match=r"data.did_mdn: .*DID-MDN.zip holds 1 train pairs where the paper has "
                                         r"12,000 \(data.did_mdn_pairs.train\)"):
        prepare_raw(_paper_cfg(tmp_path, **over), progress=False, log=lambda m: None)
    raw = prepare_raw(_paper_cfg(tmp_path, **over, **{"data.did_mdn_pairs.train": 1, "data.did_mdn_pairs.test": 1}),
                      progress=False, log=lambda m: None)
    assert sorted(raw[raw["dataset"] == "did-mdn"]["split"]) == ["test", "train"]


def _synth_set(root, name, size, n):
    """``n`` synthesized samples of ``size`` x ``size`` pixels in ``<root>/synth/<name>``."""
    folder = root / "synth" / name
    folder.mkdir(parents=True)
    rows = []
    for i in range(n):
        (folder / f"{i}_in.png").write_bytes(png_bytes(_rgb(size, size, i)))
        (folder / f"{i}_gt.png").write_bytes(png_bytes(_rgb(size, size, 50 + i)))
        rows.append({"set": name, "sample": i, "input": f"synth/{name}/{i}_in.png", "target": f"synth/{name}/{i}_gt.png",
                     "input_box": "", "target_box": "", "height": size, "width": size})
    pd.DataFrame(rows).to_csv(folder / "manifest.csv", index=False)


def test_the_test_subset_is_per_track_and_table1_keeps_every_patch(tmp_path):
    root = tmp_path / "data"
    for name in ("test_mild", "didhy_test", "deblur_test"):
        _synth_set(root, name, 126, 2)  # 2 x 2 x 2 = 8 patches of 63 x 63 at stride 56
    cfg = config.from_dict({}, overrides={"data.root": str(root), "crop.max_test_patches.hybrid": 0,
                                          "crop.max_test_patches.didhy": 3, "crop.max_test_patches.deblur": 5})
    summary = crop(cfg, log=lambda m: None)
    assert {k: v["patches"] for k, v in summary.items()} == {"test_mild": 8, "didhy_test": 3, "deblur_test": 5}
    committed = config.load(REPO / "params.yaml").crop.max_test_patches
    assert committed.of("test_severe") == 0 and committed.of("didhy_test") == 1000  # the cut the report names
