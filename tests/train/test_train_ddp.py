"""torchrun DDP on CPU (gloo): two processes stay in sync and follow the single-process run."""
import json
import subprocess
import sys

import pytest
import torch

from tests.helpers import subprocess_env, weights, write_params


@pytest.mark.slow
def test_two_gloo_processes_stay_in_sync(tmp_path):
    write_params(tmp_path, iterations=8, checkpoint_every=4, log_every=2, val_every=4)
    cmd = ["-m", "stages.train", "fdrnet", "--params", "params.yaml", "--no-progress"]
    ddp = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", *cmd, "--models", "ddp"],
                         cwd=tmp_path, env=subprocess_env(), capture_output=True, text=True, timeout=300)
    assert ddp.returncode == 0, ddp.stdout + ddp.stderr
    single = subprocess.run([sys.executable, *cmd, "--models", "single"], cwd=tmp_path, env=subprocess_env(),
                            capture_output=True, text=True, timeout=300)
    assert single.returncode == 0, single.stderr

    summary = json.loads((tmp_path / "ddp" / "fdrnet" / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["batch_size"] == 4
    a, b = summary["rank_checksums"]
    assert a == b  # identical weights on both ranks (the trainer also checks this itself)
    # global batch = the parameter, and the same batches whatever the process count:
    # the 2-process weights equal the 1-process ones up to float summation order
    w_ddp = weights(tmp_path / "ddp" / "fdrnet" / "checkpoint.pt")
    w_one = weights(tmp_path / "single" / "fdrnet" / "checkpoint.pt")
    for k in w_one:
        if w_one[k].is_floating_point():
            torch.testing.assert_close(w_ddp[k], w_one[k], rtol=1e-4, atol=1e-5, msg=k)
    loss_ddp = (tmp_path / "ddp" / "fdrnet" / "live" / "plots" / "metrics" / "train" / "loss.tsv").read_text().split()
    loss_one = (tmp_path / "single" / "fdrnet" / "live" / "plots" / "metrics" / "train" / "loss.tsv").read_text().split()
    assert [round(float(v), 4) for v in loss_ddp[3::2]] == [round(float(v), 4) for v in loss_one[3::2]]
