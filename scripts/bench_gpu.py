"""GPU benchmark of FDR-Net training with the library's own code: throughput, AMP correctness, smoke run.

Sections (each timed; one that fails is recorded with its traceback and the next one runs):

1. environment: the machine (:func:`fdr.provenance.machine`), torch / CUDA / cuDNN versions, TF32 flags.
2. throughput of :func:`fdr.train.trainer.train_step` (the trainer's step: autocast forward, Eq. 8 in float32, Adam,
   StepLR, from :func:`fdr.train.trainer.make_optimizer`) for the paper profile's FDR-Net at its batch and patch
   size: amp off/bf16/fp16 x contiguous/channels_last, with deterministic algorithms, DnCNN / OWAN, and
   ``torch.compile`` (``train.compile``) in float32 and bf16.
   Steps are timed between synchronisations after a warm-up; peak GPU memory.
3. correctness: bf16 / fp16 / channels_last forward outputs and gradients against fp32 on the same weights
   and batch (output PSNR, gradient cosine).
4. smoke run of the pipeline with the paper profile (``data.source`` stays ``embedded``) in a scratch folder:
   :func:`~fdr.data.sources.prepare_raw`, :func:`~fdr.data.synthesize.synthesize`, :func:`~fdr.data.patches.crop`,
   :func:`fdr.train.trainer.train`, :func:`fdr.evaluate.patches.evaluate_run`.

Then the projected time of the paper's 200,000 iterations. Sections stop being started when ``--budget-s``
is nearly spent. Writes ``gpu_bench.json`` and ``gpu_bench.md`` to ``--out`` (default ``$OUT`` if set,
else ``reports/gpu``) after every section.

    python scripts/bench_gpu.py [--out DIR] [--budget-s 240] [--smoke-amp off|bf16]
    python scripts/bench_gpu.py --quick        # tiny sizes, runs on CPU in about a minute
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import os
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # as fdr.train.trainer sets it for deterministic runs

import torch

from fdr.atomic import write_json, write_text
from fdr.config import Config, load
from fdr.config.runs import resolve
from fdr.models import build, count_parameters
from fdr.provenance import git_revision, machine
from fdr.report.tables import render
from fdr.train.losses import fdr_loss
from fdr.train.trainer import AMP_DTYPES, make_optimizer, train_step

PAPER_ITERATIONS = 200_000
OUTPUT_PSNR_MIN_DB, GRAD_COSINE_MIN = 40.0, 0.99  # section 3's pass marks against fp32


def log(msg: str) -> None:
    print(msg, flush=True)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def paper_config(quick: bool, scratch: Path | None = None) -> Config:
    """params.yaml with profiles/paper.yaml applied, except ``data.source`` (stays embedded: no internet on
    the GPU machine); ``--quick`` shrinks model, batch and patch counts."""
    from fdr.commands.profile import load_profile

    overlay = load_profile("paper", REPO / "profiles", opt_in=("quoted", "controls"))  # every row, Table 1's baselines too
    overlay.pop("data.source", None)
    if scratch is not None:
        overlay.update({"data.root": str(scratch / "data"), "synthesis.didhy": False, "synthesis.single": False,
                        "synthesis.workers": max(1, min(16, os.cpu_count() or 1))})
    if quick:
        overlay.update({"model.channels": 8, "model.phases": 1, "model.pm_blocks": 1, "model.aux_blocks": 1,
                        "baselines.dncnn.depth": 5, "baselines.dncnn.channels": 8, "baselines.owan.groups": 1,
                        "baselines.owan.channels": 8, "train.batch_size": 4, "train.val_patches": 32})
        if scratch is None:
            overlay["crop.patch"] = 24
    return load(REPO / "params.yaml", overrides=overlay)


def random_batch(n: int, patch: int, device: torch.device, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A smooth random target batch and a noisy copy (float, on ``device``): enough for timings and numerics."""
    g = torch.Generator().manual_seed(seed)
    t = torch.nn.functional.avg_pool2d(torch.rand(n, 3, patch + 4, patch + 4, generator=g), 5, 1)
    x = (t + 0.1 * torch.randn(t.shape, generator=g)).clamp(0, 1)
    return x.to(device), t.to(device)


