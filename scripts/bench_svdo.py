"""Cost of the SVDO term (Eq. 5) per FDR-Net training step.

For each configuration, times a full training step (forward, loss, backward, Adam step) with
``L1 + beta * SVDO`` against the same step with L1 only, interleaved so that load from other
processes affects both alike, and times SVDO alone (forward + backward on the FDM outputs of all
phases). Prints a Markdown table of the fastest of ``--repeats`` steps (the least disturbed by
other processes on a shared machine) and, in brackets, the median.

    python scripts/bench_svdo.py [--device cpu|cuda] [--repeats 5] [--configs paper,small]
                                 [--threads N] [--clock wall|cpu] [--step-times]

On a shared CPU, wall-clock times depend on the other processes' load; ``--threads 1 --clock cpu``
measures the process CPU time of a single-threaded step instead, which other processes barely
change.

``--solver`` instead times full paper-size training steps with SVDO's eigensolver called once per phase
(as ``torch.stack([svdo(f) for f in phases]).mean()``) against one call for all phases
(``fdr.train.losses.svdo_mean``, what ``fdr_loss`` uses), interleaved in ``--repeats`` rounds of 20 steps.

``--step-times`` instead prints the time of one training step (forward + L1 [+ SVDO] + backward +
Adam) per batch of 16 48x48 crops for the paper models and smaller variants, in the contiguous
and the channels_last memory format: the figures used to size a CPU training profile.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from fdr.config import DnCNNConfig, ModelConfig, OWANConfig, TrainConfig
from fdr.models import build, count_parameters
from fdr.train.losses import fdr_loss, svdo, svdo_mean
from fdr.train.trainer import make_optimizer, train_step

CONFIGS = {
    # name: (model config, batch, patch)
    "paper": (ModelConfig(), 28, 63),  # Table 6 defaults, paper batch 28, 63x63 patches
    "small": (ModelConfig(channels=16, phases=2), 16, 48),  # an embedded-profile size
}


clock = time.perf_counter  # replaced by time.process_time with --clock cpu


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bench(cfg: ModelConfig, batch: int, patch: int, device: torch.device, repeats: int) -> dict:
    model = build("fdrnet", cfg, seed=0).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    g = torch.Generator().manual_seed(0)
    x = torch.rand(batch, 3, patch, patch, generator=g).to(device)
    t = torch.rand(batch, 3, patch, patch, generator=g).to(device)

    def step(beta: float) -> float:
        _sync(device)
        start = clock()
        y, feats = model(x, return_features=True)
        loss, _ = fdr_loss(y, t, feats if beta > 0 else None, beta)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        _sync(device)
        return clock() - start

    def svdo_alone() -> float:
        with torch.no_grad():
            _, feats = model(x, return_features=True)
        fs = [f.detach().requires_grad_(True) for f in feats["fdm_out"]]
        _sync(device)
        start = clock()
        torch.stack([svdo(f) for f in fs]).mean().backward()
        _sync(device)
        return clock() - start

    step(1e-5), step(0.0), svdo_alone()  # warm-up
    with_svdo, without, alone = [], [], []
    for _ in range(repeats):
        with_svdo.append(step(1e-5))
        without.append(step(0.0))
        alone.append(svdo_alone())
    return {
        "params": count_parameters(model),
        **{f"{k}_min": min(v) for k, v in (("l1", without), ("svdo", with_svdo), ("alone", alone))},
        **{f"{k}_med": statistics.median(v) for k, v in (("l1", without), ("svdo", with_svdo), ("alone", alone))},
    }


STEP_MODELS = {
    "fdrnet paper (C=32, 7 phases)": ("fdrnet", ModelConfig()),
    "fdrnet C=16, 1 phase": ("fdrnet", ModelConfig(channels=16, phases=1)),
    "fdrnet C=16, 2 phases": ("fdrnet", ModelConfig(channels=16, phases=2)),
    "fdrnet C=16, 2 phases, PM=1, aux=1": ("fdrnet", ModelConfig(channels=16, phases=2, pm_blocks=1, aux_blocks=1)),
    "dncnn paper (17 x 64)": ("dncnn", DnCNNConfig()),
    "dncnn 17 x 32": ("dncnn", DnCNNConfig(channels=32)),
    "dncnn 17 x 24": ("dncnn", DnCNNConfig(channels=24)),
    "owan paper (10 groups)": ("owan", OWANConfig()),
    "owan 2 groups": ("owan", OWANConfig(groups=2)),
    "owan 1 group": ("owan", OWANConfig(groups=1)),
}


def step_times(device: torch.device, repeats: int, batch: int = 16, patch: int = 48) -> None:
    g = torch.Generator().manual_seed(0)
    x0 = torch.rand(batch, 3, patch, patch, generator=g)
    t0 = torch.rand(batch, 3, patch, patch, generator=g)
    print("| model | params | step, contiguous (ms) | step, channels_last (ms) |")
    print("|---|---:|---:|---:|")
    for label, (name, cfg) in STEP_MODELS.items():
        cells = []
        for fmt in (torch.contiguous_format, torch.channels_last):
            model = build(name, cfg, seed=0).to(device, memory_format=fmt)
            optimizer, scheduler, scaler = make_optimizer(model, TrainConfig(), device.type == "cuda")
            x, t = (v.to(device).contiguous(memory_format=fmt) for v in (x0, t0))
            times = []
            for _ in range(repeats + 1):
                _sync(device)
                start = clock()
                train_step(model, x, t, optimizer, scheduler, scaler, beta=1e-5)  # the trainer's step
                _sync(device)
                times.append(clock() - start)
            times = times[1:]  # first step: warm-up
            cells.append(f"{1e3 * min(times):.0f} ({1e3 * statistics.median(times):.0f})")
        print(f"| {label} | {count_parameters(model):,} | {cells[0]} | {cells[1]} |", flush=True)


def solver_ab(device: torch.device, repeats: int, steps: int = 20) -> None:
    cfg, batch, patch = CONFIGS["paper"]
    model = build("fdrnet", cfg, seed=0).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    g = torch.Generator().manual_seed(0)
    x = torch.rand(batch, 3, patch, patch, generator=g).to(device)
    t = torch.rand(batch, 3, patch, patch, generator=g).to(device)
    ways = {
        "per phase": lambda outs: torch.stack([svdo(f) for f in outs]).mean(),
        "one call": lambda outs: svdo_mean(outs),
    }

    def block(reg) -> float:
        _sync(device)
        start = clock()
        for _ in range(steps):
            y, feats = model(x, return_features=True)
            loss = torch.nn.functional.l1_loss(y, t) + 1e-5 * reg(feats["fdm_out"])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        _sync(device)
        return (clock() - start) / steps

    for reg in ways.values():
        block(reg)  # warm-up
    times = {k: [] for k in ways}
    for _ in range(repeats):
        for k, reg in ways.items():
            times[k].append(block(reg))
    print(f"paper FDR-Net, batch {batch} x {patch}x{patch}, {repeats} rounds of {steps} steps (median, min):")
    for k, v in times.items():
        print(f"  eigensolver {k:9s}: {1e3 * statistics.median(v):7.1f} ms/step ({1e3 * min(v):.1f}), "
              f"{1 / statistics.median(v):.2f} it/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--configs", default=",".join(CONFIGS), help="comma-separated subset of " + ", ".join(CONFIGS))
    parser.add_argument("--step-times", action="store_true", help="per-batch step times of several models instead")
    parser.add_argument("--solver", action="store_true", help="eigensolver once per phase vs once per step")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall", help="wall clock or process CPU time")
    args = parser.parse_args()
    global clock
    if args.clock == "cpu":
        clock = time.process_time
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"device: {name}; torch {torch.__version__}; {args.clock} clock; best of {args.repeats} steps (median)\n")
    if args.step_times:
        step_times(device, args.repeats)
        return
    if args.solver:
        solver_ab(device, args.repeats)
        return
    print("| config | params | batch x patch | step, L1 only (ms) | step, L1 + SVDO (ms) | difference | "
          "SVDO fwd+bwd alone (ms) | alone / step |")
    print("|---|---:|---|---:|---:|---:|---:|---:|")
    for key in args.configs.split(","):
        if key not in CONFIGS:
            parser.error(f"--configs: unknown configuration {key!r} (expected {', '.join(CONFIGS)})")
        cfg, batch, patch = CONFIGS[key]
        r = bench(cfg, batch, patch, device, args.repeats)
        diff = (r["svdo_min"] - r["l1_min"]) / r["l1_min"]
        share = r["alone_min"] / r["l1_min"]
        desc = f"{key}: C={cfg.channels}, phases={cfg.phases}"
        ms = lambda k: f"{1e3 * r[k + '_min']:.1f} ({1e3 * r[k + '_med']:.1f})"  # noqa: E731
        print(f"| {desc} | {r['params']:,} | {batch} x {patch}x{patch} | {ms('l1')} | {ms('svdo')} | "
              f"{100 * diff:+.1f} % | {ms('alone')} | {100 * share:.1f} % |", flush=True)


if __name__ == "__main__":
    main()
