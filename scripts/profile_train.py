"""Where one training step's time goes: ``torch.profiler`` on ``fdr.train.trainer.train_step`` with the run's real
configuration (default: the embedded ``fdrnet`` run of ``params.yaml``), on whatever device ``train.device``
picks. Prints a table by part: the model's forward (split into GDN, channel attention and the rest), the
backward pass, SVDO's eigensolver, the loss, the optimiser and the scheduler.

    python scripts/profile_train.py                       # embedded fdrnet, 20 profiled steps
    python scripts/profile_train.py --run didhy_fdrnet --steps 10 --params params.yaml
"""
from __future__ import annotations

import argparse
import time

import torch
from torch.profiler import ProfilerActivity, profile, record_function

from fdr import config
from fdr.config.runs import resolve
from fdr.models import build
from fdr.models.blocks import ChannelAttention
from fdr.models.gdn import GDN
from fdr.report.tables import render
from fdr.tensors import choose_device
from fdr.train.trainer import make_optimizer, train_step

PARTS = {  # profiler label -> what the table calls it
    "forward": "forward (whole model)",
    "GDN": "  of which GDN / inverse GDN",
    "ChannelAttention": "  of which channel attention",
    "fdr_loss": "loss (L1 + SVDO, Eq. 8)",
    "aten::_linalg_eigh": "  of which SVDO eigensolver",
    "backward": "backward",
    "Optimizer.step#Adam.step": "Adam step",
    "Optimizer.zero_grad#Adam.zero_grad": "zero_grad",
}


def labelled(cls: type, label: str) -> None:
    """Wrap ``cls.forward`` in a profiler label (forward time only: autograd runs the backward later)."""
    plain = cls.forward

    def forward(self, *args, **kwargs):
        with record_function(label):
            return plain(self, *args, **kwargs)

    cls.forward = forward


def step_fn(net, x, t, opt, sched, scaler, tc):
    from fdr.train import trainer as trainer

    plain_loss = trainer.fdr_loss

    def loss(*args, **kwargs):
        with record_function("fdr_loss"):
            return plain_loss(*args, **kwargs)

    trainer.fdr_loss = loss
    plain_backward = torch.Tensor.backward

    def backward(self, *args, **kwargs):
        with record_function("backward"):
            return plain_backward(self, *args, **kwargs)

    torch.Tensor.backward = backward
    plain_forward = net.forward

    def forward(*args, **kwargs):
        with record_function("forward"):
            return plain_forward(*args, **kwargs)

    net.forward = forward
    return lambda: train_step(net, x, t, opt, sched, scaler, tc.beta, tc.svdo)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--run", default="fdrnet")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args()
    cfg = config.load(args.params)
    run = resolve(cfg, args.run)
    tc, device = run.train_cfg, choose_device(cfg.train.device)
    size = tc.crop or cfg.crop.patch
    torch.manual_seed(0)
    x = torch.rand(tc.batch_size, 3, size, size, device=device)
    t = (x + 0.05 * torch.randn_like(x)).clamp(0, 1)
    if tc.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    labelled(GDN, "GDN")
    labelled(ChannelAttention, "ChannelAttention")
    net = build(run.model_name, run.model_cfg, seed=run.seed).to(device).train()
    opt, sched, scaler = make_optimizer(net, tc, device.type == "cuda")
    step = step_fn(net, x, t, opt, sched, scaler, tc)
    for _ in range(args.warmup):
        step()
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    t0 = time.perf_counter()
    for _ in range(args.steps):
        step()
    sync()
    plain = (time.perf_counter() - t0) / args.steps
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=acts) as prof:
        for _ in range(args.steps):
            with record_function("step"):
                step()
        sync()
    events = prof.key_averages()
    table = {e.key: e.cpu_time_total / 1e3 / args.steps for e in events}  # ms per step, children included
    own = {e.key: e.self_cpu_time_total / 1e3 / args.steps for e in events if e.key.startswith("aten::")}
    total = table.get("step", plain * 1e3)
    body = [[PARTS[k], f"{table.get(k, 0.0):.1f}", f"{100 * table.get(k, 0.0) / total:.0f}%"] for k in PARTS]
    top = sorted(own.items(), key=lambda kv: -kv[1])[:6]  # self time: no op counted twice
    body += [[f"op {k} (self)", f"{v:.1f}", f"{100 * v / total:.0f}%"] for k, v in top]
    print(f"run {args.run}: {run.model_name}, batch {tc.batch_size} x {size}x{size}, {device}, "
          f"{torch.get_num_threads()} threads; {plain * 1e3:.1f} ms per step unprofiled "
          f"({tc.batch_size / plain:.0f} patches/s), {total:.1f} ms profiled")
    print("\n".join(render(["part (per step)", "ms", "share"], body)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
