"""Training speed side by side: the real trainer (:func:`fdr.train.trainer.train`) on the pipeline's patch set, under each
variant of the training options, one fresh process per (variant, round), the variants interleaved round by round
so that the machine's drift falls on all of them alike.

Variants (the run's training settings with these keys changed):

    fp32            train.amp off, train.compile false   (the committed default)
    fp32+compile    train.compile true
    bf16            train.amp bf16                        (numerics change: bf16 convolutions)
    bf16+compile    both

Each child trains RUN for ``--iterations`` (validation and the checkpoint only at the end), times every
``train_step`` and reports the steady-state time per step (median after ``--warmup`` steps: compilation excluded),
the wall time of the whole run (compilation, data loading, validation included) and the final training loss.
Needs the pipeline's patch sets (``dvc repro crop``).

    python scripts/bench_train_speed.py                            # embedded fdrnet, 150 iterations, 2 rounds
    python scripts/bench_train_speed.py --run owan --iterations 60 --variants fp32,bf16
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

VARIANTS = {"fp32": {}, "fp32+compile": {"compile": True}, "bf16": {"amp": "bf16"},
            "bf16+compile": {"amp": "bf16", "compile": True}}


def child(args) -> int:
    """Train once under one variant; print one JSON line."""
    from fdr import config
    from fdr.config.runs import resolve
    from fdr.train import trainer as trainer

    times: list[float] = []
    plain = trainer.train_step

    def timed(*a, **k):
        t0 = time.perf_counter()
        out = plain(*a, **k)
        out[0].item()  # wait for the step (a no-op on CPU, a synchronisation on CUDA)
        times.append(time.perf_counter() - t0)
        return out

    trainer.train_step = timed
    cfg = config.load(args.params)
    run = resolve(cfg, args.run)
    n = args.iterations
    tc = dataclasses.replace(run.train_cfg, iterations=n, val_every=n, checkpoint_every=n, log_every=n,
                             **VARIANTS[args.child])
    run = run._replace(train_cfg=tc)
    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        summary = trainer.train(cfg, run, Path(out) / args.run, progress=False)
        wall = time.perf_counter() - t0
    steady = statistics.median(times[args.warmup:])
    print(json.dumps({"variant": args.child, "step_s": steady, "first_step_s": times[0], "wall_s": wall,
                      "batch": tc.batch_size, "final_loss": summary["final_loss"], "val_psnr": summary["val_psnr"]}))
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--run", default="fdrnet")
    parser.add_argument("--iterations", type=int, default=150)
    parser.add_argument("--warmup", type=int, default=10, help="steps left out of the steady-state median")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--child", choices=list(VARIANTS), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args)
    names = args.variants.split(",")
    unknown = [v for v in names if v not in VARIANTS]
    if unknown or args.iterations <= args.warmup:
        parser.error(f"--variants: choose from {', '.join(VARIANTS)}" if unknown else "--iterations must exceed --warmup")
    results: dict[str, list[dict]] = {v: [] for v in names}
    for r in range(args.rounds):
        for v in names:
            cmd = [sys.executable, __file__, "--child", v, "--params", args.params, "--run", args.run,
                   "--iterations", str(args.iterations), "--warmup", str(args.warmup)]
            done = subprocess.run(cmd, capture_output=True, text=True, cwd=Path.cwd())
            if done.returncode != 0:
                print(done.stderr[-3000:], file=sys.stderr)
                return 1
            results[v].append(json.loads(done.stdout.strip().splitlines()[-1]))
            row = results[v][-1]
            print(f"round {r + 1} {v:13s} {row['step_s'] * 1e3:7.1f} ms/step  wall {row['wall_s']:6.1f} s  "
                  f"loss {row['final_loss']:.6f}", flush=True)
    base = statistics.median(x["step_s"] for x in results[names[0]])
    print(f"\nrun {args.run}, {args.iterations} iterations, batch {results[names[0]][0]['batch']}, "
          f"{args.rounds} rounds (median over rounds; speed-up against {names[0]})")
    print("| variant | ms per step | patches/s | speed-up | wall per run (s) | final loss | same loss each round |")
    print("|---|--:|--:|--:|--:|--:|:-:|")
    for v in names:
        step = statistics.median(x["step_s"] for x in results[v])
        losses = {x["final_loss"] for x in results[v]}
        print(f"| {v} | {step * 1e3:.1f} | {results[v][0]['batch'] / step:.0f} | {base / step:.2f}x | "
              f"{statistics.median(x['wall_s'] for x in results[v]):.1f} | {results[v][0]['final_loss']:.5f} | "
              f"{'yes' if len(losses) == 1 else 'no'} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
