"""Stage ``download``: list (and fetch) the source images -> ``data/raw/manifest.csv``."""
from __future__ import annotations

from fdr.data.sources import prepare_raw
from stages.common import run_stage


def main(argv=None) -> int:
    def work(cfg, args):
        return f"{len(prepare_raw(cfg, progress=args.progress))} images listed in {cfg.data.root}/raw/manifest.csv"
    return run_stage("download", __doc__, work, argv)


if __name__ == "__main__":
    raise SystemExit(main())
