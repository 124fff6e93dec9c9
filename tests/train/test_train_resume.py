"""SIGKILL at an arbitrary point, rerun, and end with the weights of an uninterrupted run (CPU)."""
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.helpers import assert_same_weights, subprocess_env, weights, write_params

ITERATIONS = 300


def stage(tmp: Path, models: str) -> list[str]:
    return [sys.executable, "-m", "stages.train", "fdrnet", "--params", "params.yaml",
            "--models", models, "--no-progress"]


def start(tmp: Path, models: str) -> subprocess.Popen:
    return subprocess.Popen(stage(tmp, models), cwd=tmp, env=subprocess_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def wait_for(cond, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        if proc.poll() is not None:
            pytest.fail(f"training ended before it could be killed:\n{proc.stdout.read()}")
        if time.monotonic() > end:
            proc.kill()
            pytest.fail("training did not reach the expected point in time")
        time.sleep(0.002)


def kill(proc: subprocess.Popen) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


@pytest.mark.slow
def test_sigkill_then_rerun_matches_uninterrupted_run(tmp_path):
    write_params(tmp_path, iterations=ITERATIONS, checkpoint_every=23, log_every=10, val_every=50)
    reference = subprocess.run(stage(tmp_path, "reference"), cwd=tmp_path, env=subprocess_env(),
                               capture_output=True, text=True, timeout=300)
    assert reference.returncode == 0, reference.stderr

    ckpt = tmp_path / "models" / "fdrnet" / "checkpoint.pt"
    # 1) killed soon after its first checkpoint, mid-way between two checkpoints
    proc = start(tmp_path, "models")
    wait_for(ckpt.exists, proc)
    time.sleep(0.15)
    kill(proc)
    # 2) resumed, then killed the moment it replaces the checkpoint (possibly while writing the next one)
    first = ckpt.stat().st_mtime_ns
    proc = start(tmp_path, "models")
    wait_for(lambda: ckpt.stat().st_mtime_ns != first, proc)
    kill(proc)
    # 3) resumed to the end
    final = subprocess.run(stage(tmp_path, "models"), cwd=tmp_path, env=subprocess_env(),
                           capture_output=True, text=True, timeout=300)
    assert final.returncode == 0, final.stderr
    resumed_at = int(re.search(r"resuming from .* at iteration (\d+)", final.stderr).group(1))
    assert 0 < resumed_at < ITERATIONS

    assert_same_weights(weights(tmp_path / "reference" / "fdrnet" / "checkpoint.pt"), weights(ckpt))
    for name in ("train/loss.tsv", "train/lr.tsv", "val/psnr.tsv"):
        ref = (tmp_path / "reference" / "fdrnet" / "live" / "plots" / "metrics" / name).read_text()
        assert (ckpt.parent / "live" / "plots" / "metrics" / name).read_text() == ref, name
    assert not list(ckpt.parent.glob(".*.tmp"))


def test_a_parameter_file_rewritten_under_a_running_stage_stops_it_naming_the_key(tmp_path):
    """What a second `dvc exp run -S train.lr=...` does to a running one: the stage stops at its next checkpoint
    (DVC would otherwise record the new lr for weights trained with the old). A change to another stage's
    parameters does not stop it."""
    params = write_params(tmp_path, iterations=100_000, checkpoint_every=5, log_every=5, val_every=1000)
    tree = yaml.safe_load(params.read_text())
    proc = start(tmp_path, "models")
    ckpt = tmp_path / "models" / "fdrnet" / "checkpoint.pt"
    wait_for(ckpt.exists, proc)
    params.write_text(yaml.safe_dump({**tree, "analysis": {"patches": 3}}))
    for _ in range(2):  # two more checkpoints with the unrelated change
        seen = ckpt.stat().st_mtime_ns
        wait_for(lambda: ckpt.stat().st_mtime_ns != seen, proc)
    params.write_text(yaml.safe_dump({**tree, "train": {**tree["train"], "lr": 0.01}}))
    try:
        out, _ = proc.communicate(timeout=120)
    finally:  # a stage that never stops is not left running after the test
        proc.kill()
        proc.wait()
    assert proc.returncode == 2, out
    assert re.search(r"fdrnet: params.yaml changed while training \(train.lr\); another `dvc exp run`", out), out
    assert "dvc exp run --queue" in out and "is kept" in out and ckpt.exists()
