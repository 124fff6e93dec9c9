"""Benchmark: restore a 12-megapixel photo on the CPU and report wall time and peak memory.

    python scripts/bench_restore.py [--checkpoint CKPT] [--width 4000 --height 3000] [--tile 256 --overlap 16]

Without ``--checkpoint`` the paper-size FDR-Net (``ModelConfig()`` defaults, randomly initialised:
time and memory do not depend on the weights) is saved to a temporary checkpoint. The photo is
scikit-image's astronaut, resized to the requested size and saved as a JPEG (quality 75). The
restore command runs in a child process under ``/usr/bin/time -v``, whose "Maximum resident set
size" is the peak RSS reported. Exit code 1 when the peak exceeds ``--limit-gb`` (default 2).
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def make_photo(path: Path, width: int, height: int) -> None:
    from PIL import Image
    from skimage import data

    Image.fromarray(data.astronaut()).resize((width, height), Image.BICUBIC).save(path, quality=75)


def make_checkpoint(path: Path) -> None:
    from fdr.config import ModelConfig, to_dict
    from fdr.models import build, count_parameters
    from fdr.train import checkpoint

    cfg = ModelConfig()
    model = build("fdrnet", cfg, seed=0)
    checkpoint.save(path, {"run": "bench", "model_name": "fdrnet", "model_cfg": to_dict(cfg),
                           "model": model.state_dict(), "iteration": 0})
    print(f"model: FDR-Net paper configuration, {count_parameters(model):,} parameters (random weights)")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--checkpoint", type=Path, default=None)
    p.add_argument("--width", type=int, default=4000)
    p.add_argument("--height", type=int, default=3000)
    p.add_argument("--tile", type=int, default=256)
    p.add_argument("--overlap", type=int, default=16)
    p.add_argument("--limit-gb", type=float, default=2.0)
    args = p.parse_args()
    if not Path("/usr/bin/time").is_file():
        print("error: /usr/bin/time not found (GNU time is needed for the peak-memory figure)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        photo = tmp / "photo.jpg"
        make_photo(photo, args.width, args.height)
        ckpt = args.checkpoint
        if ckpt is None:
            ckpt = tmp / "model.pt"
            make_checkpoint(ckpt)
        cmd = ["/usr/bin/time", "-v", sys.executable, "-m", "fdr", "restore", "--checkpoint", str(ckpt), str(photo),
               "-o", str(tmp / "out"), "--tile", str(args.tile), "--overlap", str(args.overlap), "--device", "cpu",
               "--quiet"]
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        res = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO)
        if res.returncode != 0:
            print(res.stderr, file=sys.stderr)
            return 2
        rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", res.stderr).group(1))
        wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", res.stderr).group(1)
        parts = [float(x) for x in wall.split(":")]
        seconds = sum(v * 60 ** i for i, v in enumerate(reversed(parts)))
        out_size = (tmp / "out" / "photo.png").stat().st_size
    mp = args.width * args.height / 1e6
    gb = rss_kb / 1024**2
    print(f"photo: {args.width}x{args.height} ({mp:.1f} MP), tile {args.tile}, overlap {args.overlap}, "
          f"{os.cpu_count()} CPU cores, torch threads default")
    print(f"wall time: {seconds:.1f} s ({seconds / mp:.1f} s/MP); peak RSS: {rss_kb / 1024:.0f} MiB ({gb:.2f} GiB); "
          f"output PNG {out_size / 1e6:.1f} MB")
    if gb > args.limit_gb:
        print(f"FAIL: peak RSS {gb:.2f} GiB exceeds {args.limit_gb} GiB", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
