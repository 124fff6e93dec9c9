"""GPU benchmark of FDR-Net training: throughput, AMP / channels_last correctness, paper-profile smoke run.

Sections (each timed; one that fails is recorded with its traceback and the next one runs):

1. environment: GPU, torch / CUDA / cuDNN / Python versions, CPU count, TF32 flags.
2. throughput of the trainer's step (``fdr.train``: autocast forward with ``return_features=True``,
   ``fdr_loss`` in float32, GradScaler for fp16, Adam, StepLR) for the paper profile's FDR-Net at its
   batch and patch size: amp off/bf16/fp16 x contiguous/channels_last; fp32 with TF32 off/on; without
   the per-step host read of the loss; with deterministic algorithms (the profile's
   ``train.deterministic``); DnCNN and OWAN. Iterations/s over blocks of steps timed between
   ``torch.cuda.synchronize`` calls after a warm-up, peak GPU memory, host syncs per step.
   ``cudnn.benchmark`` is on here and in section 3.
3. correctness: bf16 / fp16 / TF32 / channels_last outputs and gradients against strict fp32
   (same weights, same batch of blurred and noised crops of scikit-image photos), then short trainings
   (same seed, same batch sequence) in fp32, bf16 and fp16.
4. smoke run of the pipeline code with the paper profile (``data.source`` stays ``embedded``) in a
   scratch folder: raw images, synthesis, crop, ``fdr.train.train`` (needs dvclive), evaluation.

Then the projected time of the paper's 200,000 iterations. Sections stop being started when
``--budget-s`` is nearly spent. Writes ``gpu_bench.json`` and ``gpu_bench.md`` to ``--out``
(default ``$OUT`` if set, else ``reports/gpu``), after every section.

    python scripts/bench_gpu.py [--out DIR] [--budget-s 240] [--smoke-amp auto|off|bf16|fp16|both]
    python scripts/bench_gpu.py --quick        # tiny sizes, runs on CPU in under 2 minutes

Where dvclive is not installed (the GPU machine), carry its wheels (``.whl/``) and put them on
``PYTHONPATH`` first (``pip install --target DIR .whl/*.whl``, then ``PYTHONPATH=DIR:.``).
"""
from __future__ import annotations

import argparse
import copy
import dataclasses
import gc
import hashlib
import json
import math
import os
import platform
import shutil
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from anywhere without installing
# fdr.train sets this before its first cuBLAS call when train.deterministic is true (the paper
# profile's setting); set it here, before CUDA starts, so the section-4 trainer runs as it would alone.
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")

import numpy as np
import torch

from fdr.config import Config, ModelConfig, load
from fdr.losses import fdr_loss
from fdr.models import build, count_parameters

PAPER_ITERATIONS = 200_000
# Pass marks of section 3 (AMP / TF32 / channels_last against strict fp32).
OUTPUT_PSNR_MIN_DB = 40.0  # output vs the fp32 output, both clamped to [0, 1]
GRAD_COSINE_MIN = 0.99  # flattened parameter gradients vs fp32
TRAIN_LOSS_REL_TOL = 0.05  # |mean of last 50 losses - fp32's| / fp32's
CHANNELS_LAST_MAX_ABS = 1e-3  # channels_last vs contiguous output, same precision
# Deadlines as fractions of --budget-s: section 2 starts no config after 45 %, section 3 ends by 62 %,
# the smoke run gets the rest (its data steps take seconds; its training is sized to fit).
DEADLINE = {"throughput": 0.45, "correctness": 0.62}
SMOKE_RESERVE_S = 25.0  # the smoke run's time outside training (data steps, validation, evaluation)


# ------------------------------------------------------------------------------------------ helpers

def log(msg: str) -> None:
    print(msg, flush=True)


class Clock:
    def __init__(self, budget_s: float):
        self.t0, self.budget = time.perf_counter(), budget_s

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def left(self) -> float:
        return self.budget - self.elapsed()

    def until(self, fraction: float) -> float:
        return self.budget * fraction - self.elapsed()


