"""DVC stage ``synthesize``: distorted / clean pairs and manifests -> ``data/synth/<set>/``."""
from __future__ import annotations

import sys

from fdr.data.synthesize import synthesize
from stages.common import run_stage


def main(argv=None) -> int:
    def work(cfg):
        synthesize(cfg, progress=sys.stderr.isatty())
        return "done"
    return run_stage("synthesize", __doc__, work, argv)


if __name__ == "__main__":
    raise SystemExit(main())
