"""Training loop (paper §3.6, §4.3): Adam, step decay, loss L1 + beta * SVDO (Eq. 8), resumable.

- Optimiser and schedule: Adam (lr 1e-4), learning rate x0.8 every 9,000 iterations, global batch 28
  (``params.yaml: train``). The budget is a number of iterations, so a run is reproducible.
- Batches: every epoch is a permutation of the training patches drawn from ``(seed, epoch)``;
  global batch ``k`` is permutation entries ``[k B, (k+1) B)`` and the incomplete tail is dropped.
  Under DDP each rank takes an interleaved share of that same global batch (``DistributedSampler``
  with ``drop_last``), so the batch sequence does not depend on the number of processes, and an
  iteration number alone says where the sequence stands (resuming skips no data and repeats none).
- Device: CUDA when present (``train.device: auto``), else CPU; AMP (bf16/fp16 autocast) applies on
  CUDA only, ``channels_last`` on both (on CPU it speeds up depthwise convolutions, e.g. OWAN's);
  one code path for both devices. The loss is computed in float32.
- Checkpoint: ``out_dir/checkpoint.pt`` every ``checkpoint_every`` iterations and at the end,
  written atomically (see :mod:`fdr.checkpoint`). A rerun resumes from it when its fingerprint
  (seed, model, optimisation settings, training data, source code of model/loss/data/trainer)
  matches; otherwise it starts from scratch and says why. With deterministic algorithms on CPU
  a run killed at any point and resumed ends with the same weights as an uninterrupted one.
- Losses stay on the device and are read back to the host only when something is logged, validated or
  saved, not after every step (SVDO's eigensolver still waits for the GPU once per step). A non-finite loss then stops
  training with :class:`TrainingError` naming the first non-finite iteration; the last checkpoint (written
  only after its losses were checked and with finite weights) stays.
- Logs: DVCLive under ``out_dir/live`` (``train/loss``, ``train/l1``, ``train/svdo``, ``train/lr``
  every ``log_every`` iterations; ``val/psnr``, ``val/ssim`` every ``val_every``), a tqdm bar,
  and ``out_dir/summary.json`` at the end. Only rank 0 writes.
"""
from __future__ import annotations

import csv
import dataclasses
import hashlib
import inspect
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler
from tqdm import tqdm

from fdr import checkpoint as ckpt
from fdr import distributed
from fdr.config import Config, ModelConfig, to_dict
from fdr.data.dataset import PatchDataset
from fdr.evaluate import evaluate_model
from fdr.losses import fdr_loss
from fdr.models import build, count_parameters

CHECKPOINT = "checkpoint.pt"
SUMMARY = "summary.json"
LIVE = "live"


class TrainingError(RuntimeError):
    """Training cannot go on (non-finite loss or weights, ranks out of sync); the message says where."""


class BatchOrder:
    """The global batch sequence: epoch ``e`` is ``randperm(n, seed + e)`` cut into ``n // B`` batches
    of ``B`` patches; this rank's part of each batch comes from a ``DistributedSampler``."""

    def __init__(self, dataset: Dataset, batch_size: int, seed: int, ctx: distributed.Context):
        n = len(dataset)
        if batch_size % ctx.world_size:
            raise ValueError(
                f"train.batch_size: {batch_size} is the global batch and must be divisible by the "
                f"{ctx.world_size} processes"
            )
        if n < batch_size:
            raise ValueError(f"training set: {n} patches, fewer than train.batch_size = {batch_size}")
        self.dataset, self.seed, self.ctx = dataset, seed, ctx
        self.local_batch = batch_size // ctx.world_size
        self.per_epoch = n // batch_size

    def epoch_batches(self, epoch: int) -> list[list[int]]:
        sampler = DistributedSampler(
            self.dataset, num_replicas=self.ctx.world_size, rank=self.ctx.rank,
            shuffle=True, seed=self.seed, drop_last=True,
        )
        sampler.set_epoch(epoch)
        idx = list(sampler)
        b = self.local_batch
        return [idx[k * b:(k + 1) * b] for k in range(self.per_epoch)]

    def stream(self, start_iteration: int, num_workers: int, pin_memory: bool):
        """Yield ``(input, target)`` uint8 batches from iteration ``start_iteration`` on, forever."""
        epoch, position = divmod(start_iteration, self.per_epoch)
        while True:
            if hasattr(self.dataset, "set_epoch"):
                self.dataset.set_epoch(epoch)
            loader = DataLoader(
                self.dataset, batch_sampler=self.epoch_batches(epoch)[position:],
                num_workers=num_workers, pin_memory=pin_memory,
                generator=torch.Generator().manual_seed(self.seed),  # keep the global RNG untouched
            )
            yield from loader
            epoch, position = epoch + 1, 0