# ------------------------------------------------------------------------------------------- sections

def section_environment(device: torch.device) -> dict:
    env: dict[str, Any] = {**machine(), "device": str(device), "git_revision": git_revision(REPO),
                           "cuda_runtime": torch.version.cuda,
                           "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
                           "tf32_matmul": torch.backends.cuda.matmul.allow_tf32, "tf32_cudnn": torch.backends.cudnn.allow_tf32}
    if device.type == "cuda":
        prop = torch.cuda.get_device_properties(device)
        env.update(capability=f"{prop.major}.{prop.minor}", gpu_memory_gib=round(prop.total_memory / 2**30, 1))
    return env


def time_steps(step: Callable[[], Any], device: torch.device, warmup: int, target_s: float) -> float:
    """Median seconds per step over three equal blocks of about ``target_s`` in all, after ``warmup`` steps."""
    for _ in range(warmup):
        step()
    sync(device)
    t = time.perf_counter()
    step()
    sync(device)
    n = max(2, round(target_s / 3 / max(time.perf_counter() - t, 1e-6)))
    per = []
    for _ in range(3):
        t = time.perf_counter()
        for _ in range(n):
            step()
        sync(device)
        per.append((time.perf_counter() - t) / n)
    return sorted(per)[1]


def throughput_row(cfg: Config, run: str, amp: str, channels_last: bool, deterministic: bool, device, args,
                   compiled: bool = False) -> dict:
    spec = resolve(cfg, run)
    tc = dataclasses.replace(cfg.train, amp=amp)
    model = build(spec.model_name, spec.model_cfg, seed=0).to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    net = torch.compile(model) if compiled else model  # as the trainer does for train.compile
    optimizer, scheduler, scaler = make_optimizer(model, tc, device.type == "cuda")
    x, t = random_batch(tc.batch_size, cfg.crop.patch, device, seed=1)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    amp_dtype = AMP_DTYPES.get(amp) if device.type == "cuda" or amp == "bf16" else None
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    previous = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(deterministic, warn_only=True)
    try:
        step_s = time_steps(lambda: train_step(net, x, t, optimizer, scheduler, scaler, tc.beta,
                                               tc.svdo, amp_dtype), device, args.warmup, args.time_s)
    finally:
        torch.use_deterministic_algorithms(previous, warn_only=True)
    peak = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None
    return {"run": run, "amp": amp, "channels_last": channels_last, "deterministic": deterministic, "compile": compiled,
            "params": count_parameters(model), "it_per_s": 1 / step_s, "patches_per_s": tc.batch_size / step_s,
            "hours_200k": PAPER_ITERATIONS * step_s / 3600, "peak_mib": peak}


def section_throughput(cfg: Config, device: torch.device, args, deadline: float) -> list[dict]:
    configs = [("fdrnet", amp, cl, False) for amp in ("off", "bf16", "fp16") for cl in (False, True)]
    configs += [("fdrnet", "off", False, True), ("dncnn", "off", False, False), ("owan", "off", False, False)]
    configs += [("fdrnet", amp, True, False, True) for amp in ("off", "bf16")]  # train.compile
    rows = []
    for c in configs:
        if time.perf_counter() > deadline:
            rows.append({"run": c[0], "amp": c[1], "skipped": "section deadline"})
            continue
        try:
            rows.append(throughput_row(cfg, *c[:4], device, args, compiled=c[4] if len(c) > 4 else False))
            log(f"  {c}: {rows[-1]['it_per_s']:.2f} it/s")
        except Exception as exc:  # noqa: BLE001  (recorded; the next configuration runs)
            rows.append({"run": c[0], "amp": c[1], "error": f"{type(exc).__name__}: {exc}"})
    return rows


