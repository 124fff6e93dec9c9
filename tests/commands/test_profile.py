"""``python -m fdr profile``: what it prints is what DVC and the shell take (checked with a real ``dvc exp run``),
and a profile they could not take is refused before anything is printed."""
from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys

import pytest

from fdr.cli import main
from tests.helpers import REPO, subprocess_env


def _profile(cwd, name: str, *extra) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fdr", "profile", name, *extra], cwd=cwd, env=subprocess_env(),
                          capture_output=True, text=True)


@pytest.fixture()
def project(tmp_path):
    """A git + DVC project with the repository's params.yaml and profiles/ and a one-stage pipeline."""
    shutil.copy(REPO / "params.yaml", tmp_path / "params.yaml")
    shutil.copytree(REPO / "profiles", tmp_path / "profiles")
    (tmp_path / "dvc.yaml").write_text("stages:\n  noop:\n    cmd: echo ok\n    params: [train, data]\n")
    env = subprocess_env()
    for cmd in (["git", "init", "-q"], ["dvc", "init", "-q"], ["git", "add", "-A"],
                ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init"]):
        subprocess.run(cmd, cwd=tmp_path, env=env, check=True)
    return tmp_path


def test_profile_arguments_are_taken_by_dvc_exp_run(project):
    """The paper profile, plus keys the issue met: exponent floats, an archive URL with '=' and '?', a layout
    with '|', train.compile; and a key params.yaml lacks, which DVC only takes as +key."""
    (project / "profiles" / "mine.yaml").write_text(
        "train.beta: 1e-5\ntrain.compile: true\ndata.rl_restore_testsets.url: http://host/t.zip?x=1\n"
        "data.did_mdn_layout: clean|rain\nruns.fdrnet.training.iterations: 7\n")
    archives = ["-S", "data.rl_restore_testsets.url=/data/testsets.zip", "-S", "data.did_mdn.url=/data/DID-MDN.zip",
                "-S", "data.gopro.url=https://example.org/GOPRO_Large.zip?dl=1"]  # the paper profile needs them
    for name in ("paper", "mine"):
        extra = archives if name == "paper" else []
        done = _profile(project, name, *extra)
        assert done.returncode == 0, done.stderr
        if name == "mine":
            assert "+runs.fdrnet.training.iterations=7" in done.stdout and "train.compile=true" in done.stdout
        # exactly as the README writes it: the shell splits the printed words, DVC parses each -S
        command = f"{shlex.quote(sys.executable)} -m fdr profile {name} {shlex.join(extra)}"
        exp = subprocess.run(["bash", "-c", f"dvc exp run --dry $({command})"],
                             cwd=project, env=subprocess_env(), capture_output=True, text=True)
        assert exp.returncode == 0, exp.stdout + exp.stderr


@pytest.mark.parametrize("name, text, message", [
    ("../params", None, r"profile '../params': expected the name of a file in profiles/"),
    ("nested", "model: {channels: 48}\n", r"nested.yaml: model: expected a value or a list of values"),
    ("spaces", "data.folder.clean: /my photos/x\n", r"data.folder.clean: '/my photos/x' cannot be passed"),
    ("key", "'../params': 1\n", r"key.yaml: '../params': expected a dotted parameter key"),
    ("twice", "model.channels: 8\nmodel.channels: 16\n", r"twice.yaml: line 2: duplicate key 'model.channels'"),
    ("typed", "model.channels: 100000\n", r"model.channels: expected an integer in \[1, 1024\]"),
])
def test_profiles_dvc_or_the_shell_cannot_take_are_refused_before_printing(tmp_path, monkeypatch, capsys, name,
                                                                           text, message):
    shutil.copy(REPO / "params.yaml", tmp_path / "params.yaml")
    (tmp_path / "profiles").mkdir()
    if text is not None:
        (tmp_path / "profiles" / f"{name}.yaml").write_text(text)
    monkeypatch.chdir(tmp_path)
    assert main(["profile", name]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1
    assert re.search(message, err), err
