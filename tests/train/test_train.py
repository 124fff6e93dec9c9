"""Trainer: outputs, batch order, resume, NaN handling, DVCLive log trimming (fdr.train.trainer)."""
import dataclasses
import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from fdr.data.dataset import BatchOrder
from fdr.train import checkpoint as ckpt
from fdr.train import trainer
from fdr.train.live import trim_live
from fdr.train.trainer import TrainingError
from tests.helpers import (
    assert_same_weights,
    make_patch_set,
    run_inprocess,
    weights,
    write_params,
)


class _Sized(torch.utils.data.Dataset):
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n


def test_global_batches_do_not_depend_on_world_size():
    ds = _Sized(103)
    one = BatchOrder(ds, 12, seed=5)
    for world in (2, 3, 4):
        ranks = [BatchOrder(ds, 12, 5, rank=r, world_size=world) for r in range(world)]
        for epoch in (0, 1):
            single = one.epoch_batches(epoch)
            split = [o.epoch_batches(epoch) for o in ranks]
            assert len(single) == 103 // 12
            for k, batch in enumerate(single):
                assert sorted(batch) == sorted(i for part in split for i in part[k]), (world, epoch, k)
    assert one.epoch_batches(0) != one.epoch_batches(1)
    with pytest.raises(ValueError, match="divisible"):
        BatchOrder(ds, 12, 5, rank=0, world_size=5)
    with pytest.raises(ValueError, match="fewer than train.batch_size"):
        BatchOrder(_Sized(3), 12, 5)


def test_train_writes_checkpoint_logs_and_summary(tmp_path):
    summary = run_inprocess(tmp_path)
    out = tmp_path / "out"
    assert json.loads((out / "summary.json").read_text()) == summary
    assert summary["iterations"] == 12 and summary["world_size"] == 1 and summary["device"] == "cpu"
    assert summary["params"] > 0 and np.isfinite(summary["final_loss"]) and summary["val_patches"] == 8
    state = ckpt.read(out / "checkpoint.pt")
    assert state["iteration"] == 12 and state["model_name"] == "fdrnet"
    assert state["data_order"] == {"seed": 3, "epoch": 1, "position": 0, "batches_per_epoch": 12}
    assert set(state) >= {"optimizer", "scheduler", "rng", "config", "git_revision", "fingerprint"}
    loss = (out / "live" / "plots" / "metrics" / "train" / "loss.tsv").read_text().split()
    assert loss[:2] == ["step", "loss"] and [int(s) for s in loss[2::2]] == [2, 4, 6, 8, 10, 12]
    psnr = (out / "live" / "plots" / "metrics" / "val" / "psnr.tsv").read_text().split()
    assert [int(s) for s in psnr[2::2]] == [6, 12]
    assert not (out / "dvc.yaml").exists() and not (out / "live" / "dvc.yaml").exists()
    assert not list(out.glob(".*.tmp"))


def _logged(out: Path, key: str) -> list[tuple[int, float]]:
    rows = (out / "live" / "plots" / "metrics" / "train" / f"{key}.tsv").read_text().split()[2:]
    return [(int(a), float(b)) for a, b in zip(rows[::2], rows[1::2])]


def test_learning_rate_decays_by_lr_decay_every_lr_step(tmp_path):
    """StepLR counts iterations: lr x 0.5 after iterations 3 and 6 (the lr logged is the one a step used)."""
    run_inprocess(tmp_path, iterations=8, lr=1e-3, lr_step=3, lr_decay=0.5, log_every=1)
    lrs = [lr for _, lr in _logged(tmp_path / "out", "lr")]
    np.testing.assert_allclose(lrs, [1e-3] * 3 + [5e-4] * 3 + [2.5e-4] * 2, rtol=1e-12)
    state = ckpt.read(tmp_path / "out" / "checkpoint.pt")
    assert state["optimizer"]["param_groups"][0]["lr"] == pytest.approx(2.5e-4)  # 8 steps: two decays
    assert state["scheduler"]["last_epoch"] == 8


