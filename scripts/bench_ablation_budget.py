"""How the Table 5 effects grow with training, and how far seeds scatter them: the budget the embedded ablations need.

Every arm (the ablations' reference, ``nofdm``, ``noaux``, ``beta0`` by default) is trained with several seed
offsets by the pipeline's own trainer (:func:`fdr.train.trainer.train`) on ``params.yaml``'s data, validating on the
whole DID-HY test set every ``--every`` iterations; the learning-rate schedule counts iterations only, so the
validation at iteration ``i`` of a long run is what a run with budget ``i`` ends with. For each arm and budget it
prints the effect against the reference (per seed, paired by seed offset), its mean, the std over seeds, the 95%
t interval over seeds, and whether that interval excludes 0 with 3 and with all seeds.

    python scripts/bench_ablation_budget.py --build-data --jobs 8 --json sweep.json   # on a GPU: minutes

``--build-data`` runs the data stages' code first (download, synthesize, crop) under ``data.root``. The DVCLive
logger is replaced by an in-memory recorder, so the script runs where DVC is not installed.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


class _Recorder:
    """Stands in for DVCLive: keeps ``(step, name, value)`` rows in memory."""

    rows: list = []

    def __init__(self, *args, **kwargs):
        self.step = 0

    def log_metric(self, name, value):
        _Recorder.rows.append((self.step, name, float(value)))

    def next_step(self):
        pass

    def end(self):
        pass


def _train_one(job: tuple) -> tuple:
    """Train ``arm`` with seed offset ``k`` for ``iterations``; return its validation PSNR per iteration."""
    params, arm, k, iterations, every, device = job
    import torch

    from fdr import config
    from fdr.config.runs import resolve
    from fdr.train import trainer

    torch.set_num_threads(2)
    trainer.open_live = lambda *a, **kw: _Recorder()
    _Recorder.rows = []
    cfg = config.load(params)
    run = resolve(cfg, arm)
    tc = dataclasses.replace(run.train_cfg, iterations=iterations, val_every=every, log_every=every,
                             checkpoint_every=10 * iterations, val_patches=100_000, device=device)
    run = run._replace(train_cfg=tc, seed=run.seed + k)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        trainer.train(cfg, run, Path(tmp), progress=False)
    psnr = {step: v for step, name, v in _Recorder.rows if name == "val/psnr"}
    return arm, k, psnr, time.perf_counter() - t0


def build_data(params: str, workers: int) -> None:
    from fdr import config
    from fdr.data.patches import crop
    from fdr.data.sources import prepare_raw
    from fdr.data.synthesize import synthesize

    cfg = config.load(params)
    prepare_raw(cfg, progress=False)
    synthesize(cfg, workers=workers, progress=False)
    crop(cfg)


def summarize(results: dict, reference: str) -> list[str]:
    from scipy import stats

    lines = ["arm | iterations | effect per seed (dB) | mean | std over seeds | 95% t interval (all seeds) | "
             "resolved with 3 seeds | with all"]
    ref = results[reference]
    for arm, seeds in results.items():
        if arm == reference:
            continue
        for it in sorted(next(iter(seeds.values()))):
            d = np.array([seeds[k][it] - ref[k][it] for k in sorted(seeds) if k in ref])
            half = stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d))
            h3 = stats.t.ppf(0.975, 2) * d[:3].std(ddof=1) / np.sqrt(3)
            lines.append(f"{arm} | {it} | {' '.join(f'{v:+.3f}' for v in d)} | {d.mean():+.3f} | {d.std(ddof=1):.3f} | "
                         f"[{d.mean() - half:+.3f}, {d.mean() + half:+.3f}] | "
                         f"{abs(d[:3].mean()) > h3} | {abs(d.mean()) > half}")
    spread = {it: float(np.mean([np.std([ref[k][it] for k in ref], ddof=1)])) for it in sorted(next(iter(ref.values())))}
    lines.append(f"reference std over seeds per iteration: {json.dumps(spread)}")
    return lines


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--params", default="params.yaml")
    p.add_argument("--arms", default="", help="comma-separated runs (default: the reference and its ablations)")
    p.add_argument("--seeds", type=int, default=6, help="seed offsets 0..N-1 per arm (default 6)")
    p.add_argument("--iterations", type=int, default=2000)
    p.add_argument("--every", type=int, default=100, help="validate every this many iterations")
    p.add_argument("--jobs", type=int, default=4, help="runs at once")
    p.add_argument("--device", default="auto")
    p.add_argument("--build-data", action="store_true", help="run the data stages' code first")
    p.add_argument("--workers", type=int, default=8, help="synthesis workers with --build-data")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)
    from fdr import config
    from fdr.config.runs import with_role

    cfg = config.load(args.params)
    reference = cfg.ablations.reference
    arms = args.arms.split(",") if args.arms else [reference] + [
        r for r in with_role(cfg, "ablation", "control") if r in cfg.runs and cfg.runs[r].seed == 0]
    if args.build_data:
        t0 = time.perf_counter()
        build_data(args.params, args.workers)
        print(f"data built in {time.perf_counter() - t0:.0f} s", flush=True)
    jobs = [(args.params, arm, k, args.iterations, args.every, args.device) for k in range(args.seeds) for arm in arms]
    results: dict = {arm: {} for arm in arms}
    t0 = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(args.jobs) as pool:
        for arm, k, psnr, seconds in pool.imap_unordered(_train_one, jobs):
            results[arm][k] = psnr
            print(f"{arm} seed +{k}: {seconds:.0f} s, PSNR at the end {psnr[max(psnr)]:.3f}", flush=True)
    print(f"{len(jobs)} runs in {time.perf_counter() - t0:.0f} s", flush=True)
    print("\n".join(summarize(results, reference)))
    if args.json:
        args.json.write_text(json.dumps({a: {str(k): v for k, v in s.items()} for a, s in results.items()}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