# ------------------------------------------------------------------------------------ fingerprint

def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def data_identity(folder: Path) -> dict:
    """Cheap identity of a patch set: array shapes, the manifest's hash and the first/last patches' bytes."""
    folder = Path(folder)
    ident: dict[str, Any] = {}
    for name in ("input", "target"):
        arr = np.load(folder / f"{name}.npy", mmap_mode="r")
        h = hashlib.sha256(np.ascontiguousarray(arr[0]).tobytes())
        h.update(np.ascontiguousarray(arr[-1]).tobytes())
        ident[name] = {"shape": list(arr.shape), "ends_sha256": h.hexdigest()}
    manifest = folder / "manifest.csv"
    ident["manifest_sha256"] = _file_digest(manifest) if manifest.is_file() else None
    return ident


def code_identity() -> dict:
    """Hashes of the source files a trained model depends on (model, loss, data loading, trainer)."""
    import fdr.data.dataset as dataset_mod
    import fdr.losses as losses_mod
    import fdr.models as models_mod

    files = sorted(Path(models_mod.__file__).parent.glob("*.py"))
    files += [Path(inspect.getfile(m)) for m in (losses_mod, dataset_mod, sys.modules[__name__])]
    root = Path(models_mod.__file__).parents[2]
    return {str(f.relative_to(root)) if f.is_relative_to(root) else f.name: _file_digest(f) for f in files}


# Training settings that do not change the weights after a given iteration (the rest are fingerprinted).
_NOT_WEIGHTS = ("iterations", "checkpoint_every", "log_every", "val_every", "val_patches", "device", "num_workers")


def fingerprint(cfg: Config, model_name: str, model: nn.Module, train_dir: Path) -> dict:
    """Everything the weights after a given iteration depend on: seed, architecture (tensor names and shapes,
    so the fields of ``model`` another architecture reads do not count), every training setting except
    ``_NOT_WEIGHTS`` (so raising ``train.iterations`` continues a run), training data and source code."""
    return {
        "seed": cfg.seed,
        "model": model_name,
        "architecture": {k: list(v.shape) for k, v in model.state_dict().items()},
        "train": {k: v for k, v in to_dict(cfg.train).items() if k not in _NOT_WEIGHTS},
        "data": data_identity(train_dir),
        "code": code_identity(),
    }


def _differences(old: Any, new: Any, prefix: str = "") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for k in sorted(set(old) | set(new)):
            out += _differences(old.get(k), new.get(k), f"{prefix}{k}.")
        return out
    return [] if old == new else [prefix.rstrip(".")]


# ------------------------------------------------------------------------------------------ logging

def _trim_live(live_dir: Path, last_step: int) -> None:
    """Drop DVCLive rows logged after ``last_step`` (a killed run got ahead of its checkpoint) and a
    summary file a kill left half-written."""
    for tsv in (live_dir / "plots" / "metrics").rglob("*.tsv"):
        with open(tsv, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f, delimiter="\t"))
        if not rows:
            continue
        header, body = rows[0], rows[1:]
        step_col = header.index("step") if "step" in header else None
        kept = [r for r in body if len(r) == len(header) and step_col is not None
                and r[step_col].isdigit() and int(r[step_col]) <= last_step]
        if len(kept) != len(body):
            def write(f, rows=[header] + kept):
                f.write("".join("\t".join(r) + os.linesep for r in rows).encode())
            ckpt.atomic_write(tsv, write)
    metrics = live_dir / "metrics.json"
    if metrics.is_file():
        try:
            json.loads(metrics.read_text())
        except ValueError:
            metrics.unlink()


