"""A tiny seeded end-to-end run of the pipeline's stages, for the CI regression of the reported PSNR.

``run(workdir)`` copies the code into ``workdir``, applies ``tests/reference/e2e_params.yaml`` on top
of ``params.yaml`` and runs download -> synthesize -> crop -> train fdrnet -> evaluate (input and
fdrnet) through the same ``python -m stages.*`` entry points that ``dvc.yaml`` calls. It returns the
moderate-level PSNR/SSIM of the distorted input and of the trained model.

Updating the committed reference is deliberate::

    python -m tests.e2e --update      # rewrites tests/reference/e2e.json
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from fdr import config

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "tests" / "reference" / "e2e.json"
OVERLAY = ROOT / "tests" / "reference" / "e2e_params.yaml"
TOLERANCE_DB = 0.05  # |PSNR - reference| allowed (CPU, deterministic algorithms, same torch version)
MARGIN_DB = 0.5  # the trained model must beat the distorted input by at least this much


def run(workdir: Path) -> dict:
    workdir = Path(workdir)
    for name in ("fdr", "stages"):
        shutil.copytree(ROOT / name, workdir / name, ignore=shutil.ignore_patterns("__pycache__"))
    cfg = config.from_dict(yaml.safe_load((ROOT / "params.yaml").read_text()), yaml.safe_load(OVERLAY.read_text()))
    (workdir / "params.yaml").write_text(yaml.safe_dump(config.to_dict(cfg), sort_keys=False))
    env = dict(os.environ, PYTHONPATH=str(workdir))
    steps = [["download"], ["synthesize"], ["crop"], ["train", "fdrnet", "--no-progress"],
             ["evaluate", "input", "--no-progress"], ["evaluate", "fdrnet", "--no-progress"]]
    for step in steps:
        proc = subprocess.run([sys.executable, "-m", f"stages.{step[0]}", *step[1:]], cwd=workdir, env=env,
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"stage {' '.join(step)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    metrics = workdir / "reports" / "metrics"
    out = {}
    for run_name in ("input", "fdrnet"):
        level = json.loads((metrics / f"{run_name}.json").read_text())["moderate"]
        out[run_name] = {"psnr": level["psnr"], "ssim": level["ssim"], "patches": level["patches"]}
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.e2e", description=__doc__.split("\n")[0])
    parser.add_argument("--update", action="store_true", help=f"rewrite {REFERENCE.relative_to(ROOT)}")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        result = run(Path(tmp))
    print(json.dumps(result, indent=2))
    if args.update:
        tmp_path = REFERENCE.with_suffix(".tmp")
        tmp_path.write_text(json.dumps(result, indent=2) + "\n")
        os.replace(tmp_path, REFERENCE)
        print(f"wrote {REFERENCE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
