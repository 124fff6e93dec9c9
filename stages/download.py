"""DVC stage ``download``: list (and fetch) the source images -> ``data/raw/manifest.csv``."""
from __future__ import annotations

import argparse
import sys
import time

from fdr import config
from fdr.data.download import DownloadError
from fdr.data.imageio import BadImage
from fdr.data.sources import prepare_raw


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    try:
        cfg = config.load(args.params)
        df = prepare_raw(cfg)
    except (config.ConfigError, DownloadError, BadImage, ValueError, FileNotFoundError) as exc:
        print(f"download: error: {exc}", file=sys.stderr)
        return 1
    print(f"download: {len(df)} images listed in {cfg.data.root}/raw/manifest.csv ({time.perf_counter() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