def test_resume_continues_exactly_and_settings_change_restarts(tmp_path, capsys):
    # lr_step 4: the schedule steps before (4) and after (8, 12) the resume point, so a scheduler or
    # optimizer state that is not restored changes the weights
    run_inprocess(tmp_path, out="whole", iterations=12, lr=1e-3, lr_step=4, lr_decay=0.5)
    run_inprocess(tmp_path, out="split", iterations=7, lr=1e-3, lr_step=4, lr_decay=0.5)  # checkpoints at 5, 7
    summary = run_inprocess(tmp_path, out="split", iterations=12, lr=1e-3, lr_step=4, lr_decay=0.5)
    assert summary["resumed_from"] == 7
    assert_same_weights(weights(tmp_path / "whole" / "checkpoint.pt"), weights(tmp_path / "split" / "checkpoint.pt"))
    whole = (tmp_path / "whole" / "live" / "plots" / "metrics" / "train" / "loss.tsv").read_text().split()
    split = (tmp_path / "split" / "live" / "plots" / "metrics" / "train" / "loss.tsv").read_text().split()
    assert [int(s) for s in split[2::2]] == [2, 4, 6, 7, 8, 10, 12]  # the first budget ended with a log at 7
    assert split[2:8] == whole[2:8] and split[-4:] == whole[-4:]
    split_lr, whole_lr = dict(_logged(tmp_path / "split", "lr")), dict(_logged(tmp_path / "whole", "lr"))
    assert {k: split_lr[k] for k in whole_lr} == whole_lr and whole_lr[12] == pytest.approx(2.5e-4)
    capsys.readouterr()
    summary = run_inprocess(tmp_path, out="split", iterations=12, lr=3e-4)  # other settings: from scratch
    assert summary["resumed_from"] is None
    assert "train.lr" in capsys.readouterr().err


def poison_loss(monkeypatch, at: int) -> dict:
    """Make the trainer's loss NaN at call ``at``; returns the call counter."""
    calls = {"n": 0}
    real = trainer.fdr_loss

    def poisoned(y, t, feats, beta, reading="literal"):
        calls["n"] += 1
        total, parts = real(y, t, feats, beta, reading)
        return (total * float("nan"), parts) if calls["n"] == at else (total, parts)

    monkeypatch.setattr(trainer, "fdr_loss", poisoned)
    return calls


def test_nan_loss_stops_with_iteration_and_keeps_last_checkpoint(tmp_path, monkeypatch):
    poison_loss(monkeypatch, 8)
    with pytest.raises(TrainingError, match=r"iteration 8 \(not finite\).*iteration 5\) is kept"):
        run_inprocess(tmp_path)
    state = ckpt.read(tmp_path / "out" / "checkpoint.pt")
    assert state["iteration"] == 5
    assert all(torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point())
    assert not (tmp_path / "out" / "summary.json").exists()


@pytest.mark.parametrize("lr, named", [(10.0, r"weights became non-finite at iteration 2"),
                                        (1e30, r"eigensolver failed at iteration 2 \(largest \|weight\| 1e\+30\)")])
def test_diverging_run_stops_with_a_training_error_naming_the_iteration(tmp_path, lr, named):
    """A learning rate that blows the weights up ends in the documented error, not the eigensolver's own."""
    with pytest.raises(TrainingError, match=named + r"; is train.lr = .* too high\? Stopped, no checkpoint"):
        run_inprocess(tmp_path, lr=lr)
    assert not (tmp_path / "out" / "checkpoint.pt").exists()


def test_losses_are_read_back_per_flush_and_logged_means_match(tmp_path, monkeypatch):
    seen = []
    real = trainer.fdr_loss

    def spy(y, t, feats, beta, reading="literal"):
        total, parts = real(y, t, feats, beta, reading)
        seen.append(float(total.detach()))
        return total, parts

    monkeypatch.setattr(trainer, "fdr_loss", spy)
    run_inprocess(tmp_path, log_every=4, checkpoint_every=6, val_every=12)
    rows = (tmp_path / "out" / "live" / "plots" / "metrics" / "train" / "loss.tsv").read_text().split()[2:]
    assert [int(s) for s in rows[::2]] == [4, 8, 12]
    np.testing.assert_allclose([float(v) for v in rows[1::2]], np.mean(np.reshape(seen, (3, 4)), axis=1), rtol=1e-6)


