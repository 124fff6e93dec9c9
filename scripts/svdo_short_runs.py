"""Does the paper model train under each reading of Eq. 5? Short runs of the real trainer at the paper's size and
schedule (batch 28, Adam lr 1e-4, beta 1e-5, whole 63x63 patches), one reading of ``train.svdo`` per run, validated
on a test set; the validation PSNR and the last logged L1 / SVDO terms are printed per run (GPU: minutes).

    python scripts/svdo_short_runs.py --reading literal [--iterations 800] [--data data] [--out runs/svdo]
"""
from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

from fdr import config
from fdr.config.runs import resolve
from fdr.train.trainer import train

PAPER_MODEL = {"channels": 32, "n_flayers": 3, "phases": 7, "pm_blocks": 2, "aux_blocks": 3, "ca_reduction": 16}


def params(data: Path, reading: str, iterations: int, val_every: int, phase: str) -> dict:
    train_section = {"iterations": iterations, "batch_size": 28, "lr": 1e-4, "lr_decay": 0.8, "lr_step": 9000,
                     "beta": 1e-5, "svdo": reading, "crop": 0, "checkpoint_every": iterations, "log_every": 50,
                     "val_every": val_every, "val_patches": 312, "device": "auto", "channels_last": False}
    return {"seed": 0, "data": {"root": str(data)}, "model": {**PAPER_MODEL, "phase": phase}, "train": train_section,
            "runs": {"fdrnet": {"model": "model", "train": "train", "val": "test_moderate"}}}


def curve(out: Path, name: str) -> list[tuple[int, float]]:
    path = out / "live" / "plots" / "metrics" / name
    if not path.is_file():
        return []
    with open(path) as f:
        return [(int(r["step"]), float(r[Path(name).stem])) for r in csv.DictReader(f, delimiter="\t")]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reading", required=True)
    parser.add_argument("--iterations", type=int, default=800)
    parser.add_argument("--val-every", type=int, default=200)
    parser.add_argument("--phase", default="durn_p")
    parser.add_argument("--data", type=Path, default=Path("data"))
    parser.add_argument("--out", type=Path, default=Path("runs/svdo"))
    args = parser.parse_args(argv)
    cfg = config.from_dict(params(args.data, args.reading, args.iterations, args.val_every, args.phase))
    out = args.out / args.reading
    summary = train(cfg, resolve(cfg, "fdrnet"), out, progress=False)
    result = {"reading": args.reading, "val_psnr": curve(out, "val/psnr.tsv"), "l1": curve(out, "train/l1.tsv"),
              "svdo": curve(out, "train/svdo.tsv"), "it_per_s": summary.get("it_per_s"), "device": summary["device"]}
    (args.out / f"{args.reading}.json").write_text(json.dumps(result))
    print(json.dumps({k: result[k] for k in ("reading", "val_psnr", "it_per_s", "device")}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
