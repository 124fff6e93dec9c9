"""Training (paper §3.6, §4.3): Adam, step decay, loss L1 + beta * SVDO (Eq. 8); resumable, logged.

Read top to bottom: :func:`train` sets up (data, model, optimiser, schedule, resume, logs), runs the loop
of :func:`train_step` calls, and writes the summary.

- Optimiser and schedule: Adam (lr 1e-4), learning rate x0.8 every 9,000 iterations, global batch 28
  (``params.yaml: train``). The budget is a number of iterations, so a run is reproducible.
- Batches: :class:`fdr.data.dataset.BatchOrder`; the same sequence for any number of processes.
- Device: CUDA when present (``train.device: auto``), else CPU; AMP autocast: bf16 on both devices (on a CPU
  with AVX-512 BF16 the convolutions run about twice as fast), fp16 on CUDA only; ``channels_last`` on both
  (on CPU it speeds up depthwise convolutions, e.g. OWAN's); one code path for both devices. The loss is
  computed in float32. ``train.compile`` trains through ``torch.compile(model)`` (validation and checkpoints
  use the model itself); where compilation fails the first step says so and training goes on eagerly.
- Checkpoint: ``out_dir/checkpoint.pt`` every ``checkpoint_every`` iterations and at the end, written
  atomically, and kept where ``dvc exp run`` does not delete it (:mod:`fdr.train.resume`); a rerun resumes from
  the further of the two when :func:`fdr.train.checkpoint.resumable` allows. With deterministic algorithms on
  CPU a run killed at any point and resumed ends with the same weights as an uninterrupted one.
- Losses stay on the device and are read back to the host only when something is logged, validated or
  saved, not after every step (SVDO's eigensolver still waits for the GPU once per step). A non-finite loss
  then stops training with :class:`TrainingError` naming the first non-finite iteration; the last checkpoint
  (written only after its losses were checked and with finite weights) stays.
- Logs: DVCLive under ``out_dir/live`` (``train/loss``, ``train/l1``, ``train/svdo``, ``train/lr``
  every ``log_every`` iterations; ``val/psnr``, ``val/ssim`` every ``val_every``), a tqdm bar,
  and ``out_dir/summary.json`` at the end. Only rank 0 writes.
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
import time
from pathlib import Path
from typing import Optional

import torch
from torch import nn
from tqdm import tqdm

from fdr.atomic import write_json
from fdr.config import Config, ConfigError, to_dict
from fdr.config import load as load_config
from fdr.config.runs import Run, resolve
from fdr.data.dataset import BatchOrder, PatchDataset
from fdr.errors import InputError
from fdr.evaluate.patches import evaluate_model
from fdr.models import build, count_parameters
from fdr.provenance import git_revision
from fdr.tensors import to_device
from fdr.train import checkpoint as ckpt
from fdr.train import distributed, resume
from fdr.train.live import log_metrics, open_live
from fdr.train.log import TrainLog
from fdr.train.losses import fdr_loss

CHECKPOINT = "checkpoint.pt"
SUMMARY = "summary.json"
LIVE = "live"
AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


class TrainingError(InputError):
    """Training cannot go on (non-finite loss or weights, ranks out of sync); the message says where."""


def train_step(net: nn.Module, x: torch.Tensor, t: torch.Tensor, optimizer: torch.optim.Optimizer,
               scheduler, scaler: torch.amp.GradScaler, beta: float, reading: str = "literal",
               amp_dtype: Optional[torch.dtype] = None) -> torch.Tensor:
    """One optimisation step: forward (autocast to ``amp_dtype`` when given), Eq. 8 in float32, backward,
    Adam, StepLR (which counts iterations: x lr_decay every lr_step). Returns the detached
    ``(loss, l1, svdo)`` on the device, not read back."""
    amp = torch.autocast(x.device.type, dtype=amp_dtype) if amp_dtype is not None else contextlib.nullcontext()
    with amp:
        y, feats = net(x, return_features=True)
    loss, parts = fdr_loss(y, t, feats, beta, reading)
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    scheduler.step()
    return torch.stack([loss.detach(), parts["l1"], parts["svdo"]])


def make_optimizer(model: nn.Module, tc, cuda: bool):
    """Adam (``train.lr``), StepLR (x ``lr_decay`` every ``lr_step`` iterations) and the fp16 loss scaler
    (enabled only for ``train.amp: fp16`` on CUDA)."""
    optimizer = torch.optim.Adam(model.parameters(), lr=tc.lr)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=tc.lr_step, gamma=tc.lr_decay)
    return optimizer, scheduler, torch.amp.GradScaler("cuda", enabled=tc.amp == "fp16" and cuda)


def train(cfg: Config, run: Run, out_dir: Path, progress: bool = True, params: Optional[Path] = None) -> dict:
    """Train ``run`` (see :func:`fdr.config.runs.resolve`) with its training settings (``run.train_cfg``: the train
    section with the row's switches) and write ``out_dir/{checkpoint.pt, live/, summary.json}``; resumes from
    ``out_dir/checkpoint.pt``. ``run.seed`` drives the initial weights, the batch order and the crops. With
    ``params`` (the file ``cfg`` was read from), training stops when that file stops giving the run the settings
    it started with (:func:`stop_if_params_changed`). Returns the summary (on every rank)."""
    started = settings(cfg, run)
    cfg = dataclasses.replace(cfg, seed=run.seed, train=run.train_cfg)
    ctx = distributed.setup(cfg.train.device)
    try:
        with _determinism(cfg.train.deterministic, ctx.device):
            trainer = Trainer(cfg, run, Path(out_dir), ctx)
            trainer.watch = (Path(params), started) if params is not None else None
            trainer.loop(progress)
            return trainer.finish()
    finally:
        distributed.teardown(ctx)


class Trainer:
    """The state one training run works with; :meth:`loop` is the training loop."""

    def __init__(self, cfg: Config, run: Run, out_dir: Path, ctx: distributed.Context):
        tc, device = cfg.train, ctx.device
        self.cfg, self.run, self.out_dir, self.ctx, self.total = cfg, run, out_dir, ctx, tc.iterations
        patches = Path(cfg.data.root) / "patches"
        self.train_dir, self.val_dir = patches / run.train_set, patches / run.val_set
        if not self.val_dir.is_dir():
            raise FileNotFoundError(f"{self.val_dir}: validation patch set not found (run the crop stage first)")
        cuda = device.type == "cuda"
        self.amp_dtype = amp_dtype(tc.amp, device, self.say, run.name)
        # ---- data and model
        self.dataset = PatchDataset(self.train_dir, crop=tc.crop, seed=cfg.seed, augment=tc.augment)
        self.order = BatchOrder(self.dataset, tc.batch_size, cfg.seed, ctx.rank, ctx.world_size)
        self.model = build_model(cfg, run, ctx)
        self.optimizer, self.scheduler, self.scaler = make_optimizer(self.model, tc, cuda)
        # ---- resume
        self.path = out_dir / CHECKPOINT
        self.fingerprint = ckpt.fingerprint(cfg, run.model_name, self.model, self.train_dir, run.model_cfg)
        self.resume_state = resume.state_folder(out_dir, self.fingerprint)
        self.start, self.prior_wall, self.log = 0, 0.0, TrainLog()
        self.resumed = resume_into(self)
        self.last_good = self.start if self.resumed else None
        self.eager_net = self.model if not ctx.distributed else nn.parallel.DistributedDataParallel(
            self.model, device_ids=[device.index] if cuda else None)
        self.net = torch.compile(self.eager_net) if tc.compile else self.eager_net
        self.live = open_live(out_dir / LIVE, self.resumed and self.start) if ctx.is_main else None
        self.git_rev = git_revision()
        self.pending: list[torch.Tensor] = []  # per-iteration (loss, l1, svdo), read back at the next flush
        self.watch: Optional[tuple[Path, dict]] = None  # (parameter file, the settings read from it at the start)

    def say(self, msg: str) -> None:
        if self.ctx.is_main:
            print(msg, file=sys.stderr, flush=True)

    def loop(self, progress: bool) -> None:
        tc, device = self.cfg.train, self.ctx.device
        self.t_session = time.perf_counter()
        if self.start >= self.total:
            return
        batches = device_batches(self.order, self.start, tc, device)
        self.model.train()
        with tqdm(total=self.total, initial=self.start, desc=self.run.name, unit="it", dynamic_ncols=True,
                  mininterval=1.0, disable=not (progress and self.ctx.is_main)) as bar:
            for it in range(self.start + 1, self.total + 1):  # ``it`` = optimisation steps done after this one
                x, t = next(batches)
                lr = self.optimizer.param_groups[0]["lr"]
                try:
                    losses = self.step(it, x, t)
                except torch.linalg.LinAlgError as exc:  # SVDO's eigensolver, e.g. on weights a step broke
                    self.step_failed(it, exc)
                self.pending.append(losses)
                bar.update(1)
                self.after_step(it, lr, bar)

    def step(self, it: int, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """One :func:`train_step`; the first compiled one may fall back to the eager model (:func:`first_step`)."""
        tc = self.cfg.train
        args = (x, t, self.optimizer, self.scheduler, self.scaler, tc.beta, tc.svdo, self.amp_dtype)
        if self.net is self.eager_net or it > self.start + 1:
            return train_step(self.net, *args)
        losses, self.net = first_step(self.net, self.eager_net, args, self.say, self.run.name)
        return losses

    def step_failed(self, it: int, exc: Exception) -> None:
        """Turn an eigensolver failure into a :class:`TrainingError` naming the iteration where training
        went wrong: the first non-finite loss before it (:meth:`flush` raises), else :func:`failed_where`."""
        self.flush(it - 1)
        raise TrainingError(f"{self.run.name}: {failed_where(self.model, it)}; is train.lr = {self.cfg.train.lr} "
                            f"too high? Stopped, {self.kept()}") from exc

    def kept(self) -> str:
        return (f"the last good checkpoint ({self.path}, iteration {self.last_good}) is kept"
                if self.last_good else "no checkpoint was written yet")

    def after_step(self, it: int, lr: float, bar) -> None:
        """Logging, validation and checkpointing at the iterations they are due."""
        tc, last = self.cfg.train, it == self.total
        logs = it % tc.log_every == 0 or last
        validates = it % tc.val_every == 0 or last
        checkpoints = it % tc.checkpoint_every == 0 or last
        if logs or validates or checkpoints:  # the same iterations on every rank (a collective)
            self.flush(it)  # before anything is logged or saved: a non-finite loss never reaches a file
        if self.live is not None and (logs or validates):
            self.live.step = it
            if logs:
                means = self.log.close_window(it, lr)
                log_metrics(self.live, "train", means, ("loss", "l1", "svdo", "lr"))
                bar.set_postfix(loss=f"{means['loss']:.4f}", refresh=False)
            if validates:
                res = evaluate_model(self.model, self.val_dir, self.cfg.evaluate.batch_size, self.ctx.device,
                                     max_patches=self.cfg.train.val_patches)
                self.log.validated(it, res)
                log_metrics(self.live, "val", res, ("psnr", "ssim"))
            self.live.next_step()
        if self.ctx.is_main and checkpoints:
            self.save(it)

    def flush(self, upto: int) -> None:
        """Read the losses of iterations ``upto - len(pending) + 1 .. upto`` back to the host (one
        synchronisation per flush): stop at the first non-finite one, add the rest to the running sums."""
        if not self.pending:
            return
        rows = distributed.all_mean(torch.stack(self.pending).float(), self.ctx).tolist()
        self.pending.clear()
        bad = self.log.add(rows)
        if bad is not None:
            raise TrainingError(f"{self.run.name}: loss is {rows[bad][0]} at iteration {upto - len(rows) + 1 + bad} "
                                f"(not finite); stopped, {self.kept()}")

    def save(self, it: int) -> None:
        if not weights_finite(self.model):
            raise TrainingError(f"{self.run.name}: weights became non-finite by iteration {it}; not saved, {self.kept()}")
        ckpt.save(self.path, checkpoint_state(self, it))
        resume.keep(self.path, self.out_dir / LIVE, self.resume_state)
        self.last_good = it
        stop_if_params_changed(self.watch, self.run.name, self.kept())

    def finish(self) -> dict:
        """Check that every rank holds the same weights, write ``summary.json``, close the logs."""
        if self.ctx.is_main:
            stop_if_params_changed(self.watch, self.run.name, self.kept())
        checks = same_weights_on_every_rank(self.model, self.ctx, self.run.name)
        summary = summarize(self, time.perf_counter() - self.t_session, checks)
        if self.ctx.is_main:
            write_json(self.out_dir / SUMMARY, summary)
            self.live.end()
            resume.discard(self.resume_state)
        return summary


def amp_dtype(amp: str, device: torch.device, say, name: str) -> Optional[torch.dtype]:
    """The autocast dtype of ``train.amp`` on ``device`` (fp16 on CUDA only, said once; bf16 anywhere)."""
    cuda = device.type == "cuda"
    if not cuda and amp == "fp16":
        say(f"{name}: train.amp fp16 applies on CUDA only; ignored on {device} (bf16 works on both)")
    return AMP_DTYPES.get(amp) if cuda or amp == "bf16" else None


def same_weights_on_every_rank(model: nn.Module, ctx: distributed.Context, name: str) -> list:
    """Every rank's weight checksums; a :class:`TrainingError` when they differ."""
    checks = distributed.all_gather_floats(_checksum(model), ctx)
    if any(c != checks[0] for c in checks):
        raise TrainingError(f"{name}: processes ended with different weights (checksums {checks})")
    return checks


def first_step(net: nn.Module, eager: nn.Module, args: tuple, say, name: str) -> tuple[torch.Tensor, nn.Module]:
    """The first compiled step and the network to go on with: the eager one when compilation fails (before any
    weight changed: the forward and backward graphs are compiled ahead of the Adam step)."""
    losses, failure = first_compiled_step(net, args)
    if not failure:
        return losses, net
    say(f"{name}: train.compile: torch.compile failed ({failure}); training without it")
    return train_step(eager, *args), eager


def build_model(cfg: Config, run: Run, ctx: distributed.Context) -> nn.Module:
    """The run's model, seeded from ``cfg.seed``, on the device (synchronised batch norm under CUDA DDP)."""
    ckpt.check_model_size(run.model_name, run.model_cfg, f"run {run.name}", error=ConfigError)
    model = build(run.model_name, run.model_cfg, seed=cfg.seed)
    if ctx.distributed and ctx.device.type == "cuda":
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)  # BN statistics over the global batch
    fmt = torch.channels_last if cfg.train.channels_last else torch.preserve_format
    return model.to(ctx.device, memory_format=fmt)