def test_nan_between_flushes_is_named_and_nothing_after_it_is_saved(tmp_path, monkeypatch):
    calls = poison_loss(monkeypatch, 7)
    with pytest.raises(TrainingError, match=r"iteration 7 \(not finite\).*iteration 5\) is kept"):
        run_inprocess(tmp_path, log_every=10, val_every=10, checkpoint_every=5)
    assert calls["n"] > 7  # not read back at every step; here the broken weights stop iteration 8's SVDO first
    state = ckpt.read(tmp_path / "out" / "checkpoint.pt")
    assert state["iteration"] == 5


def test_svdo_reading_is_used_and_a_change_retrains(tmp_path, capsys):
    literal = run_inprocess(tmp_path, iterations=2, svdo="literal")
    unsquared = run_inprocess(tmp_path, iterations=2, svdo="unsquared")  # same folder: no resume
    assert unsquared["resumed_from"] is None and "train.svdo" in capsys.readouterr().err
    assert 0 < unsquared["final_svdo"] < literal["final_svdo"] / 10


def test_fingerprint_covers_every_training_setting_but_the_listed_ones():
    from fdr.config import TrainConfig

    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    assert set(ckpt.NOT_WEIGHTS) <= fields and "svdo" in fields - set(ckpt.NOT_WEIGHTS)


def test_trim_live_drops_rows_after_checkpoint_and_broken_summary(tmp_path):
    metrics = tmp_path / "plots" / "metrics" / "train"
    metrics.mkdir(parents=True)
    (metrics / "loss.tsv").write_text("step\tloss\n2\t0.5\n4\t0.4\n6\t0.3\n8\t0.")  # last row cut by a kill
    (tmp_path / "metrics.json").write_text('{"train": {"loss": 0.')
    trim_live(tmp_path, 4)
    assert (metrics / "loss.tsv").read_text().split() == ["step", "loss", "2", "0.5", "4", "0.4"]
    assert not (tmp_path / "metrics.json").exists()


def test_stage_reports_bad_run_name(tmp_path, capsys):
    from stages.train import main

    params = write_params(tmp_path)
    assert main(["nosuchrun", "--params", str(params)]) == 2
    assert "nosuchrun" in capsys.readouterr().err


