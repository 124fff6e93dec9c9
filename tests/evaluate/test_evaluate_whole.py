"""Whole-image evaluation (Table 2 as the paper scores DID-HY): one forward pass per image, scores of the whole
image, and Table 2 of the report reading them with the per-patch scores beside."""
import json

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from PIL import Image

from fdr import config
from fdr.config import ConfigError
from fdr.evaluate.whole import evaluate_images, image_pairs
from fdr.report import document as report
from stages.evaluate_whole import main as whole_main
from tests.helpers import metrics_for, tiny_checkpoint, write_workspace


def _psnr(out: np.ndarray, gt: np.ndarray) -> float:
    """PSNR of two images in [0, 1], restated: 10 log10(1 / MSE) over every pixel and channel."""
    return float(10 * np.log10(1.0 / np.mean((out.astype(np.float64) - gt) ** 2)))


def write_track(root, track="didhy", sizes=((48, 64), (40, 40), (56, 72)), seed=0):
    """``root/synth/<track>_test``: one pair per size (input = target + noise) and its manifest."""
    folder = root / "synth" / f"{track}_test"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    rows = []
    for k, (h, w) in enumerate(sizes):
        gt = rng.integers(40, 216, (h, w, 3), dtype=np.uint8)
        inp = np.clip(gt + rng.normal(0, 12, gt.shape), 0, 255).astype(np.uint8)
        for name, arr in (("in", inp), ("gt", gt)):
            Image.fromarray(arr).save(folder / f"{k:05d}_{name}.png")
        rows.append({"set": f"{track}_test", "input": f"synth/{track}_test/{k:05d}_in.png",
                     "target": f"synth/{track}_test/{k:05d}_gt.png"})
    pd.DataFrame(rows).to_csv(folder / "manifest.csv", index=False)
    return folder


class GlobalMean(torch.nn.Module):
    """Output = input - its image-wide mean + 0.5: a result that depends on every pixel of the image, as channel
    attention does; scoring patches or tiles instead of the whole image changes it."""

    def forward(self, x):
        return x - x.mean(dim=(1, 2, 3), keepdim=True) + 0.5


def _read(path) -> np.ndarray:
    return np.asarray(Image.open(path), dtype=np.float64) / 255.0


def test_each_image_is_scored_whole_in_one_pass(tmp_path):
    write_track(tmp_path)
    pairs = image_pairs(tmp_path, "didhy")
    means, per = evaluate_images(GlobalMean(), pairs)
    expect = []
    for inp, gt, *_ in pairs:
        x = _read(inp)
        expect.append(_psnr(np.clip(x - x.mean() + 0.5, 0, 1), _read(gt)))
    assert means["images"] == 3 and "patches" not in means
    np.testing.assert_allclose(per["psnr"], expect, rtol=0, atol=1e-4)
    assert means["psnr"] == pytest.approx(np.mean(expect), abs=1e-4)
    # the input row: the distorted image itself against its target
    means, per = evaluate_images(None, pairs)
    np.testing.assert_allclose(per["psnr"], [_psnr(_read(i), _read(g)) for i, g, *_ in pairs], rtol=0, atol=1e-5)


def test_a_pair_kept_side_by_side_in_one_file_is_cut_by_its_boxes(tmp_path):
    """DID-MDN keeps the rainy and the clean image side by side in one file; the manifest names the halves by their
    boxes. Scoring the whole file against itself would give 100 dB for the input and score a model on both halves."""
    folder = tmp_path / "synth" / "derain_test"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(3)
    gt = rng.integers(40, 216, (36, 40, 3), dtype=np.uint8)
    rain = np.clip(gt + rng.normal(0, 20, gt.shape), 0, 255).astype(np.uint8)
    Image.fromarray(np.concatenate([rain, gt], axis=1)).save(folder / "1.png")
    path = "synth/derain_test/1.png"
    pd.DataFrame([{"set": "derain_test", "input": path, "target": path, "input_box": "0 0 40 36",
                   "target_box": "40 0 80 36"}]).to_csv(folder / "manifest.csv", index=False)
    pairs = image_pairs(tmp_path, "derain")
    means, _ = evaluate_images(None, pairs)
    assert means["psnr"] == pytest.approx(_psnr(rain / 255.0, gt / 255.0), abs=1e-4) and means["psnr"] < 40
    means, _ = evaluate_images(GlobalMean(), pairs)
    x = rain / 255.0
    assert means["psnr"] == pytest.approx(_psnr(np.clip(x - x.mean() + 0.5, 0, 1), gt / 255.0), abs=1e-4)