def resume_into(t: "Trainer") -> bool:
    """Continue ``t`` from ``checkpoint.pt`` or the resume state kept beside it (:mod:`fdr.train.resume`), the
    further of the two, when :func:`fdr.train.checkpoint.resumable` allows (and say why not)."""
    if t.ctx.is_main:
        ckpt.remove_stale_temporaries(t.out_dir, CHECKPOINT)
    candidates = (t.path, resume.checkpoint(t.resume_state))
    best, source = furthest_resumable(candidates, t.fingerprint, t.total, t.say, t.run.name)
    if best is None:
        return False
    t.say(f"{t.run.name}: resuming from {source} at iteration {best['iteration']}")
    if source != t.path and t.ctx.is_main:  # DVC removed the output (dvc exp run): its logs too
        resume.restore_live(t.resume_state, t.out_dir / LIVE)
    ckpt.restore(best, str(source), t.model, t.optimizer, t.scheduler, t.scaler)
    t.start, t.prior_wall = best["iteration"], best["wall_s"]
    t.log = TrainLog.from_state(best["log"])
    return True


def stop_if_params_changed(watch: Optional[tuple[Path, dict]], name: str, kept: str) -> None:
    """Stop when the parameter file no longer gives run ``name`` the settings it started with
    (``watch`` = (file, settings at the start); :func:`params_changed`)."""
    changed = params_changed(*watch, name) if watch is not None else []
    if changed:
        raise TrainingError(f"{name}: {watch[0]} changed while training ({', '.join(changed[:4])}); another "
                            "`dvc exp run` in this workspace? Run one at a time, or queue them (`dvc exp run "
                            f"--queue ...`, then `dvc queue start`). Stopped, {kept}")


