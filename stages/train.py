"""Stage ``train``: ``python -m stages.train RUN [--params params.yaml]``.

RUN is a row of ``params.yaml``'s run table or a sweep run ``fl<N>`` / ``ch<N>`` (:mod:`fdr.config.runs`). Trains on
the run's training set, validates on its validation set and writes ``models/RUN/{checkpoint.pt, live/,
summary.json}``; an existing checkpoint from the same settings is resumed (the output is ``persist: true`` in
``dvc.yaml``; see :mod:`fdr.train.resume` for ``dvc exp run``). Training stops when ``--params`` stops giving the
run the settings it started with (another ``dvc exp run`` rewrote it). Also runs under
``torchrun --nproc_per_node=N -m stages.train RUN``. A row with ``weights`` is imported instead
(:mod:`fdr.train.imported`: the released file converted to ``checkpoint.pt``, no training).
"""
from __future__ import annotations

from pathlib import Path

from fdr.config.runs import resolve
from fdr.train.imported import import_run
from fdr.train.trainer import train
from stages.common import run_stage


def arguments(parser) -> None:
    parser.add_argument("run", help="run name: a row of params.yaml's runs table, or fl<N> / ch<N>")
    parser.add_argument("--models", default="models", help="folder holding one sub-folder per run (default: models)")


def main(argv=None) -> int:
    def work(cfg, args):
        run = resolve(cfg, args.run)
        if args.run in cfg.runs and cfg.runs[args.run].weights:
            s = import_run(cfg, run, Path(args.models) / args.run)
            return f"{args.run}: imported {s['imported']['file']} ({s['params']:,} parameters), not trained"
        s = train(cfg, run, Path(args.models) / args.run, progress=args.progress, params=Path(args.params))
        if s["val_psnr"] is None:  # ranks other than 0 of a torchrun job do not validate
            return f"{args.run}: {s['iterations']} iterations"
        return (f"{args.run}: {s['iterations']} iterations, validation PSNR {s['val_psnr']:.2f} dB "
                f"(SSIM {s['val_ssim']:.4f}) on {s['val_patches']} patches of {run.val_set}")
    return run_stage("train", __doc__, work, argv, arguments)


if __name__ == "__main__":
    raise SystemExit(main())
