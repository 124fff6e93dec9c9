"""``python -m fdr import-weights owan MODEL_BEST.PTH``: a released model in this project's checkpoint format.

Converts OWAN's released ``Trained_model/model_best.pth`` (``sg-nm/Operation-wise-attention-network``) to
``models/owan_released/checkpoint.pt`` (:mod:`fdr.models.owan_release`: a structural name map; any tensor that does
not map is refused by name), which ``restore``, the evaluation stages and the report then read like a trained run.
In the pipeline a run-table row with ``weights`` does the same (the paper profile's ``owan_released``).
"""
from __future__ import annotations

import argparse
from pathlib import Path

from fdr.train.imported import import_weights

HELP = "convert released weights (OWAN's model_best.pth) to this project's checkpoint format"
DEFAULT_OUT = "models/owan_released/checkpoint.pt"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", choices=["owan"], help="the architecture the weights belong to")
    parser.add_argument("weights", type=Path, help="the released file (OWAN: Trained_model/model_best.pth)")
    parser.add_argument("-o", "--out", type=Path, default=Path(DEFAULT_OUT),
                        help=f"checkpoint to write (default: {DEFAULT_OUT})")
    parser.add_argument("--run", default=None, help="run name stored in the checkpoint (default: its folder's name)")
    parser.add_argument("--sha256", default="", help="refuse the file unless its SHA-256 is this")


def run(args: argparse.Namespace) -> int:
    name = args.run or args.out.parent.name or "owan_released"
    s = import_weights(args.weights, args.out, name, pin=args.sha256)
    p = s["imported"]
    print(f"{args.out}: OWAN, {s['params']:,} parameters from {p['tensors']} tensors of {p['file']} "
          f"(SHA-256 {p['sha256']})")
    return 0