def _open_live(live_dir: Path, resume: bool):
    from dvclive import Live

    return Live(str(live_dir), resume=resume, dvcyaml=False, save_dvc_exp=False, report=None)


def _write_json(path: Path, data: dict) -> None:
    text = json.dumps(data, indent=2, sort_keys=False) + "\n"
    ckpt.atomic_write(path, lambda f: f.write(text.encode()))


# ------------------------------------------------------------------------------------------ helpers

def _configure_determinism(deterministic: bool, device: torch.device) -> None:
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # needed by cuBLAS in deterministic mode
        # warn_only: a few CUDA backward kernels (adaptive pooling) have no deterministic variant
        torch.use_deterministic_algorithms(True, warn_only=True)
    if device.type == "cuda":
        torch.backends.cudnn.deterministic = deterministic
        torch.backends.cudnn.benchmark = not deterministic


def _params_finite(model: nn.Module) -> bool:
    return all(bool(torch.isfinite(p).all()) for p in model.parameters())


def _checksum(model: nn.Module) -> list[float]:
    with torch.no_grad():
        flat = [p.detach().double() for p in model.parameters()]
        return [float(sum(t.sum() for t in flat)), float(sum(t.abs().sum() for t in flat))]


# --------------------------------------------------------------------------------------------- train

def train(
    cfg: Config,
    run: str,
    out_dir: Path,
    model_name: str,
    model_cfg: ModelConfig,
    train_dir: Path,
    val_dir: Optional[Path],
    iterations: Optional[int] = None,
    progress: bool = True,
    seed: Optional[int] = None,
) -> dict:
    """Train ``model_name`` for ``iterations`` (default ``cfg.train.iterations``) and write
    ``out_dir/{checkpoint.pt, live/, summary.json}``; resumes from ``out_dir/checkpoint.pt``.
    ``seed`` (default ``cfg.seed``) drives the initial weights, the batch order and the crops.
    Returns the summary (on every rank)."""
    tc = cfg.train
    total = int(iterations or tc.iterations)
    if seed is not None and seed != cfg.seed:
        cfg = dataclasses.replace(cfg, seed=seed)
    out_dir, train_dir = Path(out_dir), Path(train_dir)
    ctx = distributed.setup(tc.device)
    previous = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled())
    try:
        return _train(cfg, run, out_dir, model_name, model_cfg, train_dir, val_dir, total, progress, ctx)
    finally:
        torch.use_deterministic_algorithms(previous[0], warn_only=previous[1])
        distributed.teardown(ctx)


def _log(ctx: distributed.Context, msg: str) -> None:
    if ctx.is_main:
        print(msg, file=sys.stderr, flush=True)