def test_a_model_too_large_to_train_is_a_one_line_error_before_any_weight(tmp_path, capsys):
    """Each model key within its range, 121.7M weights together (the limit: 100M): refused before allocating."""
    from stages.train import main

    params = write_params(tmp_path)
    tree = yaml.safe_load(params.read_text())
    tree["model"] = {"channels": 256, "phases": 8}  # the rest as the paper's model
    params.write_text(yaml.safe_dump(tree))
    assert main(["fdrnet", "--params", str(params), "--models", str(tmp_path / "models")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and not (tmp_path / "models").exists()
    assert "run fdrnet: fdrnet with channels 256" in err and "121,655,683 weights, above the limit" in err


def test_evaluate_stage_writes_metrics_for_present_sets(tmp_path, monkeypatch, capsys):
    from stages.evaluate import main as evaluate

    run_inprocess(tmp_path, out="models/fdrnet")
    make_patch_set(tmp_path / "data" / "patches" / "test_severe", n=6, seed=2)
    monkeypatch.chdir(tmp_path)
    assert evaluate(["input", "--params", "params.yaml", "--no-progress"]) == 0
    assert evaluate(["fdrnet", "--params", "params.yaml", "--no-progress"]) == 0
    inp = json.loads((tmp_path / "reports" / "metrics" / "input.json").read_text())
    res = json.loads((tmp_path / "reports" / "metrics" / "fdrnet.json").read_text())
    assert set(res) == set(inp) == {"moderate", "severe"}
    assert set(res["moderate"]) == {"psnr", "ssim", "psnr_y", "ssim_y", "patches"}
    assert res["moderate"]["patches"] == 12 and res["severe"]["patches"] == 6
    assert res["moderate"]["psnr"] != inp["moderate"]["psnr"]
    (tmp_path / "params.yaml").write_text((tmp_path / "params.yaml").read_text().replace("channels: 8", "channels: 6"))
    capsys.readouterr()
    assert evaluate(["fdrnet", "--params", "params.yaml", "--no-progress"]) == 2  # stale checkpoint: refused
    assert "run the train stage first" in capsys.readouterr().err


def test_track_runs_train_and_evaluate_on_their_own_sets(tmp_path, monkeypatch):
    from stages.evaluate import main as evaluate
    from stages.train import main as train_stage

    params = write_params(tmp_path, iterations=4)
    make_patch_set(tmp_path / "data" / "patches" / "didhy_train", n=20, patch=24, seed=4)
    make_patch_set(tmp_path / "data" / "patches" / "didhy_test", n=5, patch=24, seed=5)
    monkeypatch.chdir(tmp_path)
    assert train_stage(["didhy_fdrnet", "--params", str(params), "--no-progress"]) == 0
    summary = json.loads((tmp_path / "models" / "didhy_fdrnet" / "summary.json").read_text())
    assert summary["train_patches"] == 20 and summary["val_patches"] == 5
    assert evaluate(["didhy_fdrnet", "--params", str(params), "--no-progress"]) == 0
    res = json.loads((tmp_path / "reports" / "metrics" / "didhy_fdrnet.json").read_text())
    assert list(res) == ["didhy"] and res["didhy"]["patches"] == 5


def test_train_step_applies_this_steps_gradient_only():
    """After a step the gradients are those of that step's Eq. 8 loss alone (zeroed before backward), and
    Adam moved every parameter that has a gradient."""
    import copy

    from fdr.config import ModelConfig, TrainConfig
    from fdr.models import build
    from fdr.train.losses import fdr_loss
    from tests.helpers import TINY_MODEL

    model = build("fdrnet", ModelConfig(**TINY_MODEL), seed=1)
    optimizer, scheduler, scaler = trainer.make_optimizer(model, TrainConfig(lr=1e-3), cuda=False)
    g = torch.Generator().manual_seed(2)
    batches = [(torch.rand(2, 3, 12, 12, generator=g), torch.rand(2, 3, 12, 12, generator=g)) for _ in range(2)]
    trainer.train_step(model, *batches[0], optimizer, scheduler, scaler, beta=1e-5)
    before = copy.deepcopy(model)
    y, feats = before(batches[1][0], return_features=True)
    fdr_loss(y, batches[1][1], feats, 1e-5)[0].backward()  # the second step's gradient, by itself
    losses = trainer.train_step(model, *batches[1], optimizer, scheduler, scaler, beta=1e-5)
    for (name, p), q in zip(model.named_parameters(), before.parameters()):
        torch.testing.assert_close(p.grad, q.grad, msg=name)
        if q.grad.abs().sum() > 0:
            assert not torch.equal(p.detach(), q.detach()), f"{name} did not move"
    assert losses.shape == (3,) and not losses.requires_grad


def test_compiled_training_matches_eager_within_float_tolerance_and_repeats(tmp_path):
    """``train.compile``: the same run through ``torch.compile`` ends with the eager run's weights up to float
    rounding (fused kernels sum in another order), and a second compiled run repeats the first exactly."""
    eager = run_inprocess(tmp_path, out="eager", iterations=6)
    compiled = [run_inprocess(tmp_path, out=f"compiled{k}", iterations=6, compile=True) for k in (1, 2)]
    a, b, c = (weights(tmp_path / o / "checkpoint.pt") for o in ("eager", "compiled1", "compiled2"))
    assert_same_weights(b, c)
    for key in a:
        torch.testing.assert_close(b[key], a[key], rtol=1e-4, atol=1e-5, msg=key)
    assert any(not torch.equal(a[k], b[k]) for k in a)  # the compiled kernels did run
    assert compiled[0]["final_loss"] == pytest.approx(eager["final_loss"], rel=1e-4)


def test_a_compile_failure_falls_back_to_eager_before_any_weight_changes(tmp_path, monkeypatch, capsys):
    import torch._inductor.config as inductor

    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "inductor"))  # nothing compiled earlier to reuse
    monkeypatch.setattr(inductor, "fx_graph_cache", False)
    monkeypatch.setattr(inductor.cpp, "cxx", (str(tmp_path / "no-such-compiler"),))
    torch._dynamo.reset()
    run_inprocess(tmp_path, out="fallback", iterations=4, compile=True)
    torch._dynamo.reset()
    assert "train.compile: torch.compile failed" in capsys.readouterr().err
    run_inprocess(tmp_path, out="eager", iterations=4)
    assert_same_weights(weights(tmp_path / "fallback" / "checkpoint.pt"), weights(tmp_path / "eager" / "checkpoint.pt"))