def furthest_resumable(paths, fingerprint: dict, total: int, say, name: str):
    """``(state, path)`` of the furthest checkpoint among ``paths`` (None entries and one file under two names
    skipped) that :func:`fdr.train.checkpoint.resumable` accepts, saying why each refused one is refused;
    ``(None, None)`` when none is."""
    best, source = None, None
    for path in paths:
        if path is None or (source is not None and os.path.samefile(path, source)):
            continue
        state, why_not = ckpt.resumable(path, fingerprint, total)
        if state is None and why_not:
            say(f"{name}: {why_not}")
        elif state is not None and (best is None or state["iteration"] > best["iteration"]):
            best, source = state, path
    return best, source


def params_changed(path: Path, started: dict, name: str) -> list[str]:
    """The settings of run ``name`` that ``path`` no longer gives as they were at the start (``started``): a second
    ``dvc exp run`` in the workspace rewrites ``params.yaml`` under a running one, and DVC would record the new
    values for weights trained with the old ones."""
    try:
        now = load_config(path)
        return ckpt.differences(started, settings(now, resolve(now, name)))
    except InputError as exc:
        return [f"no longer readable: {exc}"]


def device_batches(order: BatchOrder, start: int, tc, device: torch.device):
    """``(input, target)`` float batches on ``device`` from iteration ``start`` on (inputs channels-last when
    ``train.channels_last``)."""
    for inp, tgt in order.stream(start, tc.num_workers, pin_memory=device.type == "cuda"):
        x, t = to_device(inp, device, non_blocking=True), to_device(tgt, device, non_blocking=True)
        yield (x.contiguous(memory_format=torch.channels_last) if tc.channels_last else x), t