def _train(cfg, run, out_dir, model_name, model_cfg, train_dir, val_dir, total, progress, ctx) -> dict:
    tc = cfg.train
    device = ctx.device
    _configure_determinism(tc.deterministic, device)
    cuda = device.type == "cuda"
    if not cuda and tc.amp != "off":
        _log(ctx, f"{run}: train.amp applies on CUDA only; ignored on {device}")
    use_amp = cuda and tc.amp != "off"
    amp_dtype = torch.bfloat16 if tc.amp == "bf16" else torch.float16
    channels_last = tc.channels_last
    if val_dir is not None and not Path(val_dir).is_dir():
        raise FileNotFoundError(f"{val_dir}: validation patch set not found (run the crop stage first)")

    dataset = PatchDataset(train_dir, crop=tc.crop, seed=cfg.seed)
    order = BatchOrder(dataset, tc.batch_size, cfg.seed, ctx)

    model = build(model_name, model_cfg, seed=cfg.seed)
    if ctx.distributed and cuda:
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)  # BN statistics over the global batch
    model = model.to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=tc.lr)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=tc.lr_step, gamma=tc.lr_decay)
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp and tc.amp == "fp16")

    # ---- resume
    path = out_dir / CHECKPOINT
    fp = fingerprint(cfg, model_name, model, train_dir)
    start, log_state, prior_wall, resumed = 0, {}, 0.0, False
    if ctx.is_main:
        ckpt.remove_stale_temporaries(out_dir, CHECKPOINT)
    if path.is_file():
        state = ckpt.read(path, map_location="cpu")
        diff = _differences(state.get("fingerprint"), fp)
        if diff:
            _log(ctx, f"{path}: trained with other settings ({', '.join(diff[:6])}); training {run} from scratch")
        elif state["iteration"] > total:
            _log(ctx, f"{path}: already at iteration {state['iteration']} > budget {total}; training {run} from scratch")
        else:
            ckpt.load_state_strict(model, state["model"], str(path))
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            if state.get("scaler"):
                scaler.load_state_dict(state["scaler"])
            ckpt.set_rng_state(state["rng"])
            start, log_state, prior_wall, resumed = state["iteration"], dict(state["log"]), state["wall_s"], True
            _log(ctx, f"{run}: resuming from {path} at iteration {start}")
        del state
    log_state = {"loss_sum": 0.0, "l1_sum": 0.0, "svdo_sum": 0.0, "count": 0, "last": {}, "best_val_psnr": None,
                 "best_val_iteration": None, "val": {}, **log_state}

    net: nn.Module = model
    if ctx.distributed:
        net = nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if cuda else None)

    live = None
    if ctx.is_main:
        live_dir = out_dir / LIVE
        if resumed:
            _trim_live(live_dir, start)
        live = _open_live(live_dir, resume=resumed)

    n_params = count_parameters(model)
    git_rev = ckpt.git_revision()
    last_good = start if resumed else None

    def save(iteration: int) -> None:
        nonlocal last_good
        if not _params_finite(model):
            raise TrainingError(
                f"{run}: weights became non-finite by iteration {iteration}; not saved. "
                + (f"The last good checkpoint ({path}, iteration {last_good}) is kept." if last_good else "")
            )
        ckpt.save(path, {
            "run": run, "model_name": model_name, "model_cfg": to_dict(model_cfg),
            "model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(), "scaler": scaler.state_dict() if scaler.is_enabled() else None,
            "iteration": iteration, "rng": ckpt.rng_state(),
            "data_order": {"seed": cfg.seed, "epoch": iteration // order.per_epoch,
                           "position": iteration % order.per_epoch, "batches_per_epoch": order.per_epoch},
            "config": to_dict(cfg), "fingerprint": fp, "git_revision": git_rev,
            "log": log_state, "wall_s": prior_wall + time.perf_counter() - t_session,
        })
        last_good = iteration

    def validate(iteration: int) -> None:
        res = evaluate_model(model, val_dir, cfg.evaluate.batch_size, device, max_patches=tc.val_patches)
        log_state["val"] = {"iteration": iteration, "psnr": res["psnr"], "ssim": res["ssim"], "patches": res["patches"]}
        if log_state["best_val_psnr"] is None or res["psnr"] > log_state["best_val_psnr"]:
            log_state["best_val_psnr"], log_state["best_val_iteration"] = res["psnr"], iteration
        live.log_metric("val/psnr", res["psnr"])
        live.log_metric("val/ssim", res["ssim"])

    t_session = time.perf_counter()
    bar = tqdm(total=total, initial=start, desc=run, unit="it", dynamic_ncols=True, mininterval=1.0,
               disable=not (progress and ctx.is_main))
    try:
        if start < total:
            batches = order.stream(start, tc.num_workers, pin_memory=cuda)
            model.train()
            pending: list[torch.Tensor] = []  # per-iteration (loss, l1, svdo), read back at the next flush

            def flush(upto: int) -> None:
                """Read the losses of iterations ``upto - len(pending) + 1 .. upto`` back to the host (one
                synchronisation per flush, not per step): stop at the first non-finite one, add the rest to
                the logging sums."""
                rows = distributed.all_mean(torch.stack(pending).float(), ctx).tolist()
                first = upto - len(rows) + 1
                pending.clear()
                for i, (loss_v, l1_v, svdo_v) in enumerate(rows):
                    if not math.isfinite(loss_v):
                        kept = f"the last good checkpoint ({path}, iteration {last_good}) is kept" if last_good \
                            else "no checkpoint was written yet"
                        raise TrainingError(
                            f"{run}: loss is {loss_v} at iteration {first + i} (not finite); stopped, {kept}")
                    log_state["loss_sum"] += loss_v
                    log_state["l1_sum"] += l1_v
                    log_state["svdo_sum"] += svdo_v
                    log_state["count"] += 1

            for it in range(start + 1, total + 1):  # ``it`` = optimisation steps done after this one
                inp, tgt = next(batches)
                x = inp.to(device, non_blocking=True).float().div_(255)
                t = tgt.to(device, non_blocking=True).float().div_(255)
                if channels_last:
                    x = x.contiguous(memory_format=torch.channels_last)
                try:
                    with torch.autocast(device.type, dtype=amp_dtype, enabled=use_amp):
                        y, feats = net(x, return_features=True)
                    loss, parts = fdr_loss(y, t, feats, tc.beta, normalize=tc.svdo_normalize)  # Eq. 8, in float32
                except RuntimeError:  # e.g. SVDO's eigensolver on weights an earlier non-finite step broke
                    if pending:
                        flush(it - 1)  # raises TrainingError naming that step, if there was one
                    raise
                pending.append(torch.stack([loss.detach(), parts["l1"], parts["svdo"]]))
                lr = optimizer.param_groups[0]["lr"]
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
                scheduler.step()  # StepLR counts iterations: x lr_decay every lr_step of them

                bar.update(1)
                last_it = it == total
                logs = it % tc.log_every == 0 or last_it
                validates = val_dir is not None and (it % tc.val_every == 0 or last_it)
                checkpoints = it % tc.checkpoint_every == 0 or last_it
                if logs or validates or checkpoints:  # the same iterations on every rank (a collective)
                    flush(it)  # before anything is logged or saved: a non-finite loss never reaches a file
                if live is not None and (logs or validates):
                    live.step = it
                    if logs:
                        c = log_state["count"]
                        log_state["last"] = {"iteration": it, "loss": log_state["loss_sum"] / c,
                                             "l1": log_state["l1_sum"] / c, "svdo": log_state["svdo_sum"] / c,
                                             "lr": lr}
                        log_state.update(loss_sum=0.0, l1_sum=0.0, svdo_sum=0.0, count=0)
                        for key in ("loss", "l1", "svdo", "lr"):
                            live.log_metric(f"train/{key}", log_state["last"][key])
                        bar.set_postfix(loss=f"{log_state['last']['loss']:.4f}", refresh=False)
                    if validates:
                        validate(it)
                    live.next_step()
                if ctx.is_main and checkpoints:
                    save(it)
    finally:
        bar.close()

    session_s = time.perf_counter() - t_session
    done_now = total - start
    checks = distributed.all_gather_floats(_checksum(model), ctx)
    if any(c != checks[0] for c in checks):
        raise TrainingError(f"{run}: processes ended with different weights (checksums {checks})")
    last = log_state.get("last", {})
    summary = {
        "run": run, "model": model_name, "iterations": total, "params": n_params,
        "device": str(device), "world_size": ctx.world_size, "batch_size": tc.batch_size,
        "train_patches": len(dataset),
        "wall_s": round(prior_wall + session_s if done_now else prior_wall, 3),
        "it_per_s": round(done_now / session_s, 3) if done_now and session_s > 0 else None,
        "resumed_from": start if resumed else None,
        "final_loss": last.get("loss"), "final_l1": last.get("l1"), "final_svdo": last.get("svdo"),
        "final_lr": last.get("lr"),
        "val_psnr": log_state["val"].get("psnr"), "val_ssim": log_state["val"].get("ssim"),
        "val_patches": log_state["val"].get("patches"),
        "best_val_psnr": log_state["best_val_psnr"], "best_val_iteration": log_state["best_val_iteration"],
        "rank_checksums": checks, "git_revision": git_rev,
    }
    if ctx.is_main:
        _write_json(out_dir / SUMMARY, summary)
        live.end()
    return summary