def test_bf16_autocast_applies_on_cpu(tmp_path, capsys):
    """``train.amp: bf16`` trains in bf16 on CPU too (not silently ignored): the weights differ from the float32
    run's by bf16 rounding, and training still works; fp16 stays CUDA-only and says so."""
    fp32 = run_inprocess(tmp_path, out="fp32", iterations=6)
    bf16 = run_inprocess(tmp_path, out="bf16", iterations=6, amp="bf16")
    a, b = (weights(tmp_path / o / "checkpoint.pt") for o in ("fp32", "bf16"))
    assert any(not torch.allclose(a[k], b[k], rtol=1e-4, atol=1e-6) for k in a)
    assert bf16["final_loss"] == pytest.approx(fp32["final_loss"], rel=0.05)
    run_inprocess(tmp_path, out="fp16", iterations=2, amp="fp16")
    assert "train.amp fp16 applies on CUDA only" in capsys.readouterr().err


def test_a_checkpoint_deleted_with_its_output_resumes_from_the_kept_state(tmp_path, monkeypatch):
    """`dvc exp run` deletes models/<run> (checkpoint and logs) when it is not in DVC's cache; the state kept beside
    it resumes the run to the weights and logs of an uninterrupted one, and goes when the run is finished."""
    run_inprocess(tmp_path, out="whole")
    poison_loss(monkeypatch, 8)  # interrupted after the checkpoint of iteration 5
    with pytest.raises(TrainingError):
        run_inprocess(tmp_path, out="out")
    monkeypatch.undo()
    (kept,) = (tmp_path / ".resume" / "out").glob("*/checkpoint.pt")
    assert ckpt.read(kept)["iteration"] == 5
    shutil.rmtree(tmp_path / "out")  # what dvc exp run does before it runs the stage
    assert run_inprocess(tmp_path, out="out")["resumed_from"] == 5
    assert_same_weights(weights(tmp_path / "whole" / "checkpoint.pt"), weights(tmp_path / "out" / "checkpoint.pt"))
    for key in ("loss", "lr"):
        assert _logged(tmp_path / "out", key) == _logged(tmp_path / "whole", key)
    assert not (tmp_path / ".resume").exists()


def test_kept_states_are_bounded_and_an_experiment_copy_keeps_them_in_the_workspace(tmp_path, monkeypatch):
    from fdr.train import resume

    monkeypatch.delenv("FDR_RESUME_DIR", raising=False)
    (tmp_path / ".dvc").mkdir()
    copy = tmp_path / ".dvc" / "tmp" / "exps" / "standalone" / "tmpab12"  # dvc exp run --temp runs here
    (copy / ".dvc").mkdir(parents=True)
    assert resume.run_folder(copy / "models" / "fdrnet") == tmp_path / "models" / ".resume" / "fdrnet"
    assert resume.run_folder(tmp_path / "models" / "fdrnet") == tmp_path / "models" / ".resume" / "fdrnet"
    monkeypatch.setenv("FDR_RESUME_DIR", str(tmp_path / "elsewhere"))
    assert resume.run_folder(copy / "models" / "fdrnet") == tmp_path / "elsewhere" / "fdrnet"
    src = tmp_path / "checkpoint.pt"
    for k in range(4):  # four settings of one run: the latest two are kept
        src.unlink(missing_ok=True)  # a new file each time, as the trainer writes one
        src.write_bytes(bytes([k]))
        resume.keep(src, tmp_path / "no-live", resume.state_folder(tmp_path / "models" / "fdrnet", {"k": k}))
        time.sleep(0.01)
    kept = sorted(p.read_bytes() for p in (tmp_path / "elsewhere" / "fdrnet").glob("*/checkpoint.pt"))
    assert kept == [bytes([2]), bytes([3])]
