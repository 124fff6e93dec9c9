"""Stage ``evaluate-whole``: ``python -m stages.evaluate_whole RUN [--params params.yaml]``.

RUN is a run of ``evaluate.whole.runs`` (``models/RUN/checkpoint.pt``) or ``input``. Each whole test image of the
run's track (``data/synth/<track>_test``; Table 2: DID-HY's 512 x 512 images) is restored in one piece and scored
with the OWAN metrics (:mod:`fdr.evaluate.whole`) into ``reports/metrics/whole/RUN.json``::

    {"didhy": {"psnr": .., "ssim": .., "psnr_y": .., "ssim_y": .., "images": N}}

and the per-image PSNR / SSIM into ``reports/per_image/RUN.npz`` for the report's paired intervals.
"""
from __future__ import annotations

from pathlib import Path

from fdr.atomic import write_json
from fdr.evaluate.patches import write_per_patch
from fdr.evaluate.whole import evaluate_run_whole
from stages.common import run_stage


def arguments(parser) -> None:
    parser.add_argument("run", help="a run of evaluate.whole.runs, or 'input' for the distorted input")
    parser.add_argument("--models", default="models", help="folder of trained runs (default: models)")
    parser.add_argument("--out", default="reports/metrics/whole", help="output folder (default: reports/metrics/whole)")
    parser.add_argument("--per-image", default="reports/per_image", help="per-image values (default: reports/per_image)")


def main(argv=None) -> int:
    def work(cfg, args):
        results, values = evaluate_run_whole(cfg, args.run, Path(args.models), progress=args.progress)
        write_json(Path(args.out) / f"{args.run}.json", results)
        write_per_patch(Path(args.per_image) / f"{args.run}.npz", values)
        return "; ".join(f"{args.run} {key} (whole images): PSNR {r['psnr']:.2f} dB, SSIM {r['ssim']:.4f} "
                         f"({r['images']} images)" for key, r in results.items())
    return run_stage("evaluate_whole", __doc__, work, argv, arguments)


if __name__ == "__main__":
    raise SystemExit(main())
