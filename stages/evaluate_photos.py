"""Stage ``evaluate-photos``: ``python -m stages.evaluate_photos ROW [ROW ...] [--params params.yaml]``.

ROW is a run of ``evaluate.photos.runs`` (``models/ROW/checkpoint.pt``), ``input`` (the distorted photos) or
``gaussian`` (the best Gaussian filter, sigma chosen on the training photos). The source's test photos, in their own
colours and in other palettes, distorted once per test level, are restored as ``fdr restore`` restores a photo
(:mod:`fdr.evaluate.heldout`) into ``reports/metrics/photos/ROW.json``::

    {"moderate": {"psnr": .., "ssim": .., "images": N, "shift_r": .., "shift_g": .., "shift_b": .., "shift_max": ..}}

and the per-image values with the image labels into ``reports/per_photo/ROW.json`` (the report's paired intervals).
"""
from __future__ import annotations

from pathlib import Path

from fdr.atomic import write_json
from fdr.evaluate.heldout import evaluate_photos
from stages.common import run_stage


def arguments(parser) -> None:
    parser.add_argument("rows", nargs="+", help="runs of evaluate.photos.runs, 'input' or 'gaussian'")
    parser.add_argument("--models", default="models", help="folder of trained runs (default: models)")
    parser.add_argument("--out", default="reports/metrics/photos", help="metrics folder")
    parser.add_argument("--per-image", default="reports/per_photo", help="per-image values")


def main(argv=None) -> int:
    def work(cfg, args):
        lines = []
        for row in args.rows:
            metrics, per_image = evaluate_photos(cfg, row, Path(args.models))
            write_json(Path(args.out) / f"{row}.json", metrics)
            write_json(Path(args.per_image) / f"{row}.json", per_image)
            lines += [f"{row} {level}: PSNR {m['psnr']:.2f} dB, colour shift max {255 * m['shift_max']:.1f}/255 "
                      f"({m['images']} photos)" for level, m in metrics.items()]
        return "; ".join(lines)
    return run_stage("evaluate_photos", __doc__, work, argv, arguments)


if __name__ == "__main__":
    raise SystemExit(main())
