"""``python -m fdr paper-metrics``: the paper's numbers as a git branch of our metrics files, read by the real
``dvc metrics diff paper`` beside ours, without touching the work tree, the index or the checked-out branch."""
from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from fdr import config
from fdr.cli import main as cli_main
from fdr.commands.paper_metrics import paper_files
from fdr.config.runs import answers
from fdr.report.paper import load_tables
from tests.helpers import REPO, metrics_for

GIT = ["git", "-c", "user.name=Test", "-c", "user.email=test@example.org"]


def _git(repo, *args) -> str:
    return subprocess.run([*GIT, *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture()
def project(tmp_path):
    """A DVC project in git: the real dvc.yaml, params.yaml (embedded run table) and paper tables, and our metrics of
    a few runs, committed."""
    repo = tmp_path / "project"
    (repo / "reports" / "metrics" / "whole").mkdir(parents=True)
    for name in ("dvc.yaml", "params.yaml"):
        shutil.copy(REPO / name, repo / name)
    shutil.copytree(REPO / "reports" / "paper", repo / "reports" / "paper")
    ours = {"fdrnet.json": metrics_for(26.0), "noaux.json": {"didhy": metrics_for(23.0)["moderate"]},
            "input.json": metrics_for(22.0), "whole/didhy_fdrnet.json": {"didhy": {"psnr": 23.5, "ssim": 0.6}}}
    for name, data in ours.items():
        (repo / "reports" / "metrics" / name).write_text(json.dumps(data))
    _git(repo, "init", "-q")
    subprocess.run(["dvc", "init", "-q"], cwd=repo, check=True)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "ours")
    return repo


def test_dvc_metrics_diff_against_the_paper_branch(project, monkeypatch, capsys):
    head, status = _git(project, "rev-parse", "HEAD"), _git(project, "status", "--porcelain")
    (project / "reports" / "metrics" / "fdrnet.json").write_text(json.dumps(metrics_for(26.5)))  # uncommitted work
    monkeypatch.chdir(project)
    assert cli_main(["paper-metrics"]) == 0 and "dvc metrics diff paper" in capsys.readouterr().out
    assert _git(project, "rev-parse", "HEAD") == head and _git(project, "branch", "--show-current") in ("master", "main")
    assert not status and _git(project, "diff", "--cached", "--name-only") == ""  # the index untouched,
    assert _git(project, "status", "--porcelain", "--untracked-files=all") == "M reports/metrics/fdrnet.json"  # the tree
    paper = json.loads(_git(project, "show", "paper:reports/metrics/fdrnet.json"))
    assert paper == {"mild": {"psnr": 28.66, "ssim": 0.7568}, "moderate": {"psnr": 27.24, "ssim": 0.6846},
                     "severe": {"psnr": 26.05, "ssim": 0.6218}}  # Table 1, keyed like ours
    assert json.loads(_git(project, "show", "paper:reports/metrics/input.json")) == {}  # no paper number
    assert _git(project, "rev-parse", "paper^") == head
    diff = json.loads(subprocess.run(["dvc", "metrics", "diff", "paper", "--json"], cwd=project, check=True,
                                     capture_output=True, text=True).stdout)
    assert diff["reports/metrics/fdrnet.json"]["moderate.psnr"] == pytest.approx(
        {"old": 27.24, "new": 26.5, "diff": 26.5 - 27.24})
    assert diff["reports/metrics/noaux.json"]["didhy.psnr"]["old"] == 24.27  # Table 5
    assert diff["reports/metrics/whole/didhy_fdrnet.json"]["didhy.ssim"]["old"] == 0.6799  # Table 2, whole images
    assert cli_main(["paper-metrics"]) == 0 and _git(project, "rev-parse", "paper^") == head  # rerun: replaced


def test_a_branch_of_other_work_is_not_overwritten(project, monkeypatch, capsys):
    _git(project, "branch", "paper")
    monkeypatch.chdir(project)
    assert cli_main(["paper-metrics"]) == 2
    assert "--branch paper: a branch of that name exists and holds other work" in capsys.readouterr().err
    assert cli_main(["paper-metrics", "--branch", "paper-numbers"]) == 0


def test_every_cell_the_run_table_answers_is_filed_once_first_table_first():
    """The paper profile's DID-HY model answers Table 2's FDR-Net, Table 5's full model and Table 6's 3-layer and
    32-channel columns: each cell once, from the first table that gives it (Table 2's SSIM 0.6799, not 0.68)."""
    cfg = config.load(REPO / "params.yaml", overrides={"~runs.fdrnet_ref": None, "ablations.reference": "didhy_fdrnet",
                                                       "ablations.channels": [16, 48, 64]})
    tables = load_tables(REPO / "reports" / "paper")
    files, repeated = paper_files(cfg, tables)
    assert files["reports/metrics/whole/didhy_fdrnet.json"] == {"didhy": {"psnr": 24.97, "ssim": 0.6799}}
    assert files["reports/metrics/ch64.json"] == {"didhy": {"psnr": 25.0, "ssim": 0.683}}
    assert any(r.startswith("table6.fl3.didhy.ssim = 0.68 (didhy_fdrnet: ") for r in repeated)
    cells = [(f, s, m) for f, data in files.items() for s, c in data.items() for m in c]
    mine = answers(cfg)
    answered = sum(len(c) for t in tables.values() for row, e in t.rows.items() for c in e.values()
                   if isinstance(c, dict) and (t.name, row) in mine)
    assert len(set(cells)) == len(cells) and len(cells) + len(repeated) == answered
