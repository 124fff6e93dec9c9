"""``python -m fdr paper-metrics``: the paper's numbers as a git revision of our metrics files, so that
``dvc metrics diff paper`` prints ours beside the paper's with DVC's own deltas.

Every cell of the paper's Tables 1-6 that a run of ours answers (:func:`fdr.config.runs.answers` on ``--params``)
is written where our evaluation writes the same measurement, keyed like ours (``{set: {"psnr", "ssim"}}``):
``reports/metrics/whole/<run>.json`` for a set the paper scores on whole images
(:data:`fdr.report.comparison.WHOLE_SETS`) when the run is evaluated whole (``evaluate.whole.runs``), else
``reports/metrics/<run>.json``. A cell two tables give for one run of ours (the paper profile's DID-HY model is
Table 2's FDR-Net, Table 5's full model and Table 6's 3-layer and 32-channel columns) is taken from the first
table, the most precise (Table 2: SSIM 0.6799; Tables 5-6: 0.68); the commit message lists the others.

Every other metrics file of the work tree is written empty (``{}``: DVC reads it, and reports only our side).
The commit holds HEAD's tree with ``reports/metrics`` replaced by these files and ``params.yaml`` by ``--params``
(DVC finds the metrics files through ``dvc.yaml`` and the run table of that revision), has HEAD as its parent and is
built with git plumbing in a temporary index: the work tree, the index and the checked-out branch stay as they are.
The branch (``--branch``, default ``paper``) is set to it; a branch of that name this command did not write is
refused.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
from pathlib import Path

from fdr import config
from fdr.config.runs import answers
from fdr.errors import InputError
from fdr.report.comparison import METRICS_DIR, WHOLE_DIR, WHOLE_SETS
from fdr.report.paper import PAPER_DIR, SCORES, TABLES, load_tables

HELP = "record the paper's Tables 1-6 as our metrics files on a git branch (default `paper`): dvc metrics diff paper"
SUBJECT = "The paper's numbers (Li et al., ECCV 2020, Tables 1-6) as fdr metrics files"
IDENTITY = {"GIT_AUTHOR_NAME": "fdr", "GIT_AUTHOR_EMAIL": "fdr@localhost", "GIT_COMMITTER_NAME": "fdr",
            "GIT_COMMITTER_EMAIL": "fdr@localhost"}  # only where git has no user.name / user.email


class GitError(InputError):
    """A git command failed; the message names it and quotes git."""


def paper_files(cfg, tables: dict) -> tuple[dict[str, dict], list[str]]:
    """``({metrics file: {set: {metric: value}}}, [cells left out as given by an earlier table])``."""
    mine, whole_runs = answers(cfg), set(cfg.evaluate.whole.runs)
    files: dict[str, dict] = {}
    repeated = []
    for name in (t for t in TABLES if t in tables):
        for row, entry in tables[name].rows.items():
            run = mine.get((name, row))
            for set_, cell in ((s, c) for s, c in entry.items() if run and isinstance(c, dict)):
                whole = set_ in WHOLE_SETS.get(name, {}) and run in whole_runs
                path = (WHOLE_DIR if whole else METRICS_DIR) / f"{run}.json"
                ours = files.setdefault(path.as_posix(), {}).setdefault(set_, {})
                for metric in (m for m in SCORES if m in cell):
                    if metric in ours:
                        repeated.append(f"{name}.{row}.{set_}.{metric} = {cell[metric]} ({run}: {ours[metric]})")
                    else:
                        ours[metric] = cell[metric]
    return files, repeated


def git(args: list[str], env: dict | None = None, stdin: str | None = None) -> str:
    done = subprocess.run(["git", *args], capture_output=True, text=True, input=stdin, env=env)
    if done.returncode != 0:
        raise GitError(f"git {' '.join(args)}: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout.strip()


def _env(index: Path) -> dict:
    env = {**os.environ, "GIT_INDEX_FILE": str(index)}
    for key in ("name", "email"):
        if subprocess.run(["git", "config", f"user.{key}"], capture_output=True).returncode != 0:
            env.update({k: v for k, v in IDENTITY.items() if k.endswith(key.upper())})
    return env


def commit(files: dict[str, dict], params: str, branch: str, body: str) -> str:
    """Commit ``files`` and ``params`` on HEAD's tree as a child of HEAD and point ``branch`` at it (see above)."""
    head = git(["rev-parse", "--verify", "HEAD^{commit}"])
    ref = f"refs/heads/{branch}"
    if subprocess.run(["git", "rev-parse", "--verify", "--quiet", ref], capture_output=True).returncode == 0:
        if git(["log", "-1", "--format=%s", ref]) != SUBJECT:
            raise GitError(f"--branch {branch}: a branch of that name exists and holds other work; expected a "
                           "branch this command wrote (choose another name with --branch)")
    with tempfile.TemporaryDirectory(prefix="fdr-paper-") as tmp:
        env = _env(Path(tmp) / "index")
        git(["read-tree", "HEAD"], env)
        git(["rm", "-r", "--cached", "--quiet", "--ignore-unmatch", "--", METRICS_DIR.as_posix()], env)
        texts = {path: json.dumps(data, indent=2) + "\n" for path, data in files.items()}
        texts["params.yaml"] = Path(params).read_text()
        for path, text in texts.items():
            blob = git(["hash-object", "-w", "--stdin"], env, stdin=text)
            git(["update-index", "--add", "--cacheinfo", f"100644,{blob},{path}"], env)
        tree = git(["write-tree"], env)
        new = git(["commit-tree", tree, "-p", head, "-m", SUBJECT, "-m", body], env)
    git(["update-ref", ref, new])
    return new


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--params", default="params.yaml",
                        help="parameter file whose run table says which run answers which row (default: params.yaml)")
    parser.add_argument("--branch", default="paper", help="branch to write (default: paper)")


def run(args: argparse.Namespace) -> int:
    if not Path("dvc.yaml").is_file():
        raise FileNotFoundError("dvc.yaml: not found here; run this in the project's root folder")
    cfg = config.load(args.params)
    files, repeated = paper_files(cfg, load_tables(PAPER_DIR))
    cells = sum(len(cell) for data in files.values() for cell in data.values())
    for path in sorted(METRICS_DIR.rglob("*.json")):  # ours without a paper number: empty, so DVC reads every file
        files.setdefault(path.as_posix(), {})
    body = (f"{cells} cells of the paper in {len(files)} metrics files, filed by the run table of {args.params}. "
            f"Compare: dvc metrics diff {args.branch}")
    if repeated:
        body += "\n\nGiven by an earlier table, left out:\n" + "\n".join(f"- {r}" for r in repeated)
    new = commit(files, args.params, args.branch, body)
    print(f"{args.branch}: {cells} cells of the paper in {len(files)} metrics files (commit {new[:10]}); "
          f"compare with: dvc metrics diff {args.branch}")
    return 0
