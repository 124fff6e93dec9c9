"""Process-group setup for ``torchrun`` (DDP) and device choice; a single process needs nothing.

``torchrun --nproc_per_node=N -m stages.train RUN`` sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``;
:func:`setup` then joins the group (NCCL on CUDA, gloo on CPU) and pins each rank to
``cuda:LOCAL_RANK``. Rank 0 alone writes logs and checkpoints.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from fdr.tensors import choose_device


@dataclass(frozen=True)
class Context:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def setup(preference: str = "auto") -> Context:
    """Join the torchrun process group when ``WORLD_SIZE`` > 1; otherwise a single-process context."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    device = choose_device(preference, local)
    if world > 1 and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return Context(rank=rank, world_size=world, local_rank=local, device=device)


def all_mean(t: torch.Tensor, ctx: Context) -> torch.Tensor:
    """Mean of ``t`` over ranks (in place; identity for one process)."""
    if ctx.distributed:
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        t /= ctx.world_size
    return t


def all_gather_floats(values: list[float], ctx: Context) -> list[list[float]]:
    """Every rank's ``values`` (same length on every rank), in rank order."""
    if not ctx.distributed:
        return [list(values)]
    out = [None] * ctx.world_size
    dist.all_gather_object(out, list(values))
    return out


def teardown(ctx: Context) -> None:
    if ctx.distributed and dist.is_initialized():
        dist.destroy_process_group()