def forward_backward(model, x, t, cfg: Config, amp: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Output and flattened parameter gradient of Eq. 8 under ``amp`` (fp16 loss scaled by 2^10, unscaled)."""
    model.zero_grad(set_to_none=True)
    dtype = AMP_DTYPES.get(amp)
    with torch.autocast(x.device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
        y, feats = model(x, return_features=True)
    loss, _ = fdr_loss(y, t, feats, cfg.train.beta, cfg.train.svdo)
    scale = 2.0**10 if amp == "fp16" else 1.0
    (loss * scale).backward()
    grad = torch.cat([p.grad.reshape(-1).double() / scale for p in model.parameters() if p.grad is not None])
    return y.detach().float(), grad


def section_correctness(cfg: Config, device: torch.device) -> list[dict]:
    model = build("fdrnet", cfg.model, seed=0).to(device).train()
    x, t = random_batch(cfg.train.batch_size, cfg.crop.patch, device, seed=2)
    y_ref, g_ref = forward_backward(model, x, t, cfg, "off")
    rows = []
    amps = ("bf16", "fp16") if device.type == "cuda" else ()
    for amp, cl in [(a, False) for a in amps] + [("off", True)]:
        m = model.to(memory_format=torch.channels_last if cl else torch.contiguous_format)
        y, g = forward_backward(m, x.contiguous(memory_format=torch.channels_last) if cl else x, t, cfg, amp)
        mse = float(((y.clamp(0, 1) - y_ref.clamp(0, 1)) ** 2).mean())
        cos = float(g @ g_ref / (g.norm() * g_ref.norm()).clamp_min(1e-300))
        psnr = 10 * math.log10(1 / mse) if mse > 0 else math.inf
        rows.append({"variant": f"{amp}{' channels_last' if cl else ''}", "output_psnr_db": psnr, "grad_cosine": cos,
                     "passes": psnr >= OUTPUT_PSNR_MIN_DB and cos >= GRAD_COSINE_MIN})
        model = model.to(memory_format=torch.contiguous_format)
    return rows


def section_smoke(args, device: torch.device) -> dict:
    """The pipeline's own stages at the paper profile on the embedded photos, in a scratch folder."""
    from fdr.data.patches import crop
    from fdr.data.sources import prepare_raw
    from fdr.data.synthesize import synthesize
    from fdr.evaluate.patches import evaluate_run
    from fdr.train.trainer import train

    scratch = Path(tempfile.mkdtemp(prefix="fdr-bench-"))
    out: dict[str, Any] = {"steps": {}}
    try:
        cfg = paper_config(args.quick, scratch)
        cfg = dataclasses.replace(cfg, train=dataclasses.replace(
            cfg.train, amp=args.smoke_amp, iterations=args.smoke_iters, checkpoint_every=args.smoke_iters,
            val_every=args.smoke_iters, log_every=min(cfg.train.log_every, args.smoke_iters)))
        steps = [("download", lambda: prepare_raw(cfg, progress=False, log=lambda m: None)),
                 ("synthesize", lambda: synthesize(cfg, progress=False, log=lambda m: None)),
                 ("crop", lambda: crop(cfg, log=lambda m: None)),
                 ("train", lambda: train(cfg, resolve(cfg, "fdrnet"), scratch / "models" / "fdrnet", progress=False)),
                 ("evaluate fdrnet", lambda: evaluate_run(cfg, "fdrnet", scratch / "models", progress=False)[0]),
                 ("evaluate input", lambda: evaluate_run(cfg, "input", scratch / "models", progress=False)[0])]
        for name, fn in steps:
            t0 = time.perf_counter()
            out[name] = fn()
            out["steps"][name] = round(time.perf_counter() - t0, 2)
            log(f"  {name}: {out['steps'][name]} s")
        out["trainer_it_per_s"] = out["train"]["it_per_s"]
        out["moderate"] = {k: out[f"evaluate {k}"]["moderate"]["psnr"] for k in ("fdrnet", "input")}
        for key in ("download", "synthesize", "crop", "evaluate fdrnet", "evaluate input"):
            out.pop(key)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return out


# --------------------------------------------------------------------------------------------- report

def markdown(results: dict) -> str:
    lines = [f"# GPU benchmark, {results['started']}", "", f"`python scripts/bench_gpu.py {' '.join(results['argv'])}` "
             f"on {results['device']}; every figure is this run's measurement (gpu_bench.json has every field).", ""]
    env = results.get("environment") or {}
    lines += render(["item", "value"], [[k, str(v)] for k, v in env.items()], centre=False) + [""]
    rows = [r for r in results.get("throughput") or [] if "it_per_s" in r]
    if rows:
        lines += ["## Training-step throughput (fdr.train.trainer.train_step)", ""]
        lines += render(["run", "amp", "channels_last", "deterministic", "compile", "params", "it/s", "patches/s",
                         "200k it, h", "peak MiB"],
                        [[r["run"], r["amp"], str(r["channels_last"]), str(r["deterministic"]), str(r.get("compile")),
                          f"{r['params']:,}",
                          f"{r['it_per_s']:.2f}", f"{r['patches_per_s']:.0f}", f"{r['hours_200k']:.2f}",
                          "-" if r["peak_mib"] is None else f"{r['peak_mib']:.0f}"] for r in rows]) + [""]
    if results.get("correctness"):
        lines += ["## Against fp32 (same weights and batch)", ""]
        lines += render(["variant", "output PSNR, dB", "grad cosine", "passes"],
                        [[r["variant"], f"{r['output_psnr_db']:.1f}", f"{r['grad_cosine']:.6f}", str(r["passes"])]
                         for r in results["correctness"]]) + [""]
    smoke = results.get("smoke") or {}
    if smoke.get("steps"):
        lines += ["## Paper-profile smoke run (embedded photos, the pipeline's code)", ""]
        lines += render(["step", "wall s"], [[k, str(v)] for k, v in smoke["steps"].items()]) + [""]
        lines += [f"Trainer: {smoke.get('trainer_it_per_s')} it/s; moderate PSNR {smoke.get('moderate')}.", ""]
    for name in ("throughput", "correctness", "smoke"):
        if results.get(f"{name}_error"):
            lines += [f"{name}: error {results[f'{name}_error']}", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT") or REPO / "reports" / "gpu"))
    parser.add_argument("--budget-s", type=float, default=240.0, help="stop starting sections after this many s")
    parser.add_argument("--quick", action="store_true", help="tiny sizes (CPU dry run of the script)")
    parser.add_argument("--device", choices=("auto", "cuda", "cpu"), default="auto")
    parser.add_argument("--time-s", type=float, default=None, help="timed seconds per configuration (1.5; quick 0.2)")
    parser.add_argument("--warmup", type=int, default=None, help="warm-up steps per configuration (10; quick 1)")
    parser.add_argument("--smoke-amp", choices=("off", "bf16", "fp16"), default="off")
    parser.add_argument("--smoke-iters", type=int, default=None, help="smoke-run iterations (1000; quick 8)")
    args = parser.parse_args(argv)
    args.time_s = args.time_s if args.time_s is not None else (0.2 if args.quick else 1.5)
    args.warmup = args.warmup if args.warmup is not None else (1 if args.quick else 10)
    args.smoke_iters = args.smoke_iters if args.smoke_iters is not None else (8 if args.quick else 1000)
    cuda = args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available())
    device = torch.device("cuda", 0) if cuda else torch.device("cpu")
    start = time.perf_counter()
    results: dict[str, Any] = {"started": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "device": str(device),
                               "argv": sys.argv[1:] if argv is None else argv, "quick": args.quick}
    cfg = paper_config(args.quick)
    sections = [("environment", lambda: section_environment(device)),
                ("throughput", lambda: section_throughput(cfg, device, args, start + 0.45 * args.budget_s)),
                ("correctness", lambda: section_correctness(cfg, device)),
                ("smoke", lambda: section_smoke(args, device))]
    for name, fn in sections:
        if time.perf_counter() - start > 0.8 * args.budget_s:
            results[f"{name}_error"] = "not started: budget spent"
            continue
        log(f"== {name}")
        try:
            results[name] = fn()
        except Exception as exc:  # noqa: BLE001  (a failing section must not stop the others)
            traceback.print_exc()
            results[f"{name}_error"] = f"{type(exc).__name__}: {exc}"
        write_json(args.out / "gpu_bench.json", results)
        write_text(args.out / "gpu_bench.md", markdown(results))
    log(f"bench_gpu: done in {time.perf_counter() - start:.0f} s; wrote {args.out}/gpu_bench.{{json,md}}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
