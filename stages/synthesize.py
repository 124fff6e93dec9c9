"""DVC stage ``synthesize``: distorted / clean pairs and manifests -> ``data/synth/<set>/``."""
from __future__ import annotations

import argparse
import sys
import time

from fdr import config
from fdr.data.imageio import BadImage
from fdr.data.synthesize import synthesize


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    try:
        cfg = config.load(args.params)
        synthesize(cfg, progress=sys.stderr.isatty())
    except (config.ConfigError, BadImage, ValueError, FileNotFoundError) as exc:
        print(f"synthesize: error: {exc}", file=sys.stderr)
        return 1
    print(f"synthesize: done in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