def test_an_evenly_spaced_subset_and_clear_errors(tmp_path):
    write_track(tmp_path, sizes=((32, 32),) * 5)
    names = [p[0].name for p in image_pairs(tmp_path, "didhy", max_images=3)]
    assert names == ["00000_in.png", "00002_in.png", "00004_in.png"]
    assert len(image_pairs(tmp_path, "didhy", max_images=0)) == 5
    with pytest.raises(FileNotFoundError, match="derain_test/manifest.csv: missing"):
        image_pairs(tmp_path, "derain")
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(tmp_path / "synth" / "didhy_test" / "00001_gt.png")
    with pytest.raises(ValueError, match="00001_in.png: 32x32 pixels, its target .*16x16"):
        evaluate_images(None, image_pairs(tmp_path, "didhy"))


def _params(tmp_path, runs, whole_runs, images=2):
    tree = {"data": {"root": str(tmp_path / "data")}, "train": {"device": "cpu"},
            "model": {"channels": 4, "n_flayers": 1, "phases": 1, "pm_blocks": 1, "aux_blocks": 1, "ca_reduction": 4},
            "runs": runs, "ablations": {"reference": "didhy_fdrnet"},
            "evaluate": {"whole": {"runs": whole_runs, "images": images}}}
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(tree))
    return path


RUNS = {"fdrnet": {"model": "model", "train": "train", "val": "test_moderate"},
        "didhy_fdrnet": {"model": "model", "train": "didhy_train", "val": "didhy_test"}}


def test_stage_scores_a_trained_run_and_the_input_on_their_track(tmp_path):
    write_track(tmp_path / "data", sizes=((40, 48), (36, 36), (44, 40)))
    params = _params(tmp_path, RUNS, ["didhy_fdrnet"])
    net = tiny_checkpoint(tmp_path / "models" / "didhy_fdrnet" / "checkpoint.pt", channels=4, n_flayers=1,
                          phases=1, pm_blocks=1, aux_blocks=1, ca_reduction=4)
    out, per = tmp_path / "whole", tmp_path / "per_image"
    for run in ("didhy_fdrnet", "input"):
        assert whole_main([run, "--params", str(params), "--models", str(tmp_path / "models"), "--out", str(out),
                           "--per-image", str(per), "--no-progress"]) == 0
    got = json.loads((out / "didhy_fdrnet.json").read_text())["didhy"]
    pairs = image_pairs(tmp_path / "data", "didhy", 2)  # images: 2 of 3 -> the first and the last
    expect = []
    with torch.no_grad():
        for inp, gt, *_ in pairs:
            x = torch.from_numpy(_read(inp)).permute(2, 0, 1)[None].float()
            y = net.eval()(x)[0].clamp(0, 1).permute(1, 2, 0).double().numpy()
            expect.append(_psnr(y, _read(gt)))
    assert got["images"] == 2 and got["psnr"] == pytest.approx(np.mean(expect), abs=1e-3)
    with np.load(per / "input.npz") as z:
        assert z["didhy/psnr"].shape == (2,)
    # a run that is not scored on a track's whole images is refused when the parameters are read
    with pytest.raises(ConfigError, match=r"evaluate.whole.runs\[0\]: expected a row of runs trained on a track"):
        config.load(_params(tmp_path, RUNS, ["fdrnet"]))


