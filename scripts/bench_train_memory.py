"""Benchmark: peak RSS of training on a paper-scale patch set (249,344 pairs of 63x63x3 uint8).

Writes a synthetic set of the paper's size (random bytes; 2 x 2.97 GB on disk) in the crop stage's
layout under ``--root``, then runs ``python -m stages.train fdrnet`` on it under ``/usr/bin/time -v``
and prints the peak resident set size. The model is the committed params.yaml's (the dataset's memory
does not depend on the model). Usage: ``python scripts/bench_train_memory.py --root /tmp/big``.
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import yaml
from numpy.lib.format import open_memmap

PAPER_PATCHES = 249_344


def write_set(folder: Path, n: int, patch: int, seed: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for name in ("input", "target"):
        arr = open_memmap(folder / f"{name}.npy", mode="w+", dtype=np.uint8, shape=(n, patch, patch, 3))
        for start in range(0, n, 8192):
            stop = min(n, start + 8192)
            arr[start:stop] = rng.integers(0, 256, size=(stop - start, patch, patch, 3), dtype=np.uint8)
        arr.flush()
        del arr


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, required=True, help="scratch data root (needs ~6 GB)")
    parser.add_argument("--patches", type=int, default=PAPER_PATCHES)
    parser.add_argument("--iterations", type=int, default=100)
    args = parser.parse_args()
    patches = args.root / "patches"
    if not (patches / "train" / "target.npy").is_file():
        write_set(patches / "train", args.patches, 63, 0)
        write_set(patches / "test_moderate", 256, 63, 1)
    params = yaml.safe_load(Path("params.yaml").read_text())
    params["data"]["root"] = str(args.root)
    params["train"].update(iterations=args.iterations, checkpoint_every=args.iterations, val_every=args.iterations)
    (args.root / "params.yaml").write_text(yaml.safe_dump(params))
    cmd = ["/usr/bin/time", "-v", sys.executable, "-m", "stages.train", "fdrnet", "--params",
           str(args.root / "params.yaml"), "--models", str(args.root / "models"), "--no-progress"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        print(proc.stderr[-2000:], file=sys.stderr)
        return proc.returncode
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr).group(1))
    wall = re.search(r"Elapsed \(wall clock\) time.*: (\S+)", proc.stderr).group(1)
    print(f"train set: {args.patches:,} patches of 63x63x3 uint8 ({2 * args.patches * 63 * 63 * 3 / 1e9:.2f} GB on disk)")
    print(f"training {args.iterations} iterations: peak RSS {rss_kb / 1024:.0f} MiB, wall {wall}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