def first_compiled_step(net: nn.Module, args: tuple) -> tuple[Optional[torch.Tensor], str]:
    """``(losses, "")`` of a :func:`train_step` through the compiled ``net``, or ``(None, why)`` when compilation
    failed (e.g. no working C++ compiler for inductor)."""
    try:
        return train_step(net, *args), ""
    except torch._dynamo.exc.TorchDynamoException as exc:
        return None, f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"


def failed_where(model: nn.Module, it: int) -> str:
    """Where training broke when the eigensolver failed at iteration ``it``: the step whose update made the
    weights non-finite, else this step (with the largest weight, a hint at a learning rate too high)."""
    if not weights_finite(model):
        return f"weights became non-finite at iteration {it - 1}"
    largest = max(float(p.detach().abs().max()) for p in model.parameters())
    return f"SVDO's eigensolver failed at iteration {it} (largest |weight| {largest:.3g})"


def checkpoint_state(t: Trainer, it: int) -> dict:
    """What :func:`fdr.train.checkpoint.save` writes after iteration ``it`` (keys: :mod:`fdr.train.checkpoint`)."""
    per_epoch = t.order.per_epoch
    return {
        "run": t.run.name, "model_name": t.run.model_name, "model_cfg": to_dict(t.run.model_cfg),
        "window": t.dataset.crop or t.dataset.patch,  # the training window: fdr restore's tiles follow it
        "model": t.model.state_dict(), "optimizer": t.optimizer.state_dict(), "scheduler": t.scheduler.state_dict(),
        "scaler": t.scaler.state_dict() if t.scaler.is_enabled() else None,
        "iteration": it, "rng": ckpt.rng_state(),
        "data_order": {"seed": t.cfg.seed, "epoch": it // per_epoch, "position": it % per_epoch,
                       "batches_per_epoch": per_epoch},
        "config": to_dict(t.cfg), "fingerprint": t.fingerprint, "git_revision": t.git_rev,
        "log": t.log.state(), "wall_s": t.prior_wall + time.perf_counter() - t.t_session,
    }


