"""An interrupted training run resumes when it is run again the documented way, ``dvc exp run`` (in the workspace,
after a failed experiment, and with ``--temp``), although DVC deletes a checkpoint that is not in its cache
before it runs the stage. Real ``dvc`` in a scratch git repository, the project's own train stage, a tiny model."""
from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from fdr.train import checkpoint as ckpt
from tests.helpers import REPO, make_patch_set, subprocess_env, tiny_params


@pytest.fixture()
def project(tmp_path) -> Path:
    """The project's code and train stage, a tiny FDR-Net row, its patch sets committed to git."""
    work = tmp_path / "project"
    for part in ("fdr", "stages"):
        shutil.copytree(REPO / part, work / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / ".dvcignore", work / ".dvcignore")
    (work / ".gitignore").write_text("/models\n__pycache__/\n.resume/\n")
    make_patch_set(work / "data" / "patches" / "train", n=48)
    make_patch_set(work / "data" / "patches" / "test_moderate", n=12, seed=1)
    params = tiny_params(Path("data"), iterations=100_000, checkpoint_every=5, log_every=5, val_every=1000)
    params["runs"] = {"fdrnet": {"model": "model", "train": "train", "val": "test_moderate", "paper": "table1.fdrnet"}}
    (work / "params.yaml").write_text(yaml.safe_dump(params))
    stage = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]["train"]
    (work / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"train": stage}}))
    for cmd in (["git", "init", "-q"], ["dvc", "init", "-q"], ["git", "add", "-A"],
                ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init"]):
        subprocess.run(cmd, cwd=work, env=_env(work), check=True)
    return work


def _env(work: Path) -> dict:
    env = subprocess_env()
    env["PYTHONPATH"] = str(work)
    return env


def dvc(work: Path, *args: str) -> subprocess.CompletedProcess:
    """``dvc *args`` in its own session; whatever it started is killed with it if it does not end in time."""
    proc = subprocess.Popen(["dvc", *args], cwd=work, env=_env(work), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=600)
    finally:
        stop_group(proc)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def kept_state(work: Path) -> list[str]:
    return glob.glob(str(work / "models" / ".resume" / "fdrnet" / "*" / "checkpoint.pt"))


def stop_group(proc: subprocess.Popen) -> None:
    """Kill ``proc``'s whole session, the stage DVC started included, even when ``dvc`` itself has exited."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=60)


def interrupted_exp_run(work: Path, *args: str, after: int) -> int:
    """``dvc exp run ... train@fdrnet`` killed (with its stage) once a checkpoint past iteration ``after`` is kept;
    returns the iteration of the kept checkpoint."""
    proc = subprocess.Popen(["dvc", "exp", "run", *args, "train@fdrnet"], cwd=work, env=_env(work),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    end = time.monotonic() + 300
    try:
        while not (kept_state(work) and ckpt.read(kept_state(work)[0])["iteration"] > after):
            assert proc.poll() is None and time.monotonic() < end, "training ended or stalled before the kill"
            time.sleep(0.2)
    finally:
        stop_group(proc)
    (state,) = kept_state(work)
    return ckpt.read(state)["iteration"]


def summary(work: Path) -> dict:
    return json.loads((work / "models" / "fdrnet" / "summary.json").read_text())


@pytest.mark.slow
def test_interrupted_training_resumes_under_dvc_exp_run_and_its_temp_copy(project):
    work = project
    first = interrupted_exp_run(work, after=5)
    # a failed experiment: DVC deletes models/fdrnet (its checkpoint is not in the cache); the kept state stays
    failed = dvc(work, "exp", "run", "-S", "train.iterations=0", "train@fdrnet")
    assert failed.returncode != 0 and "train.iterations: expected an integer >= 1" in failed.stdout + failed.stderr
    assert not (work / "models" / "fdrnet" / "checkpoint.pt").exists()
    assert ckpt.read(kept_state(work)[0])["iteration"] == first
    # the documented way: dvc exp run resumes, with the logs from before the interruption; the state goes
    done = dvc(work, "exp", "run", "-S", f"train.iterations={first + 5}", "train@fdrnet")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"resuming from {work}/models/.resume/fdrnet/" in done.stderr + done.stdout
    assert (summary(work)["resumed_from"], summary(work)["iterations"]) == (first, first + 5)
    loss = (work / "models" / "fdrnet" / "live" / "plots" / "metrics" / "train" / "loss.tsv").read_text().split()
    assert [int(s) for s in loss[2::2]] == list(range(5, first + 6, 5))
    assert kept_state(work) == [] and not (work / "models" / ".resume").exists()
    # interrupted again, then run in a temporary copy (.dvc/tmp/exps/...): the workspace's state is found there,
    # although the copy's own models/fdrnet (checked out from the cache) is behind it
    second = interrupted_exp_run(work, "-S", "train.iterations=100000", after=first + 5)
    temp = dvc(work, "exp", "run", "--temp", "-n", "in-temp", "-S", f"train.iterations={second + 5}", "train@fdrnet")
    assert temp.returncode == 0, temp.stdout + temp.stderr
    assert kept_state(work) == []
    assert dvc(work, "exp", "apply", "in-temp").returncode == 0
    assert (summary(work)["resumed_from"], summary(work)["iterations"]) == (second, second + 5)


def test_a_second_exp_run_rewriting_params_under_a_running_one_stops_it(project):
    """DVC refuses the second experiment (the output is busy) only after writing its -S value into params.yaml:
    the running stage stops rather than finish with settings DVC would record wrongly."""
    work = project
    first = subprocess.Popen(["dvc", "exp", "run", "train@fdrnet"], cwd=work, env=_env(work), text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        end = time.monotonic() + 300
        while not kept_state(work):
            assert first.poll() is None and time.monotonic() < end
            time.sleep(0.2)
        second = dvc(work, "exp", "run", "-S", "train.batch_size=8", "train@fdrnet")
        assert second.returncode != 0 and "is busy" in second.stderr, second.stdout + second.stderr
        out, _ = first.communicate(timeout=300)
    finally:
        stop_group(first)
    assert first.returncode != 0 and "params.yaml changed while training (train.batch_size)" in out, out
