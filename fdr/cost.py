"""Training cost of a run table: iterations, GFLOP per training step (counted) and hours at a stated rate.

``python -m fdr profile paper --cost`` prints it before anyone waits days for a GPU.

- GFLOP per step: ``torch.utils.flop_counter.FlopCounterMode`` over one forward and one backward pass of a batch
  of ``train.batch_size`` patches of ``train.crop`` (or ``crop.patch``) pixels square through the run's
  architecture, built on the ``meta`` device (nothing is computed). Convolutions and matrix products count 2 FLOPs
  per multiply-add; element-wise operations, Adam and SVDO's C x C Gram matrices (under 1% of the step at the
  paper's 32 channels) are not counted.
- Rates (training steps per second): measured on an H100 80GB (``reports/gpu.md``). FDR-Net: 6 it/s, the real
  trainer (data loading, validation, checkpoints) measured 5.41 it/s in fp32 and 6.28 in bf16 while its bare
  step ran at 8.9; the model is bound by kernel launches, not arithmetic, so its variants (Table 6's widths and
  depths) are given the same rate. DnCNN and OWAN: their bare steps, 88.6 and 4.79 it/s (no trainer measurement).
  ``rate`` replaces them all by one figure.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Optional

import torch
from torch.utils.flop_counter import FlopCounterMode

from fdr.config.runs import resolve, role, sweep_runs
from fdr.models import build

RATES = {"fdrnet": 6.0, "dncnn": 88.6, "owan": 4.79}  # steps/s on an H100 80GB, fp32 (reports/gpu.md)
RATE_SOURCE = ("H100 80GB, fp32, reports/gpu.md: FDR-Net 6 it/s (the trainer: 5.41 fp32 to 6.28 bf16), "
               "DnCNN 88.6 and OWAN 4.79 it/s (bare training steps)")


@dataclass(frozen=True)
class RunCost:
    run: str
    role: str
    arch: str
    iterations: int
    gflop_step: float  # forward + backward of one batch
    rate: float  # steps per second

    @property
    def pflop(self) -> float:
        return self.gflop_step * self.iterations / 1e6

    @property
    def hours(self) -> float:
        return self.iterations / self.rate / 3600


@functools.lru_cache(maxsize=None)
def step_gflop(arch: str, model_cfg, batch: int, patch: int) -> float:
    """GFLOP of one training step (forward and backward) of ``arch`` on ``batch`` patches of ``patch`` pixels
    (``model_cfg``: its frozen config; each distinct configuration is counted once)."""
    with torch.device("meta"):
        model = build(arch, model_cfg)
        x = torch.empty(batch, 3, patch, patch)
    counter = FlopCounterMode(display=False)
    with counter:
        y = model(x)
        (y[0] if isinstance(y, (tuple, list)) else y).abs().mean().backward()
    return counter.get_total_flops() / 1e9


def run_costs(cfg, rate: Optional[float] = None) -> list[RunCost]:
    """The cost of every run of ``cfg``'s run table and Table 6 sweeps, in table order (a row with ``weights`` is
    imported, not trained: 0 iterations)."""
    out = []
    for name in list(cfg.runs) + sweep_runs(cfg):
        spec = resolve(cfg, name)
        tc = spec.train_cfg
        patch = tc.crop or cfg.crop.patch
        trained = 0 if name in cfg.runs and cfg.runs[name].weights else tc.iterations  # imported: no training
        out.append(RunCost(name, role(cfg, name), spec.model_name, trained,
                           step_gflop(spec.model_name, spec.model_cfg, tc.batch_size, patch),
                           rate or RATES[spec.model_name]))
    return out


def table(costs: list[RunCost], groups: dict[str, str]) -> list[str]:
    """A markdown table of ``costs``, one row per run (``groups``: run -> its group) and one total per group."""
    lines = ["| run | group | role | arch | iterations | GFLOP/step | PFLOP | it/s | hours |",
             "|---|---|---|---|---:|---:|---:|---:|---:|"]
    for c in costs:
        lines.append(f"| `{c.run}` | {groups.get(c.run, 'default')} | {c.role} | {c.arch} | {c.iterations:,} | "
                     f"{c.gflop_step:,.0f} | {c.pflop:,.0f} | {c.rate:g} | {c.hours:,.1f} |")
    totals = {g: [c for c in costs if groups.get(c.run, "default") == g] for g in ["default", *groups.values()]}
    if len([g for g, part in totals.items() if part]) > 1:
        totals["all"] = costs
    for group, part in totals.items():
        if part:
            lines.append(f"| **{group}: {len(part)} runs** | | | | {sum(c.iterations for c in part):,} | | "
                         f"{sum(c.pflop for c in part):,.0f} | | {sum(c.hours for c in part):,.1f} |")
    return lines