def test_table_2_reads_the_whole_images_and_keeps_the_patches_beside(tmp_path):
    runs = {r: metrics_for(b, ("didhy",)) for r, b in (("didhy_fdrnet", 25.0), ("didhy_dncnn", 23.0),
                                                          ("input", 20.0))}
    write_workspace(tmp_path, runs)
    whole = {"didhy_fdrnet": 27.0, "didhy_dncnn": 24.5, "input": 21.5}
    folder, per_image = tmp_path / "reports" / "metrics" / "whole", tmp_path / "reports" / "per_image"
    folder.mkdir()
    per_image.mkdir()
    for k, (run, psnr) in enumerate(whole.items()):
        (folder / f"{run}.json").write_text(json.dumps({"didhy": {"psnr": psnr, "ssim": 0.6, "images": 4}}))
        values = np.random.default_rng(k).normal(0, 0.1, 4)
        np.savez(per_image / f"{run}.npz", **{"didhy/psnr": psnr + values - values.mean(), "didhy/ssim": np.full(4, 0.6)})
    text = report.render(report.collect(tmp_path, count_paper_params=False))
    t2 = text[text.index("## Table 2"):text.index("## Table 3")]
    fdr_row = next(line for line in t2.splitlines() if line.startswith("| FDR-Net (Ours)"))
    assert "24.97 / 27.00 (+2.03)" in fdr_row and fdr_row.endswith("| 26.00 | 0.5100 |")  # per patch beside
    assert "Ours on whole test images" in t2 and "(4 images" in t2
    effects = text[text.index("## Effects with intervals"):]
    assert "| `didhy_fdrnet` − `didhy_dncnn` | didhy_image | +2.50 |" in effects
    assert "| `didhy_fdrnet` − `didhy_dncnn` | didhy | +2.00 |" in effects
    # no seed replicas have numbers here: a single-run difference is stated with its interval over images, no sign
    assert "over the distorted input (one run each" in text and "within-run 95% interval over 4 images" in text
    assert ": not replicated." in text


TRACK_RUNS = {**RUNS, "deblur_fdrnet": {"model": "model", "train": "deblur_train", "val": "deblur_test"},
              "derain_fdrnet": {"model": "model", "train": "derain_train", "val": "derain_test"}}


def test_tables_3_and_4_images_are_scored_with_the_cited_conventions_beside_owans(tmp_path):
    from fdr.evaluate import metrics

    for k, track in enumerate(("didhy", "deblur", "derain")):
        write_track(tmp_path / "data", track, sizes=((40, 48), (36, 36)), seed=k)
    params = _params(tmp_path, TRACK_RUNS, ["didhy_fdrnet", "deblur_fdrnet", "derain_fdrnet"], images=0)
    out = tmp_path / "whole"
    assert whole_main(["input", "--params", str(params), "--out", str(out), "--per-image", str(tmp_path / "pi"),
                       "--no-progress"]) == 0
    got = json.loads((out / "input.json").read_text())
    assert list(got["didhy"]) == ["psnr", "ssim", "psnr_y", "ssim_y", "images"]  # OWAN's protocol only
    for track, names in (("deblur", ("psnr_srn", "ssim_srn")), ("derain", ("psnr_spanet", "ssim_spanet"))):
        pairs = image_pairs(tmp_path / "data", track)
        for name in names + ("psnr", "ssim"):
            fn = getattr(metrics, name)
            want = np.mean([fn(_read(i), _read(g)) for i, g, *_ in pairs])
            assert got[track][name] == pytest.approx(want, abs=1e-6), (track, name)


def test_table_6_sweep_runs_may_be_scored_whole_and_unknown_runs_are_refused(tmp_path):
    tree = {"runs": RUNS, "ablations": {"reference": "didhy_fdrnet", "flayers": [1], "channels": [8]},
            "evaluate": {"whole": {"runs": ["didhy_fdrnet", "fl1", "ch8"]}}}
    assert list(config.from_dict(tree).evaluate.whole.runs) == ["didhy_fdrnet", "fl1", "ch8"]
    tree["evaluate"]["whole"]["runs"] = ["fl2"]  # not a sweep of ablations.flayers
    with pytest.raises(ConfigError, match=r"evaluate.whole.runs\[0\]"):
        config.from_dict(tree)


