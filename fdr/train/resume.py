"""Resume state kept where ``dvc exp run`` does not remove it.

Before it runs a stage, ``dvc exp run`` checks out the stage's outputs by force: a ``models/<run>/checkpoint.pt``
that is not in DVC's cache (the checkpoint of an interrupted run) is deleted although the output is
``persist: true``, and a failed experiment deletes it too; ``dvc repro`` keeps it. So every checkpoint is also
kept in ``models/.resume/<run>/<key of its fingerprint>/`` (``checkpoint.pt``, a hard link where the file
system allows, else a copy, and the DVCLive logs ``live/``): no stage outputs it and ``.dvcignore`` hides it from
the stages that depend on ``models``. The trainer resumes from whichever of the two is further on.

``dvc exp run --temp`` and queued experiments run in a copy of the repository under ``<repo>/.dvc/tmp/exps/``;
their state goes to the same place in ``<repo>`` itself, so an interrupted experiment resumes whichever way it
is run again. ``$FDR_RESUME_DIR`` puts the state elsewhere
(``$FDR_RESUME_DIR/<run>/<key>/``). A finished run deletes its state; at most :data:`KEEP` fingerprints per run
are kept (the most recently written).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Optional

FOLDER = ".resume"
KEEP = 2  # resume states kept per run: the current fingerprint and the one before it
CHECKPOINT, LIVE = "checkpoint.pt", "live"


def workspace_path(path: Path) -> Path:
    """``path`` (absolute) in the workspace: inside an experiment's temporary copy of the repository (a DVC
    repository below ``<repo>/.dvc/tmp/``) the same relative place in ``<repo>``; elsewhere ``path`` itself."""
    for root in path.parents:
        if (root / ".dvc").is_dir():  # the repository ``path`` lies in
            parts = root.parts
            for i in range(len(parts) - 1):
                if parts[i] == ".dvc" and parts[i + 1] == "tmp":
                    return Path(*parts[:i]).joinpath(path.relative_to(root))
            return path
    return path


def run_folder(out_dir: Path) -> Path:
    """Where the resume states of the run writing ``out_dir`` live."""
    out = Path(out_dir).resolve()
    if os.environ.get("FDR_RESUME_DIR"):
        return Path(os.environ["FDR_RESUME_DIR"]).expanduser().resolve() / out.name
    out = workspace_path(out)
    return out.parent / FOLDER / out.name


def state_folder(out_dir: Path, fingerprint: dict) -> Path:
    """The resume state of one fingerprint (:func:`fdr.train.checkpoint.fingerprint`) of the run."""
    key = hashlib.sha256(json.dumps(fingerprint, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return run_folder(out_dir) / key


def keep(checkpoint: Path, live: Path, state: Path) -> None:
    """Put ``checkpoint`` (and a copy of the ``live`` logs) into ``state``, replacing what was there; then drop
    the run's older states beyond :data:`KEEP`."""
    state.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{CHECKPOINT}.", suffix=".tmp", dir=state)
    os.close(fd)
    os.unlink(tmp)
    try:
        os.link(checkpoint, tmp)
    except OSError:  # another file system, or no hard links: a copy
        shutil.copyfile(checkpoint, tmp)
    os.replace(tmp, state / CHECKPOINT)
    if Path(live).is_dir():
        logs = Path(tempfile.mkdtemp(prefix=f".{LIVE}.", dir=state))
        shutil.copytree(live, logs, dirs_exist_ok=True)
        shutil.rmtree(state / LIVE, ignore_errors=True)
        os.replace(logs, state / LIVE)
    _prune(state)


def _prune(current: Path) -> None:
    others = [p for p in current.parent.iterdir() if p.is_dir() and p != current and (p / CHECKPOINT).is_file()]
    others.sort(key=lambda p: (p / CHECKPOINT).stat().st_mtime_ns, reverse=True)
    for old in others[KEEP - 1:]:
        shutil.rmtree(old, ignore_errors=True)


def checkpoint(state: Path) -> Optional[Path]:
    path = state / CHECKPOINT
    return path if path.is_file() else None


def restore_live(state: Path, live: Path) -> None:
    """Replace the ``live`` logs by the copy kept with the state (DVC deleted them with the checkpoint)."""
    if (state / LIVE).is_dir():
        shutil.rmtree(live, ignore_errors=True)
        shutil.copytree(state / LIVE, live)


def discard(state: Path) -> None:
    """Delete a finished run's state, and the folders above it that are left empty."""
    shutil.rmtree(state, ignore_errors=True)
    for folder in (state.parent, state.parent.parent):
        if folder.name == FOLDER or folder == state.parent:
            try:
                folder.rmdir()
            except OSError:  # not empty, or gone
                break