def summarize(t: Trainer, session_s: float, checks: list) -> dict:
    """``summary.json`` of a finished run: budget, size, time, the last logged losses and the validation."""
    done_now = t.total - t.start
    last, val, tc = t.log.last, t.log.val, t.cfg.train
    return {
        "run": t.run.name, "model": t.run.model_name, "iterations": t.total,
        "params": count_parameters(t.model), "device": str(t.ctx.device),
        "world_size": t.ctx.world_size, "batch_size": tc.batch_size, "train_patches": len(t.dataset),
        "wall_s": round(t.prior_wall + session_s if done_now else t.prior_wall, 3),
        "it_per_s": round(done_now / session_s, 3) if done_now and session_s > 0 else None,
        "resumed_from": t.start if t.resumed else None,
        "final_loss": last.get("loss"), "final_l1": last.get("l1"), "final_svdo": last.get("svdo"),
        "final_lr": last.get("lr"),
        "val_psnr": val.get("psnr"), "val_ssim": val.get("ssim"), "val_patches": val.get("patches"),
        "best_val_psnr": t.log.best_val_psnr, "best_val_iteration": t.log.best_val_iteration,
        "rank_checksums": checks, "git_revision": t.git_rev,
    }


def settings(cfg: Config, run: Run) -> dict:
    """What the train stage reads for ``run`` (its dvc.yaml params): the architecture, the training settings with
    the row's switches, the seed, the patch sets, the validation batch."""
    return {"model": to_dict(run.model_cfg), "train": to_dict(run.train_cfg), "seed": run.seed,
            "sets": [run.train_set, run.val_set], "evaluate.batch_size": cfg.evaluate.batch_size,
            "data.root": cfg.data.root}


def weights_finite(model: nn.Module) -> bool:
    return all(bool(torch.isfinite(p).all()) for p in model.parameters())


@contextlib.contextmanager
def _determinism(deterministic: bool, device: torch.device):
    """Deterministic algorithms inside (CPU runs are then bit-reproducible); the previous mode after."""
    previous = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled())
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # needed by cuBLAS in deterministic mode
        # warn_only: a few CUDA backward kernels (adaptive pooling) have no deterministic variant
        torch.use_deterministic_algorithms(True, warn_only=True)
    if device.type == "cuda":
        torch.backends.cudnn.deterministic = deterministic
        torch.backends.cudnn.benchmark = not deterministic
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous[0], warn_only=previous[1])


def _checksum(model: nn.Module) -> list[float]:
    with torch.no_grad():
        flat = [p.detach().double() for p in model.parameters()]
        return [float(sum(t.sum() for t in flat)), float(sum(t.abs().sum() for t in flat))]
