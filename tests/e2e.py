"""A tiny seeded end-to-end run of the pipeline's stages, for the CI regression of the reported PSNR.

``run(workdir)`` copies the code into ``workdir``, applies ``tests/reference/e2e_params.yaml`` on top of
``params.yaml`` and runs download -> synthesize -> crop -> train (the hybrid track's main FDR-Net and its baselines,
DnCNN and OWAN, from the run table) -> evaluate (the input and the three models) through the same ``python -m stages.*`` entry points that ``dvc.yaml`` calls. It returns
``{run: {level: {"psnr", "ssim", "patches"}}}`` for every test level.

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
from fdr.config.runs import main_run, with_role

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "tests" / "reference" / "e2e.json"
OVERLAY = ROOT / "tests" / "reference" / "e2e_params.yaml"
# Same seed and machine give the same numbers to the last bit (deterministic CPU algorithms): measured
# run to run 0.0 dB. The tolerance only absorbs another CPU's vector kernels; a wiring bug moves the
# PSNR by more (scripts/mutations.py lists what each mutation does).
TOLERANCE_DB = 0.01
# Least gain over the distorted input at every level (set below what each healthy model reaches, above what a
# broken one does). Measured on the reference: FDR-Net +1.40, DnCNN +0.55, OWAN +0.64 dB at the weakest level.
MARGIN_DB = {"fdrnet": 0.5, "dncnn": 0.3, "owan": 0.3}  # by architecture


def configuration() -> config.Config:
    """``params.yaml`` with the overlay applied."""
    return config.from_dict(yaml.safe_load((ROOT / "params.yaml").read_text()), yaml.safe_load(OVERLAY.read_text()))


def tested_runs(cfg: config.Config) -> dict[str, str]:
    """``{run: architecture}``: the hybrid track's main FDR-Net run and its baselines."""
    runs = [main_run(cfg, "hybrid")] + [r for r in with_role(cfg, "baseline") if cfg.runs[r].track == "hybrid"]
    return {r: cfg.runs[r].arch for r in runs}


def run(workdir: Path) -> dict:
    workdir = Path(workdir)
    for name in ("fdr", "stages"):
        shutil.copytree(ROOT / name, workdir / name, ignore=shutil.ignore_patterns("__pycache__"))
    cfg = configuration()
    (workdir / "params.yaml").write_text(yaml.safe_dump(config.to_dict(cfg), sort_keys=False))
    runs = tuple(tested_runs(cfg))
    env = dict(os.environ, PYTHONPATH=str(workdir))
    steps = [["download"], ["synthesize"], ["crop"]] + [["train", r] for r in runs]
    steps += [["evaluate", r] for r in ("input",) + runs]
    for step in steps:
        proc = subprocess.run([sys.executable, "-m", f"stages.{step[0]}", *step[1:], "--no-progress"], cwd=workdir,
                              env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"stage {' '.join(step)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    metrics = workdir / "reports" / "metrics"
    out = {}
    for name in ("input",) + runs:
        levels = json.loads((metrics / f"{name}.json").read_text())
        out[name] = {lvl: {k: m[k] for k in ("psnr", "ssim", "patches")} for lvl, m in levels.items()}
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
