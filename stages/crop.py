"""DVC stage ``crop``: uint8 patch memmaps -> ``data/patches/<set>/{input,target}.npy`` + ``manifest.csv``."""
from __future__ import annotations

import argparse
import sys
import time

from fdr import config
from fdr.data.imageio import BadImage
from fdr.data.patches import crop


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    try:
        cfg = config.load(args.params)
        crop(cfg)
    except (config.ConfigError, BadImage, ValueError, FileNotFoundError) as exc:
        print(f"crop: error: {exc}", file=sys.stderr)
        return 1
    print(f"crop: done in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
