"""``python -m fdr profile paper``: the refusal without the paper's data, substitutes, opt-in groups, the cost. The
printed arguments are applied with DVC's own ``-S`` code, so what is checked is what ``dvc exp run`` would run."""
from __future__ import annotations

import shutil

import pytest
import yaml
from dvc.utils.hydra import apply_overrides

from fdr import config
from fdr.cli import main as cli_main
from fdr.commands.profile import REFUSED, load_profile, read_profile, set_args
from tests.helpers import REPO

ARCHIVES = ["-S", "data.rl_restore_testsets.url=/data/testsets.zip", "-S", "data.did_mdn.url=/data/DID-MDN.zip",
            "-S", "data.gopro.url=https://example.org/GOPRO_Large.zip"]
LEFT_OUT = {"dncnn", "owan", "beta0", "seed1", "seed2"}


def _profile(capsys, monkeypatch, *argv) -> tuple[int, str, str]:
    monkeypatch.chdir(REPO)
    rc = cli_main(["profile", "paper", *argv])
    out = capsys.readouterr()
    return rc, out.out.strip(), out.err


def _as_dvc_runs_it(tmp_path, printed: str) -> config.Config:
    """params.yaml with the printed ``-S`` arguments applied by DVC's ``exp run -S`` code."""
    params = tmp_path / "params.yaml"
    shutil.copy(REPO / "params.yaml", params)
    words = printed.split()
    apply_overrides(params, [w for w in words[1::2]])
    assert words[::2] == ["-S"] * (len(words) // 2)
    return config.load(params)


def test_the_paper_profile_refuses_without_the_papers_data_and_dvc_would_not_start(capsys, monkeypatch):
    rc, out, err = _profile(capsys, monkeypatch)
    assert rc == 2 and out == REFUSED  # `dvc exp run $(...)` gets an option it rejects: nothing runs
    for key in ("data.rl_restore_testsets.url", "data.did_mdn.url", "data.gopro.url", "data.substitutes"):
        assert key in err


def test_with_the_archives_the_profile_prints_what_dvc_needs_and_tests_on_every_patch(capsys, monkeypatch, tmp_path):
    rc, out, _ = _profile(capsys, monkeypatch, *ARCHIVES)
    assert rc == 0
    cfg = _as_dvc_runs_it(tmp_path, out)
    assert cfg.data.did_mdn.url == "/data/DID-MDN.zip" and cfg.data.gopro.url.startswith("https://")
    assert cfg.crop.max_test_patches.hybrid == 0 and cfg.evaluate.max_patches == 0  # Table 1: no subset
    assert all(getattr(cfg.crop.max_test_patches, t) == 0 for t in ("didhy", "deblur", "derain"))
    assert not LEFT_OUT & set(cfg.runs) and cfg.runs["didhy_fdrnet"].training["iterations"] == 200_000


def test_a_named_substitute_is_a_deliberate_start(capsys, monkeypatch, tmp_path):
    rc, out, _ = _profile(capsys, monkeypatch, "-S", "data.substitutes=[rl-restore, did-mdn, gopro]")
    assert rc == 0 and _as_dvc_runs_it(tmp_path, out).data.substitutes == ("rl-restore", "did-mdn", "gopro")


def test_opt_in_groups_keep_their_runs_at_the_papers_budget(capsys, monkeypatch, tmp_path):
    rc, out, _ = _profile(capsys, monkeypatch, *ARCHIVES, "--with", "quoted,controls")
    cfg = _as_dvc_runs_it(tmp_path, out)
    assert rc == 0 and LEFT_OUT <= set(cfg.runs)
    assert {cfg.runs[r].training["iterations"] for r in LEFT_OUT} == {200_000}
    overlay = load_profile("paper", REPO / "profiles", opt_in=["controls"])
    assert "~runs.beta0" not in overlay and "~runs.dncnn" in overlay and "runs.dncnn.training.lr" not in overlay
    rc, _, err = _profile(capsys, monkeypatch, *ARCHIVES, "--with", "everything")
    assert rc == 2 and "no such opt-in group" in err and "quoted, controls" in err


def test_profile_files_and_arguments_are_checked(tmp_path):
    with pytest.raises(config.ConfigError, match="crop.max_test_patches: a mapping cannot be applied with -S"):
        set_args({"crop.max_test_patches": {"hybrid": 0}})  # DVC would merge it and change nothing
    (tmp_path / "a.yaml").write_text(yaml.safe_dump({"runs.x.seed": 1, "opt-in": {"g": {"runs.x.seed": 2}}}))
    with pytest.raises(config.ConfigError, match="runs.x belongs to opt-in.g"):
        read_profile("a", tmp_path)
    (tmp_path / "b.yaml").write_text(yaml.safe_dump({"opt-in": {"g": {"model.channels": 2}}}))
    with pytest.raises(config.ConfigError, match="opt-in.g.model.channels: expected a key of a run"):
        read_profile("b", tmp_path)


def test_cost_counts_each_runs_training_step_and_names_its_group(capsys, monkeypatch, tmp_path):
    """GFLOP per step as FlopCounterMode counts forward and backward: for DnCNN, 3 x the forward convolutions but
    the first layer's input gradient (the input needs none); hours at the stated rate; a row with released weights costs no training."""
    row = {"model": "baselines.dncnn", "train": "train", "val": "test_moderate"}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({
        "baselines": {"dncnn": {"depth": 17, "channels": 64}}, "crop": {"patch": 63},
        "train": {"batch_size": 28, "crop": 0, "iterations": 7200}, "runs": {"a": row, "b": dict(row),
                                                      "c": {**row, "model": "baselines.owan", "weights": "w.pth"}}}))
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "tiny.yaml").write_text(yaml.safe_dump({"opt-in": {"extra": {"runs.b.seed": 1}}}))
    monkeypatch.chdir(tmp_path)
    assert cli_main(["profile", "tiny", "--cost", "--rate", "2"]) == 0
    out = capsys.readouterr().out
    flop = lambda i, o: 2 * 28 * 63 * 63 * i * o * 9  # noqa: E731 - batch 28, 63 x 63 patches, 3 x 3 kernels
    layers = [(3, 64)] + [(64, 64)] * 15 + [(64, 3)]
    gflop = (sum(3 * flop(i, o) for i, o in layers) - flop(3, 64)) / 1e9  # 370.6: Table 1's DnCNN
    assert f"| `a` | default | baseline | dncnn | 7,200 | {gflop:,.0f} | {gflop * 7200 / 1e6:,.0f} | 2 | 1.0 |" in out
    assert "| `b` | opt-in extra | replica | dncnn | 7,200 |" in out  # 7,200 steps at 2 it/s: one hour
    assert "| `c` | default | baseline | owan | 0 |" in out  # imported weights: nothing trained
    assert "**all: 3 runs** | | | | 14,400 | | " in out and "--with extra" in out