def _whole_files(root, scores: dict, images: int = 4) -> None:
    """reports/metrics/whole/<run>.json and reports/per_image/<run>.npz from ``{run: {track: {metric: value}}}``."""
    folder, per_image = root / "reports" / "metrics" / "whole", root / "reports" / "per_image"
    folder.mkdir(exist_ok=True)
    per_image.mkdir(exist_ok=True)
    for k, (run, tracks) in enumerate(scores.items()):
        (folder / f"{run}.json").write_text(json.dumps({t: {**m, "images": images} for t, m in tracks.items()}))
        values = {}
        for t, m in tracks.items():
            noise = np.random.default_rng(k).normal(0, 0.1, images)
            values[f"{t}/psnr"], values[f"{t}/ssim"] = m["psnr"] + noise - noise.mean(), np.full(images, m["ssim"])
        np.savez(per_image / f"{run}.npz", **values)


def test_tables_3_to_6_read_whole_images_with_their_conventions(tmp_path):
    runs = {"deblur_fdrnet": metrics_for(30.0, ("deblur",)), "derain_fdrnet": metrics_for(31.0, ("derain",)),
            "didhy_fdrnet": metrics_for(25.0, ("didhy",)), "fdrnet_ref": metrics_for(24.0, ("didhy",)),
            "nofdm": metrics_for(23.0, ("didhy",)), "beta0": metrics_for(24.2, ("didhy",)),
            "input": metrics_for(20.0, ("deblur", "derain", "didhy"))}
    write_workspace(tmp_path, runs)
    srn = {"psnr": 29.5, "ssim": 0.80, "psnr_srn": 29.4, "ssim_srn": 0.93}
    spanet = {"psnr": 32.0, "ssim": 0.90, "psnr_spanet": 32.0, "ssim_spanet": 0.95}
    _whole_files(tmp_path, {"deblur_fdrnet": {"deblur": srn}, "derain_fdrnet": {"derain": spanet},
                            "fdrnet_ref": {"didhy": {"psnr": 24.5, "ssim": 0.6}},
                            "nofdm": {"didhy": {"psnr": 22.0, "ssim": 0.55}}})
    data = report.collect(tmp_path, count_paper_params=False)
    text = report.render(data)
    t3 = text[text.index("## Table 3"):text.index("## Table 4")]
    row = next(line for line in t3.splitlines() if line.startswith("| FDR-Net (Ours)"))
    assert "30.55 / 29.40 (-1.15)" in row and "0.9380 / 0.9300" in row  # SRN's metrics on whole images
    assert row.endswith("| 29.50 | 0.8000 | 31.00 | 0.5100 |")  # OWAN's whole, then OWAN's per patch, beside
    assert "SRN's convention" in t3 and "whole images, OWAN's metrics (ours) PSNR" in t3
    t4 = text[text.index("## Table 4"):text.index("## Table 5")]
    assert "32.96 / 32.00 (-0.96)" in t4 and "0.9510 / 0.9500" in t4 and "SPANet's convention" in t4
    t5 = text[text.index("## Table 5"):text.index("## Table 6")]
    nofdm = next(line for line in t5.splitlines() if "`nofdm`" in line)
    assert "23.91 / 22.00" in nofdm and "-1.06 / -2.50" in nofdm  # whole images, effect vs the whole reference
    assert "Whole image minus per patch" in t5 and "(`nofdm`) -2.00 dB" in t5  # 22.0 whole, 24.0 per patch
    ablation = next(e for e in data.effects if e.a == "nofdm")
    assert ablation.set == "didhy_image" and ablation.patches == 4
    control = next(e for e in data.effects if e.a == "beta0")  # not scored whole: compared on the patches
    assert control.set == "didhy" and control.patches == 10


def test_the_report_reads_exactly_the_metrics_the_cited_conventions_write():
    from fdr.evaluate.metrics import CONVENTIONS, TRACK_CONVENTION
    from fdr.report.comparison import CITED_CONVENTION, METRIC_KEYS, WHOLE_SETS
    from fdr.report.paper import PAPER_DATA

    for table, convention in CITED_CONVENTION.items():
        track = next(iter(WHOLE_SETS[table]))
        assert TRACK_CONVENTION[track] == convention, table
        assert set(CONVENTIONS[convention]) == {f"psnr_{convention}", f"ssim_{convention}"} <= set(METRIC_KEYS)
    assert {t for t in WHOLE_SETS} == {"table2", "table3", "table4", "table5", "table6"} <= set(PAPER_DATA)
