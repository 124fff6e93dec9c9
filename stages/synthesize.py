"""Stage ``synthesize``: distorted / clean pairs and manifests -> ``data/synth/<set>/``."""
from __future__ import annotations

from fdr.data.synthesize import synthesize
from stages.common import run_stage


def main(argv=None) -> int:
    def work(cfg, args):
        summary = synthesize(cfg, progress=args.progress)
        return f"{sum(s['samples'] for s in summary['sets'].values())} samples in {cfg.data.root}/synth"
    return run_stage("synthesize", __doc__, work, argv)


if __name__ == "__main__":
    raise SystemExit(main())
