"""Stage ``train``: ``python -m stages.train RUN [--params params.yaml]``.

Resolves RUN (``fdrnet``, ``dncnn``, ``owan``, ``noaux``, ``nofdm``, ``fl<N>``, ``ch<N>``, ``seed<N>``,
optionally prefixed by a track, e.g. ``didhy_fdrnet``; see :mod:`fdr.runs`), trains on the run's
training set (``<data.root>/patches/train`` or ``<track>_train``), validates on its validation set
(``test_<synthesis.train_level>`` or ``<track>_test``) and writes
``models/RUN/{checkpoint.pt, live/, summary.json}``.
An existing ``models/RUN/checkpoint.pt`` from the same settings is resumed (the output is
``persist: true`` in ``dvc.yaml``). Also runs under ``torchrun --nproc_per_node=N -m stages.train RUN``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fdr.checkpoint import CheckpointError
from fdr.config import ConfigError, load
from fdr.runs import resolve
from fdr.train import TrainingError, train


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stages.train", description=__doc__.split("\n")[0])
    parser.add_argument("run", help="run name (fdrnet, dncnn, owan, noaux, nofdm, fl<N>, ch<N>, seed<N>; optional didhy_/deblur_/derain_ prefix)")
    parser.add_argument("--params", default="params.yaml", help="parameter file (default: params.yaml)")
    parser.add_argument("--models", default="models", help="folder holding one sub-folder per run (default: models)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    try:
        cfg = load(args.params)
        if args.run == "input":
            raise ConfigError("run 'input': the distorted input is evaluated, not trained")
        spec = resolve(cfg, args.run)
        patches = Path(cfg.data.root) / "patches"
        summary = train(cfg, args.run, Path(args.models) / args.run, spec.model_name, spec.model_cfg,
                        patches / spec.train_set, patches / spec.val_set, iterations=spec.iterations,
                        progress=not args.no_progress, seed=spec.seed)
    except (ConfigError, CheckpointError, TrainingError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if summary["val_psnr"] is not None:
        print(f"{args.run}: {summary['iterations']} iterations, validation PSNR {summary['val_psnr']:.2f} dB "
              f"(SSIM {summary['val_ssim']:.4f}) on {summary['val_patches']} patches of {spec.val_set}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
