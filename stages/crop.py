"""Stage ``crop``: uint8 patch memmaps -> ``data/patches/<set>/{input,target}.npy`` + ``manifest.csv``."""
from __future__ import annotations

from fdr.data.patches import crop
from stages.common import run_stage


def main(argv=None) -> int:
    def work(cfg, args):
        summary = crop(cfg)
        return f"{sum(s['patches'] for s in summary.values())} patches in {cfg.data.root}/patches"
    return run_stage("crop", __doc__, work, argv)


if __name__ == "__main__":
    raise SystemExit(main())