def jsonable(x: Any) -> Any:
    """Plain JSON data; non-finite floats as strings."""
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, (np.floating, np.integer)):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    if isinstance(x, (str, int, float, bool)) or x is None:
        return x
    return str(x)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def free(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def peak_mib(device: torch.device) -> float | None:
    return round(torch.cuda.max_memory_allocated(device) / 2**20, 1) if device.type == "cuda" else None


TF32_MODES = {"default": None, "off": (False, False), "on": (True, True)}  # (matmul, cudnn)


class tf32:
    """Set (matmul, cudnn) TF32 permission for a block; ``default`` leaves the process's flags."""

    def __init__(self, mode: str):
        self.flags = TF32_MODES[mode]

    def __enter__(self):
        self.saved = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
        if self.flags is not None:
            torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = self.flags

    def __exit__(self, *exc):
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = self.saved


class deterministic_algorithms:
    """What fdr.train does for ``train.deterministic: true``, undone afterwards."""

    def __init__(self, on: bool):
        self.on = on

    def __enter__(self):
        self.saved = (torch.are_deterministic_algorithms_enabled(),
                      torch.is_deterministic_algorithms_warn_only_enabled(),
                      torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
        if self.on:
            torch.use_deterministic_algorithms(True, warn_only=True)
            torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False

    def __exit__(self, *exc):
        torch.use_deterministic_algorithms(self.saved[0], warn_only=self.saved[1])
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = self.saved[2:]


def photo_pairs(n: int, patch: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` (degraded, clean) uint8 pairs N x 3 x P x P: random crops of scikit-image's astronaut,
    chelsea and coffee, each photo degraded at 4 random levels (Gaussian blur sigma 0.5-2.5, then
    Gaussian noise sigma 5-25 on the 0-255 scale)."""
    import skimage.data
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    variants = []
    for img in (skimage.data.astronaut(), skimage.data.chelsea(), skimage.data.coffee()):
        clean = img[..., :3].astype(np.float32)
        for _ in range(4):
            sb, sn = rng.uniform(0.5, 2.5), rng.uniform(5.0, 25.0)
            noisy = gaussian_filter(clean, sigma=(sb, sb, 0), mode="nearest") + rng.normal(0.0, sn, clean.shape)
            variants.append((np.clip(np.rint(noisy), 0, 255).astype(np.uint8), img[..., :3]))
    inp = np.empty((n, patch, patch, 3), np.uint8)
    tgt = np.empty_like(inp)
    for i in range(n):
        deg, clean = variants[rng.integers(len(variants))]
        y, x = rng.integers(0, clean.shape[0] - patch + 1), rng.integers(0, clean.shape[1] - patch + 1)
        inp[i], tgt[i] = deg[y:y + patch, x:x + patch], clean[y:y + patch, x:x + patch]
    return (torch.from_numpy(inp).permute(0, 3, 1, 2).contiguous(),
            torch.from_numpy(tgt).permute(0, 3, 1, 2).contiguous())


class Step:
    """The optimisation step of ``fdr.train`` (single process) on uint8 batches."""

    def __init__(self, name: str, mcfg: ModelConfig, cfg: Config, device: torch.device, amp: str,
                 channels_last: bool, seed: int = 0):
        self.device, self.amp, self.channels_last, self.beta = device, amp, channels_last, cfg.train.beta
        self.normalize = cfg.train.svdo_normalize
        self.model = build(name, mcfg, seed=seed).to(device)
        if channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.model.train()
        self.opt = torch.optim.Adam(self.model.parameters(), lr=cfg.train.lr)
        self.sched = torch.optim.lr_scheduler.StepLR(self.opt, step_size=cfg.train.lr_step, gamma=cfg.train.lr_decay)
        self.dtype = torch.bfloat16 if amp == "bf16" else torch.float16
        self.scaler = torch.amp.GradScaler(device.type, enabled=amp == "fp16")
        self.nonfinite = 0

    def __call__(self, inp: torch.Tensor, tgt: torch.Tensor, host_read: bool = True) -> torch.Tensor:
        dev = self.device
        x = inp.to(dev, non_blocking=True).float().div_(255)
        t = tgt.to(dev, non_blocking=True).float().div_(255)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(dev.type, dtype=self.dtype, enabled=self.amp != "off"):
            y, feats = self.model(x, return_features=True)
        loss, parts = fdr_loss(y, t, feats, self.beta, normalize=self.normalize)
        stats = torch.stack([loss.detach(), parts["l1"], parts["svdo"]]).float()
        if host_read:  # a per-step read for logging and a NaN check (what fdr.train did up to 1104c2f)
            loss_v = stats.tolist()[0]
            self.nonfinite += not math.isfinite(loss_v)
        self.opt.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.opt)
        self.scaler.update()
        self.sched.step()
        return stats


def count_syncs(fn: Callable[[], Any], device: torch.device) -> dict | None:
    """Synchronizing CUDA calls made by ``fn`` (torch's sync debug mode), with their call sites."""
    if device.type != "cuda":
        return None
    sync(device)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            fn()
        finally:
            torch.cuda.set_sync_debug_mode("default")
    hits = [w for w in caught if "synchroniz" in str(w.message).lower()]
    sites: dict[str, int] = {}
    for w in hits:
        key = f"{Path(w.filename).name}:{w.lineno}"
        sites[key] = sites.get(key, 0) + 1
    return {"count": len(hits), "sites": sites}


def time_steps(step: Callable[[], Any], device: torch.device, warmup: int, target_s: float,
               blocks: int = 3) -> dict:
    """Seconds per step over up to ``blocks`` blocks of equal length (about ``target_s`` in all; no
    further block once twice that has passed, e.g. on a machine busier than at the calibration)."""
    for _ in range(warmup):
        step()
    sync(device)
    t = time.perf_counter()
    for _ in range(2):
        step()
    sync(device)
    n = max(2, round(target_s / blocks / max((time.perf_counter() - t) / 2, 1e-6)))
    per: list[float] = []
    start = time.perf_counter()
    while len(per) < blocks and (not per or time.perf_counter() - start < 2 * target_s):
        sync(device)
        t = time.perf_counter()
        for _ in range(n):
            step()
        sync(device)
        per.append((time.perf_counter() - t) / n)
    per.sort()
    return {"step_s": per[len(per) // 2], "step_s_min": per[0], "step_s_max": per[-1], "steps_per_block": n,
            "blocks": len(per)}


# --------------------------------------------------------------------------------------- configuration

def paper_config(quick: bool, scratch: Path | None = None) -> tuple[Config, dict]:
    """params.yaml with profiles/paper.yaml applied, except ``data.source`` (stays embedded: no
    internet on the GPU machine); ``--quick`` shrinks model, batch and patch counts."""
    from fdr.commands.profile import load_profile

    overlay = load_profile("paper", REPO / "profiles")
    overlay.pop("data.source", None)
    extra: dict = {}
    if scratch is not None:
        extra.update({"data.root": str(scratch / "data"), "synthesis.didhy": False, "synthesis.single": False,
                      "synthesis.workers": max(1, min(16, os.cpu_count() or 1))})
    if quick:
        extra.update({"model.channels": 8, "model.phases": 1, "model.pm_blocks": 1, "model.aux_blocks": 1,
                      "model.dncnn_depth": 5, "model.dncnn_channels": 8, "model.owan_groups": 1,
                      "model.owan_channels": 8, "train.batch_size": 4, "train.val_patches": 32})
        if scratch is None:
            extra["crop.patch"] = 24
    cfg = load(REPO / "params.yaml", overrides={**overlay, **extra})
    return cfg, extra


# ------------------------------------------------------------------------------------------- sections

def section_environment(device: torch.device) -> dict:
    from fdr.checkpoint import git_revision

    env: dict[str, Any] = {
        "python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__,
        "cuda_runtime": torch.version.cuda, "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "cpu_count": os.cpu_count(), "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "torch_threads": torch.get_num_threads(), "platform": platform.platform(),
        "device": str(device), "git_revision": git_revision(REPO),
        "CUBLAS_WORKSPACE_CONFIG": os.environ.get("CUBLAS_WORKSPACE_CONFIG"),
        "tf32_at_start": {"cuda.matmul.allow_tf32": torch.backends.cuda.matmul.allow_tf32,
                          "cudnn.allow_tf32": torch.backends.cudnn.allow_tf32,
                          "float32_matmul_precision": torch.get_float32_matmul_precision(),
                          "cuda.matmul.fp32_precision": getattr(torch.backends.cuda.matmul, "fp32_precision", None),
                          "cudnn.conv.fp32_precision": getattr(getattr(torch.backends.cudnn, "conv", None),
                                                               "fp32_precision", None)},
    }
    code = {}
    for rel in ("fdr/train.py", "fdr/losses.py", "fdr/models/fdrnet.py", "fdr/models/gdn.py", "fdr/models/blocks.py",
                "fdr/data/degrade.py", "fdr/data/synthesize.py", "fdr/data/dataset.py"):
        p = REPO / rel
        code[rel] = hashlib.sha256(p.read_bytes()).hexdigest()[:12] if p.is_file() else None
    env["code_sha256_12"] = code
    if device.type == "cuda":
        prop = torch.cuda.get_device_properties(device)
        env.update(gpu=torch.cuda.get_device_name(device), capability=f"{prop.major}.{prop.minor}",
                   gpu_memory_gib=round(prop.total_memory / 2**30, 1), multiprocessors=prop.multi_processor_count,
                   bf16_supported=torch.cuda.is_bf16_supported())
        try:
            import pynvml

            pynvml.nvmlInit()
            drv = pynvml.nvmlSystemGetDriverVersion()
            env["driver"] = drv.decode() if isinstance(drv, bytes) else drv
        except Exception as exc:  # noqa: BLE001  (optional: the driver version only)
            env["driver"] = f"unknown ({type(exc).__name__})"
    env["cudnn_benchmark_for_sections_2_3"] = torch.backends.cudnn.benchmark
    try:
        import dvclive

        env["dvclive"] = getattr(dvclive, "__version__", "importable")
    except Exception as exc:  # noqa: BLE001  (reported; section 4 skips training)
        env["dvclive"] = f"not importable: {type(exc).__name__}: {exc}"
    for k, v in env.items():
        log(f"  {k}: {v}")
    return env


def throughput_configs() -> list[dict]:
    """Section 2's configurations, most important first (the list is cut when time runs short)."""
    out = []
    for amp in ("off", "bf16", "fp16"):
        for cl in (False, True):
            out.append({"model": "fdrnet", "amp": amp, "channels_last": cl})
    out += [
        {"model": "fdrnet", "amp": "off", "channels_last": False, "host_read": False},
        {"model": "fdrnet", "amp": "bf16", "channels_last": False, "host_read": False},
        {"model": "fdrnet", "amp": "off", "channels_last": False, "tf32": "off"},
        {"model": "fdrnet", "amp": "off", "channels_last": False, "tf32": "on"},
        {"model": "fdrnet", "amp": "bf16", "channels_last": False, "deterministic": True},
        {"model": "fdrnet", "amp": "off", "channels_last": False, "deterministic": True},
        {"model": "dncnn", "amp": "off", "channels_last": False},
        {"model": "dncnn", "amp": "bf16", "channels_last": False},
        {"model": "owan", "amp": "off", "channels_last": False},
        {"model": "owan", "amp": "bf16", "channels_last": False},
    ]
    for c in out:
        c.setdefault("host_read", True)
        c.setdefault("tf32", "default")
        c.setdefault("deterministic", False)
    return out


def config_label(c: dict) -> str:
    parts = [c["model"], "fp32" if c["amp"] == "off" else c["amp"]]
    if c["channels_last"]:
        parts.append("channels_last")
    if c["tf32"] != "default":
        parts.append(f"TF32 {c['tf32']}")
    if not c["host_read"]:
        parts.append("no host read")
    if c["deterministic"]:
        parts.append("deterministic")
    return " ".join(parts)


def section_throughput(cfg: Config, device: torch.device, args, clock: Clock) -> dict:
    batch, patch = cfg.train.batch_size, cfg.crop.patch
    inp, tgt = photo_pairs(batch, patch, seed=1)
    if device.type == "cuda":
        inp, tgt = inp.pin_memory(), tgt.pin_memory()
    rows, skipped = [], []
    est = None
    for c in throughput_configs():
        label = config_label(c)
        need = est if est is not None else 3 * args.time_s
        if clock.until(DEADLINE["throughput"]) < need:
            skipped.append(label)
            continue
        t_cfg = time.perf_counter()
        free(device)
        mcfg = dataclasses.replace(cfg.model, name=c["model"])
        row = {"label": label, **c, "batch": batch, "patch": patch}
        step = None
        try:
            with tf32(c["tf32"]), deterministic_algorithms(c["deterministic"]), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # deterministic-algorithm notices, once per op
                step = Step(c["model"], mcfg, cfg, device, c["amp"], c["channels_last"])
                row["params"] = count_parameters(step.model)
                last: list = [None]

                def one(step=step, last=last, host_read=c["host_read"]):
                    last[0] = step(inp, tgt, host_read=host_read)

                for _ in range(args.warmup):
                    one()
                if step.scaler.is_enabled():  # fp16: go on until a step keeps the loss scale (no skipped step)
                    for _ in range(40):
                        before = step.scaler.get_scale()
                        one()
                        if step.scaler.get_scale() >= before:
                            break
                    row["fp16_scale_after_warmup"] = step.scaler.get_scale()
                row.update(time_steps(one, device, 0, args.time_s))
                row["syncs_per_step"] = count_syncs(one, device)
                row["loss_finite"] = bool(torch.isfinite(last[0]).all())
                row["nonfinite_host_reads"] = step.nonfinite
                if step.scaler.is_enabled():
                    row["fp16_scale_after_timing"] = step.scaler.get_scale()
            row["it_per_s"] = 1.0 / row["step_s"]
            row["patches_per_s"] = batch / row["step_s"]
            row["hours_200k"] = PAPER_ITERATIONS * row["step_s"] / 3600
            row["peak_mem_mib"] = peak_mib(device)
        except Exception as exc:  # noqa: BLE001  (recorded; the next config runs)
            traceback.print_exc()
            row["error"] = f"{type(exc).__name__}: {exc}"
        finally:
            step = None
            free(device)
        row["wall_s"] = round(time.perf_counter() - t_cfg, 2)
        est = row["wall_s"] * 1.2
        rows.append(row)
        if "error" in row:
            log(f"  {label:45s} ERROR {row['error']}")
        else:
            syncs = row["syncs_per_step"]["count"] if row["syncs_per_step"] else "-"
            log(f"  {label:45s} {row['it_per_s']:8.2f} it/s {row['patches_per_s']:9.1f} patches/s "
                f"peak {row['peak_mem_mib']} MiB, syncs/step {syncs} ({row['wall_s']} s)")
    out = {"batch": batch, "patch": patch, "cudnn_benchmark": torch.backends.cudnn.benchmark,
           "timed_s_per_config": args.time_s, "warmup_steps": args.warmup, "rows": rows}
    if skipped:
        out["skipped"] = {"configs": skipped, "reason": "section-2 deadline of the --budget-s reached"}
        log(f"  skipped (time): {', '.join(skipped)}")
    return out


def compare(y: torch.Tensor, ref: torch.Tensor) -> dict:
    d = (y - ref).abs()
    mse = float(((y.clamp(0, 1) - ref.clamp(0, 1)) ** 2).mean())
    return {"max_abs": float(d.max()), "mean_abs": float(d.mean()),
            "psnr_db": 10 * math.log10(1.0 / mse) if mse > 0 else float("inf")}


def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a @ b) / (a.norm() * b.norm()).clamp_min(1e-300))


def section_correctness(cfg: Config, device: torch.device, args, clock: Clock, throughput: dict | None) -> dict:
    batch, patch, beta, normalize = cfg.train.batch_size, cfg.crop.patch, cfg.train.beta, cfg.train.svdo_normalize
    mcfg = dataclasses.replace(cfg.model, name="fdrnet")
    base = build("fdrnet", mcfg, seed=0).to(device).train()
    inp, tgt = photo_pairs(batch, patch, seed=2)
    x0, t = inp.to(device).float().div_(255), tgt.to(device).float().div_(255)

    def one_step(amp: str, cl: bool, tf: str) -> dict:
        """Output, loss and unscaled gradients; fp16 halves the loss scale after an overflow until the
        gradients are finite, as GradScaler does over the first steps of a run."""
        scale = 2.0**16
        for backoffs in range(40):
            model = copy.deepcopy(base)
            x = x0
            if cl:
                model = model.to(memory_format=torch.channels_last)
                x = x0.contiguous(memory_format=torch.channels_last)
            scaler = torch.amp.GradScaler(device.type, init_scale=scale, enabled=amp == "fp16")
            opt = torch.optim.SGD(model.parameters(), lr=0.0)
            with tf32(tf):
                with torch.autocast(device.type, dtype=torch.bfloat16 if amp == "bf16" else torch.float16,
                                    enabled=amp != "off"):
                    y, feats = model(x, return_features=True)
                loss, parts = fdr_loss(y, t, feats, beta, normalize=normalize)
                scaler.scale(loss).backward()
                scaler.unscale_(opt)
            grad = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1).double()
                              for p in model.parameters()])
            if amp != "fp16" or bool(torch.isfinite(grad).all()):
                break
            scale /= 2
        return {"y": y.detach().float().contiguous(), "loss": float(loss.detach()), "l1": float(parts["l1"]),
                "svdo": float(parts["svdo"]), "grad": grad,
                "fp16_loss_scale": scale if amp == "fp16" else None, "fp16_backoffs": backoffs if amp == "fp16" else None}

    ref = one_step("off", False, "off")
    variants = [("fp32 TF32 default flags", "off", False, "default"), ("fp32 TF32 on", "off", False, "on"),
                ("fp32 channels_last", "off", True, "off"), ("bf16", "bf16", False, "default"),
                ("fp16", "fp16", False, "default"), ("bf16 channels_last", "bf16", True, "default"),
                ("fp16 channels_last", "fp16", True, "default")]
    outs, rows = {}, []
    for label, amp, cl, tf in variants:
        r = one_step(amp, cl, tf)
        outs[label] = r
        row = {"variant": label, "amp": amp, "channels_last": cl, "tf32": tf, **compare(r["y"], ref["y"]),
               "loss": r["loss"], "loss_ref": ref["loss"], "loss_rel_diff": abs(r["loss"] - ref["loss"]) / abs(ref["loss"]),
               "l1_rel_diff": abs(r["l1"] - ref["l1"]) / abs(ref["l1"]),
               "svdo_rel_diff": abs(r["svdo"] - ref["svdo"]) / max(abs(ref["svdo"]), 1e-30),
               "grad_cosine": cosine(r["grad"], ref["grad"]),
               "grad_rel_err": float((r["grad"] - ref["grad"]).norm() / ref["grad"].norm().clamp_min(1e-300)),
               "finite": bool(torch.isfinite(r["y"]).all() and torch.isfinite(r["grad"]).all()),
               "fp16_loss_scale": r["fp16_loss_scale"], "fp16_backoffs": r["fp16_backoffs"]}
        if cl:
            twin = {"fp32 channels_last": None, "bf16 channels_last": "bf16", "fp16 channels_last": "fp16"}[label]
            other = ref["y"] if twin is None else outs[twin]["y"]
            row["vs_contiguous_max_abs"] = float((r["y"] - other).abs().max())
        rows.append(row)
        log(f"  {label:26s} max|d| {row['max_abs']:.3e} mean|d| {row['mean_abs']:.3e} PSNR {row['psnr_db']:.1f} dB "
            f"grad cos {row['grad_cosine']:.5f} loss rel {row['loss_rel_diff']:.2e}"
            + (f" vs contiguous {row['vs_contiguous_max_abs']:.2e}" if cl else ""))
    del outs, ref
    out: dict[str, Any] = {"reference": "fp32, TF32 off, contiguous; same weights (seed 0) and batch",
                           "batch": batch, "patch": patch, "one_step": rows}

    # ---- short trainings: same seed, same batch sequence
    step_s = {}
    for r in (throughput or {}).get("rows", []):
        if r.get("model") == "fdrnet" and not r["channels_last"] and r["tf32"] == "default" and r["host_read"] \
                and not r["deterministic"] and "step_s" in r:
            step_s[r["amp"]] = r["step_s"]
    iters = args.train_iters
    if len(step_s) == 3:
        fit = int((clock.until(DEADLINE["correctness"]) - 3.0) / (sum(step_s.values()) * 1.15))
        iters = max(0, min(iters, fit))
    if iters < 60:
        out["training"] = {"skipped": f"{iters} iterations asked for or fitting before the section-3 deadline "
                                      "(at least 60 needed)"}
        return out
    pool_n = min(iters * batch, 8400)
    pool_in, pool_tg = (a.to(device) for a in photo_pairs(pool_n, patch, seed=3))
    order = torch.randperm(pool_n, generator=torch.Generator().manual_seed(4))
    batches = order[torch.arange(iters * batch) % pool_n].reshape(iters, batch).to(device)
    hold_in, hold_tg = (a.to(device) for a in photo_pairs(4 * batch, patch, seed=5))
    hold_x, hold_t = hold_in.float().div_(255), hold_tg.float().div_(255)
    out["training"] = {"iterations": iters, "pool_patches": pool_n, "lr": cfg.train.lr, "beta": beta,
                       "held_out_patches": len(hold_x),
                       "held_out_input_psnr_db": 10 * math.log10(1.0 / float(((hold_x - hold_t) ** 2).mean())),
                       "runs": []}
    for amp in ("off", "bf16", "fp16"):
        free(device)
        step = Step("fdrnet", mcfg, cfg, device, amp, channels_last=False, seed=0)
        losses = torch.empty(iters, device=device)
        sync(device)
        t0 = time.perf_counter()
        for k in range(iters):
            idx = batches[k]
            losses[k] = step(pool_in[idx], pool_tg[idx], host_read=False)[0]
        sync(device)
        wall = time.perf_counter() - t0
        lv = losses.cpu().double().numpy()
        finite = np.isfinite(lv)
        with torch.no_grad():
            y = torch.cat([step.model(hold_x[i:i + batch]).float() for i in range(0, len(hold_x), batch)])
            mse = float(((y.clamp(0, 1) - hold_t) ** 2).mean())
        run = {"amp": amp, "loss_start": float(lv[0]), "loss_last50_mean": float(lv[finite][-50:].mean()) if finite.any() else None,
               "nonfinite_losses": int((~finite).sum()), "weights_finite": all(bool(torch.isfinite(p).all()) for p in step.model.parameters()),
               "held_out_psnr_db": 10 * math.log10(1.0 / mse) if mse > 0 else float("inf"),
               "it_per_s": iters / wall, "wall_s": round(wall, 2)}
        if step.scaler.is_enabled():
            run["final_grad_scale"] = step.scaler.get_scale()
        out["training"]["runs"].append(run)
        log(f"  train {amp:4s}: loss {run['loss_start']:.4f} -> last-50 mean {fmt(run['loss_last50_mean'], '.4f')}, "
            f"non-finite {run['nonfinite_losses']}, held-out PSNR {run['held_out_psnr_db']:.2f} dB "
            f"(input {out['training']['held_out_input_psnr_db']:.2f}), {run['it_per_s']:.1f} it/s")
        step = None
    return out


def verdicts(correct: dict | None) -> dict:
    """Which choices pass section 3's marks (``None``: not measured). AMP needs the one-step marks
    and, where the short trainings ran, finite losses ending within the tolerance of fp32's."""
    res: dict[str, Any] = {k: None for k in ("off", "bf16", "fp16", "tf32_on", "channels_last")}
    if not correct or "one_step" not in correct:
        return res
    rows = {r["variant"]: r for r in correct["one_step"]}
    runs = {r["amp"]: r for r in correct.get("training", {}).get("runs", [])}

    def one_step_ok(label: str) -> bool | None:
        r = rows.get(label)
        if r is None:
            return None
        return bool(r["finite"] and r["psnr_db"] >= OUTPUT_PSNR_MIN_DB and r["grad_cosine"] >= GRAD_COSINE_MIN)

    res["off"] = one_step_ok("fp32 TF32 default flags")
    res["tf32_on"] = one_step_ok("fp32 TF32 on")
    ref = (runs.get("off") or {}).get("loss_last50_mean")
    for amp in ("bf16", "fp16"):
        res[amp] = one_step_ok(amp)
        r = runs.get(amp)
        if res[amp] and r is not None and ref is not None:
            res[amp] = (r["nonfinite_losses"] == 0 and r["weights_finite"] and r["loss_last50_mean"] is not None
                        and abs(r["loss_last50_mean"] - ref) <= TRAIN_LOSS_REL_TOL * ref)
    cl = [r for r in correct["one_step"] if r["channels_last"]]
    res["channels_last"] = bool(cl) and all(r["vs_contiguous_max_abs"] <= CHANNELS_LAST_MAX_ABS for r in cl)
    res["basis"] = "one step + short training" if runs else "one step only (short trainings not run)"
    res["marks"] = {"output_psnr_min_db": OUTPUT_PSNR_MIN_DB, "grad_cosine_min": GRAD_COSINE_MIN,
                    "train_loss_rel_tol": TRAIN_LOSS_REL_TOL, "channels_last_max_abs": CHANNELS_LAST_MAX_ABS}
    return res


def fdrnet_rate(throughput: dict | None, amp: str, deterministic: bool) -> float | None:
    """Section 2's it/s of FDR-Net as the trainer steps (contiguous, default TF32 flags, host read)."""
    for r in (throughput or {}).get("rows", []):
        if r.get("model") == "fdrnet" and r["amp"] == amp and not r["channels_last"] and r["tf32"] == "default" \
                and r["host_read"] and r["deterministic"] == deterministic and "it_per_s" in r:
            return r["it_per_s"]
    return None


def section_smoke(args, device: torch.device, clock: Clock, throughput: dict | None, ok: dict) -> dict:
    """Section 4 in a scratch folder (removed afterwards unless ``--scratch`` or ``--keep-scratch``); what
    was measured before a failure is kept beside the error."""
    scratch = Path(args.scratch) if args.scratch else Path(tempfile.mkdtemp(prefix="fdr-bench-"))
    scratch.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {"scratch": str(scratch), "steps": {}}
    try:
        _smoke(args, device, clock, throughput, ok, scratch, out)
    except Exception as exc:  # noqa: BLE001  (recorded with the partial results)
        traceback.print_exc()
        out.update(error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc())
    finally:
        if not args.keep_scratch and not args.scratch:
            shutil.rmtree(scratch, ignore_errors=True)
    return out


def _smoke(args, device: torch.device, clock: Clock, throughput: dict | None, ok: dict, scratch: Path,
           out: dict) -> None:
    from fdr.data.patches import crop
    from fdr.data.sources import prepare_raw
    from fdr.data.synthesize import synthesize
    from fdr.runs import resolve
    from stages.evaluate import evaluate_run

    cfg, extra = paper_config(args.quick, scratch)
    out.update(overrides_beyond_paper_profile={"data.source": "embedded", **extra},
               deterministic=cfg.train.deterministic, channels_last=cfg.train.channels_last)
    steps = out["steps"]

    def quiet(msg: str) -> None:
        pass

    def timed(name: str, fn: Callable[[], Any]) -> Any:
        t0 = time.perf_counter()
        res = fn()
        steps[name] = round(time.perf_counter() - t0, 2)
        log(f"  {name}: {steps[name]} s")
        return res

    raw = timed("raw images (download stage)", lambda: prepare_raw(cfg, progress=False, log=quiet))
    out["raw_images"] = int((raw["status"] == "ok").sum())
    synth = timed("synthesize", lambda: synthesize(cfg, progress=False, log=quiet))
    out["synth_samples"] = {k: v["samples"] for k, v in synth["sets"].items()}
    out["patches"] = {k: v["patches"] for k, v in timed("crop", lambda: crop(cfg, log=quiet)).items()}
    log(f"  patches: {out['patches']}")
    out["input_metrics"] = timed("evaluate input", lambda: evaluate_run(cfg, "input", scratch, progress=False))

    try:
        from dvclive import Live  # noqa: F401  (fdr.train logs through it)
    except Exception as exc:  # noqa: BLE001  (any import failure: training is skipped, said why)
        out["training"] = f"skipped: dvclive is not importable ({type(exc).__name__}: {exc})"
        log(f"  training {out['training']}")
        return
    from fdr.train import train

    if args.smoke_amp == "auto":
        amps = ["bf16", "off"] if ok.get("bf16") else ["off"]
        out["amp_choice"] = ("auto: bf16 passed section 3, so bf16, then fp32 if time allows" if ok.get("bf16")
                             else f"auto: fp32 (bf16 verdict of section 3: {ok.get('bf16')})")
    else:
        amps = ["off", "bf16"] if args.smoke_amp == "both" else [args.smoke_amp]
    if device.type != "cuda":
        out["note"] = "not CUDA: fdr.train ignores train.amp, every run is fp32"
    spec = resolve(cfg, "fdrnet")
    runs: list[dict] = []
    out["runs"] = runs
    iters = args.smoke_iters
    for i, amp in enumerate(amps):
        det = cfg.train.deterministic
        rate = fdrnet_rate(throughput, amp, det) or fdrnet_rate(throughput, amp, False)
        first_rate = runs and runs[0].get("trainer_it_per_s") and fdrnet_rate(throughput, runs[0]["amp"], det)
        if rate and first_rate:  # scale by how the real trainer compared with section 2 in the first run
            rate *= runs[0]["trainer_it_per_s"] / first_rate
        room = clock.left() - SMOKE_RESERVE_S
        if i == 0 and not args.smoke_iters_fixed:
            share = room / (len(amps) if args.smoke_amp == "both" else 1)
            iters = min(iters, 300) if rate is None else int(min(iters, 0.75 * rate * min(args.smoke_train_s, share)))
            if iters < 20:
                out["training"] = f"skipped: {iters} iterations fit in the {room:.0f} s left"
                break
        elif i > 0 and not args.smoke_iters_fixed and (rate is None or iters / rate > room):
            out.setdefault("not_run", []).append(f"{amp}: {iters} iterations would not fit in the {room:.0f} s left")
            continue
        run_cfg = dataclasses.replace(cfg, train=dataclasses.replace(
            cfg.train, amp=amp, iterations=iters, checkpoint_every=iters, val_every=iters,
            log_every=min(cfg.train.log_every, iters)))
        models = scratch / f"models-{amp}"
        patches = Path(run_cfg.data.root) / "patches"
        log(f"  train fdrnet, amp {amp}, {iters} iterations"
            + (f" (about {iters / rate:.0f} s at section 2's rate)" if rate else ""))
        run: dict[str, Any] = {"amp": amp, "iterations": iters, "batch": run_cfg.train.batch_size,
                               "epochs": iters * run_cfg.train.batch_size / max(1, out["patches"].get("train", 1))}
        runs.append(run)
        try:
            summary = timed(f"train {amp}", lambda c=run_cfg, m=models, p=patches, n=iters: train(
                c, "fdrnet", m / "fdrnet", spec.model_name, spec.model_cfg, p / spec.train_set, p / spec.val_set,
                iterations=n, progress=False, seed=spec.seed))
            run.update(trainer_it_per_s=summary.get("it_per_s"), final_loss=summary.get("final_loss"),
                       val_psnr=summary.get("val_psnr"), params=summary.get("params"), device=summary.get("device"))
            run["metrics"] = timed(f"evaluate {amp}",
                                   lambda c=run_cfg, m=models: evaluate_run(c, "fdrnet", m, progress=False))
        except Exception as exc:  # noqa: BLE001  (recorded; the next run goes on)
            traceback.print_exc()
            run["error"] = f"{type(exc).__name__}: {exc}"
            continue
        m, b = run["metrics"].get("moderate", {}), out["input_metrics"].get("moderate", {})
        log(f"  {amp}: trainer {run['trainer_it_per_s']} it/s; moderate PSNR {m.get('psnr', math.nan):.2f} dB, "
            f"SSIM {m.get('ssim', math.nan):.4f} (input {b.get('psnr', math.nan):.2f} dB, {b.get('ssim', math.nan):.4f})")


def projection(results: dict, ok: dict) -> dict:
    """Hours for the paper's 200,000 iterations at the fastest FDR-Net setting that passed section 3,
    and at the real trainer's rate of the smoke run."""
    rows = [r for r in ((results["sections"].get("throughput") or {}).get("result") or {}).get("rows", [])
            if r.get("model") == "fdrnet" and "it_per_s" in r]

    def passed(r: dict) -> bool | None:
        checks = [ok.get(r["amp"]), ok.get("channels_last") if r["channels_last"] else True,
                  ok.get("tf32_on") if r["tf32"] == "on" else True]
        return None if None in checks else all(checks)

    out: dict[str, Any] = {"iterations": PAPER_ITERATIONS}
    for key, want in (("fastest_correct", True), ("fastest_unverified", None)):
        cands = [r for r in rows if passed(r) is want]
        if cands:
            best = max(cands, key=lambda r: r["it_per_s"])
            out[key] = {"config": best["label"], "it_per_s": best["it_per_s"], "hours": best["hours_200k"]}
    smoke = (results["sections"].get("smoke") or {}).get("result") or {}
    for run in smoke.get("runs", []):
        if run.get("trainer_it_per_s"):
            out[f"fdr.train smoke run, {run['amp']}"] = {
                "it_per_s": run["trainer_it_per_s"], "hours": PAPER_ITERATIONS / run["trainer_it_per_s"] / 3600,
                "deterministic": smoke.get("deterministic")}
    for k, v in out.items():
        if isinstance(v, dict):
            log(f"  {k}: " + ", ".join(f"{a} {b:.3g}" if isinstance(b, float) else f"{a} {b}" for a, b in v.items()))
    return out


# --------------------------------------------------------------------------------------------- report

def fmt(v: Any, spec: str = ".2f") -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return format(v, spec) if math.isfinite(v) else str(v)
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def markdown(results: dict) -> str:
    sec = {k: (v.get("result") or {}) for k, v in results["sections"].items()}
    L = [f"# GPU benchmark, {results['started']}", "",
         (f"`python scripts/bench_gpu.py {' '.join(results['argv'])}`: {fmt(results.get('total_wall_s'), '.1f')} s "
          f"of a {results['budget_s']:.0f} s budget on {results['device']}. All figures are this run's measurements; "
          "gpu_bench.json has every field."), "", "| section | status | wall s | note |", "|---|---|---:|---|"]
    for name, s in results["sections"].items():
        L.append(f"| {name} | {s['status']} | {fmt(s.get('wall_s'), '.1f')} | {s.get('error') or s.get('reason') or ''} |")
    env = sec.get("environment")
    if env:
        L += ["", "## Environment", "", "| | |", "|---|---|"]
        L += [f"| {k} | {env[k]} |" for k in ("gpu", "capability", "gpu_memory_gib", "driver", "torch", "cuda_runtime",
                                              "cudnn", "python", "cpu_count", "tf32_at_start", "cudnn_benchmark_for_sections_2_3",
                                              "CUBLAS_WORKSPACE_CONFIG", "dvclive", "git_revision") if k in env]
    tp = sec.get("throughput")
    if tp:
        L += ["", (f"## Training-step throughput: batch {tp['batch']}, {tp['patch']}x{tp['patch']}, Adam, "
                   f"cudnn.benchmark {tp['cudnn_benchmark']}"), "",
              ("fp32 = autocast off with the process's TF32 flags (see Environment). Every row reads the loss back "
               "to the host each step (`stats.tolist()`, the NaN check of fdr.train up to 1104c2f) unless it says "
               "`no host read`; deterministic = what `train.deterministic: true` sets; fp16 rows are timed after "
               "the loss scale settled."), "",
              "| configuration | params | it/s | patches/s | ms/step (min-max) | peak MiB | syncs/step | 200k it, h |",
              "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for r in tp["rows"]:
            if "error" in r:
                L.append(f"| {r['label']} | | error: {r['error']} | | | | | |")
                continue
            syncs = r["syncs_per_step"]["count"] if r.get("syncs_per_step") else "-"
            L.append(f"| {r['label']} | {fmt(r.get('params'))} | {r['it_per_s']:.2f} | {r['patches_per_s']:.0f} | "
                     f"{1e3 * r['step_s']:.2f} ({1e3 * r['step_s_min']:.2f}-{1e3 * r['step_s_max']:.2f}) | "
                     f"{fmt(r['peak_mem_mib'], '.0f')} | {syncs} | {r['hours_200k']:.2f} |")
        if tp.get("skipped"):
            L.append(f"\nNot timed ({tp['skipped']['reason']}): {', '.join(tp['skipped']['configs'])}.")
    co = sec.get("correctness")
    if co:
        L += ["", f"## Correctness against {co['reference']}", "",
              "| variant | max abs | mean abs | PSNR vs fp32, dB | loss rel diff | grad cosine | grad rel err | vs contiguous, max abs |",
              "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for r in co["one_step"]:
            L.append(f"| {r['variant']} | {r['max_abs']:.2e} | {r['mean_abs']:.2e} | {fmt(r['psnr_db'], '.1f')} | "
                     f"{r['loss_rel_diff']:.2e} | {r['grad_cosine']:.6f} | {r['grad_rel_err']:.2e} | "
                     f"{fmt(r.get('vs_contiguous_max_abs'), '.2e')} |")
        tr = co.get("training", {})
        if tr.get("runs"):
            L += ["", (f"Short trainings: {tr['iterations']} iterations from seed 0 on one batch sequence; held-out "
                       f"input PSNR {tr['held_out_input_psnr_db']:.2f} dB."), "",
                  "| amp | loss at start | mean of last 50 | non-finite losses | held-out PSNR, dB | it/s |",
                  "|---|---:|---:|---:|---:|---:|"]
            L += [f"| {r['amp']} | {r['loss_start']:.5f} | {fmt(r['loss_last50_mean'], '.5f')} | {r['nonfinite_losses']} | "
                  f"{fmt(r['held_out_psnr_db'])} | {r['it_per_s']:.1f} |" for r in tr["runs"]]
        elif tr.get("skipped"):
            L.append(f"\nShort trainings skipped: {tr['skipped']}")
    v = results.get("verdicts") or {}
    if v.get("marks"):
        L += ["", "Verdicts (" + v["basis"] + "; marks " + ", ".join(f"{k} {x}" for k, x in v["marks"].items()) + "): "
              + ", ".join(f"{k} {fmt(v[k])}" for k in ("off", "bf16", "fp16", "tf32_on", "channels_last")) + "."]
    sm = sec.get("smoke")
    if sm:
        L += ["", "## Paper-profile smoke run (embedded images, the pipeline's code)", "",
              "Overrides beyond profiles/paper.yaml: "
              + ", ".join(f"`{k}={x}`" for k, x in sm.get("overrides_beyond_paper_profile", {}).items())
              + f"; train.deterministic {sm.get('deterministic')}. Patches: {sm.get('patches')}.", "",
              "| step | wall s |", "|---|---:|"] + [f"| {k} | {x} |" for k, x in sm["steps"].items()]
        base = sm.get("input_metrics") or {}
        if sm.get("runs"):
            L += ["", "| amp | iterations | epochs | trainer it/s | final loss | level | PSNR | SSIM | input PSNR | input SSIM |",
                  "|---|---:|---:|---:|---:|---|---:|---:|---:|---:|"]
            for r in sm["runs"]:
                if "error" in r:
                    L.append(f"| {r['amp']} | {r['iterations']} | | error: {r['error']} | | | | | | |")
                for level, m in (r.get("metrics") or {}).items():
                    b = base.get(level, {})
                    L.append(f"| {r['amp']} | {r['iterations']} | {r['epochs']:.3g} | {fmt(r['trainer_it_per_s'], '.3g')} | "
                             f"{fmt(r['final_loss'], '.4f')} | {level} | {m['psnr']:.2f} | {m['ssim']:.4f} | "
                             f"{fmt(b.get('psnr'))} | {fmt(b.get('ssim'), '.4f')} |")
        L += [f"\n{k}: {sm[k]}" for k in ("amp_choice", "training", "not_run", "note", "error") if sm.get(k)]
    pr = results.get("projection")
    if pr:
        L += ["", f"## Projected time of the paper's {pr['iterations']:,} iterations", ""]
        L += [f"- {k}: " + ", ".join(f"{a} {fmt(b, '.3g')}" for a, b in x.items()) for k, x in pr.items() if isinstance(x, dict)]
    return "\n".join(L) + "\n"


def write(results: dict, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "gpu_bench.json").write_text(json.dumps(jsonable(results), indent=2) + "\n")
    (out_dir / "gpu_bench.md").write_text(markdown(results))


# ----------------------------------------------------------------------------------------------- main

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT") or REPO / "reports" / "gpu"))
    parser.add_argument("--budget-s", type=float, default=240.0, help="stop starting work after this many seconds")
    parser.add_argument("--quick", action="store_true", help="tiny sizes (CPU dry run of the script)")
    parser.add_argument("--device", choices=("auto", "cuda", "cpu"), default="auto")
    parser.add_argument("--time-s", type=float, default=None, help="timed seconds per throughput config (1.5; quick 0.2)")
    parser.add_argument("--warmup", type=int, default=None, help="warm-up steps per config (10; quick 1)")
    parser.add_argument("--train-iters", type=int, default=None, help="section-3 training iterations (300; quick 60)")
    parser.add_argument("--smoke-amp", choices=("auto", "off", "bf16", "fp16", "both"), default="auto",
                        help="auto: bf16 if section 3 passes it (then fp32 too if time allows), else fp32")
    parser.add_argument("--smoke-iters", type=int, default=None, help="most smoke-run iterations (1500; quick 8)")
    parser.add_argument("--smoke-iters-fixed", action="store_true", help="run exactly --smoke-iters (no time fit)")
    parser.add_argument("--smoke-train-s", type=float, default=60.0, help="target training seconds of one smoke run")
    parser.add_argument("--scratch", default=None, help="scratch folder for the smoke run (default: a temporary one)")
    parser.add_argument("--keep-scratch", action="store_true")
    parser.add_argument("--sections", default="environment,throughput,correctness,smoke")
    args = parser.parse_args(argv)
    q = args.quick
    args.time_s = args.time_s if args.time_s is not None else (0.2 if q else 1.5)
    args.warmup = args.warmup if args.warmup is not None else (1 if q else 10)
    args.train_iters = args.train_iters if args.train_iters is not None else (60 if q else 300)
    args.smoke_iters = args.smoke_iters if args.smoke_iters is not None else (8 if q else 1500)
    if q:
        args.smoke_iters_fixed = True
    wanted = set(args.sections.split(","))

    clock = Clock(args.budget_s)
    if args.device == "cpu" or (args.device == "auto" and not torch.cuda.is_available()):
        device = torch.device("cpu")
    else:
        device = torch.device("cuda", 0)
    if q and device.type == "cpu":
        torch.set_num_threads(1)  # a dry run of the script: one thread keeps it quick on a busy machine
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # sections 2 and 3 (fdr.train sets its own flags in section 4)
    results: dict[str, Any] = {"started": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "argv": sys.argv[1:] if argv is None else argv,
                               "quick": q, "budget_s": args.budget_s, "device": str(device), "sections": {}}
    log(f"bench_gpu: device {device}, budget {args.budget_s:.0f} s{' (quick)' if q else ''}, out {args.out}")
    cfg, extra = paper_config(q)
    results["model_cfg"] = dataclasses.asdict(cfg.model)
    results["train_cfg"] = dataclasses.asdict(cfg.train)
    results["config_overrides_beyond_paper_profile"] = extra

    def section(name: str, fn: Callable[[], Any], min_left_s: float) -> Any:
        if name not in wanted:
            results["sections"][name] = {"status": "skipped", "reason": "not in --sections"}
            return None
        if clock.left() < min_left_s:
            reason = f"budget: {clock.left():.0f} s left, section needs about {min_left_s:.0f} s"
            results["sections"][name] = {"status": "skipped", "reason": reason}
            log(f"== {name}: skipped ({reason})")
            write(results, args.out)
            return None
        log(f"== {name} (at {clock.elapsed():.0f} s)")
        t0 = time.perf_counter()
        entry: dict[str, Any] = {}
        try:
            entry.update(status="ok", result=fn())
        except Exception as exc:  # noqa: BLE001  (a failing section must not stop the others)
            traceback.print_exc()
            entry.update(status="error", error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc())
            free(device)
        if isinstance(entry.get("result"), dict) and entry["result"].get("error"):  # partial results kept
            entry.update(status="error", error=entry["result"]["error"])
        entry["wall_s"] = round(time.perf_counter() - t0, 2)
        results["sections"][name] = entry
        log(f"== {name}: {entry['status']} in {entry['wall_s']} s")
        write(results, args.out)
        return entry.get("result")

    if q:
        log(f"  quick: model {extra}")
    section("environment", lambda: section_environment(device), 0)
    tp = section("throughput", lambda: section_throughput(cfg, device, args, clock), 0.3 * args.budget_s)
    co = section("correctness", lambda: section_correctness(cfg, device, args, clock, tp), 0.2 * args.budget_s)
    ok = verdicts(co)
    results["verdicts"] = ok
    section("smoke", lambda: section_smoke(args, device, clock, tp, ok), SMOKE_RESERVE_S + 15)
    log("== projection")
    results["projection"] = projection(results, ok)
    results["total_wall_s"] = round(clock.elapsed(), 1)
    write(results, args.out)
    log(f"bench_gpu: done in {results['total_wall_s']} s; wrote {args.out / 'gpu_bench.json'} and gpu_bench.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
