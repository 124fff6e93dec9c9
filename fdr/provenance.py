"""Where a result came from: the code's git revision and the machine."""
from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path
from typing import Optional

# Tracked paths the pipeline itself writes: changes there do not make the code "dirty".
PIPELINE_OUTPUTS = ("reports", "dvc.lock")


def git_revision(cwd: Optional[Path] = None) -> str:
    """``HEAD``'s commit, with ``-dirty`` when tracked files other than :data:`PIPELINE_OUTPUTS` differ from
    it; ``unknown`` outside git."""
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True,
                             timeout=10, check=True).stdout.strip()
        excluded = [f":!{p}" for p in PIPELINE_OUTPUTS]
        dirty = subprocess.run(["git", "diff", "--quiet", "HEAD", "--", ".", *excluded], cwd=cwd,
                               capture_output=True, timeout=10)
        return rev + ("-dirty" if dirty.returncode == 1 else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def machine() -> dict:
    """CPU model, core count, Python and torch versions, and the GPU when there is one."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    out = {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "os": platform.system()}
    import torch

    out["torch"] = torch.__version__
    if torch.cuda.is_available():
        out["gpu"] = torch.cuda.get_device_name(0)
    return out
