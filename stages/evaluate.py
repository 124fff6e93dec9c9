"""Stage ``evaluate``: ``python -m stages.evaluate RUN [--params params.yaml]``.

RUN is a trained run (``models/RUN/checkpoint.pt``) or ``input`` (the distorted input itself). Every test set
of the run (:func:`fdr.config.runs.resolve`; ``input`` takes all of them) present under ``<data.root>/patches`` is
evaluated with the OWAN metrics (plus the labelled Y-channel variant) into ``reports/metrics/RUN.json``::

    {"mild": {"psnr": .., "ssim": .., "psnr_y": .., "ssim_y": .., "patches": N}, "moderate": {...}, ...}

and the per-patch PSNR / SSIM into ``reports/per_patch/RUN.npz`` (arrays ``<set>/psnr``, ``<set>/ssim``), which
the report's paired intervals read (:mod:`fdr.report.effects`).
"""
from __future__ import annotations

from pathlib import Path

from fdr.atomic import write_json
from fdr.evaluate.patches import evaluate_run, write_per_patch
from stages.common import run_stage


def arguments(parser) -> None:
    parser.add_argument("run", help="trained run name, or 'input' for the distorted input")
    parser.add_argument("--models", default="models", help="folder of trained runs (default: models)")
    parser.add_argument("--out", default="reports/metrics", help="output folder (default: reports/metrics)")
    parser.add_argument("--per-patch", default="reports/per_patch", help="per-patch values (default: reports/per_patch)")


def main(argv=None) -> int:
    def work(cfg, args):
        results, values = evaluate_run(cfg, args.run, Path(args.models), progress=args.progress)
        write_json(Path(args.out) / f"{args.run}.json", results)
        write_per_patch(Path(args.per_patch) / f"{args.run}.npz", values)
        return "; ".join(f"{args.run} {key}: PSNR {r['psnr']:.2f} dB, SSIM {r['ssim']:.4f} ({r['patches']} patches)"
                         for key, r in results.items())
    return run_stage("evaluate", __doc__, work, argv, arguments)


if __name__ == "__main__":
    raise SystemExit(main())
