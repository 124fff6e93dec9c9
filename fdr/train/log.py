"""Running training statistics, checkpointed with the weights: the loss terms of Eq. 8 summed since the last
log line, the last logged means, and the last and best validation."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Optional

TERMS = ("loss", "l1", "svdo")  # Eq. 8: loss = l1 + beta * svdo


@dataclass
class TrainLog:
    """What the trainer has seen so far; :meth:`state` / :meth:`from_state` are its checkpoint form."""

    loss_sum: float = 0.0
    l1_sum: float = 0.0
    svdo_sum: float = 0.0
    count: int = 0  # iterations summed since the last log line
    last: dict = field(default_factory=dict)  # the last logged means: iteration, loss, l1, svdo, lr
    val: dict = field(default_factory=dict)  # the last validation: iteration, psnr, ssim, patches
    best_val_psnr: Optional[float] = None
    best_val_iteration: Optional[int] = None

    def add(self, rows: list[list[float]]) -> Optional[int]:
        """Add per-iteration ``(loss, l1, svdo)`` rows in order; stop at the first non-finite loss and return its
        index in ``rows`` (None when every loss was finite)."""
        for i, (loss, l1, svdo) in enumerate(rows):
            if not math.isfinite(loss):
                return i
            self.loss_sum += loss
            self.l1_sum += l1
            self.svdo_sum += svdo
            self.count += 1
        return None

    def close_window(self, iteration: int, lr: float) -> dict:
        """The means since the last log line (with ``lr``), kept as :attr:`last`; the sums start again."""
        n = self.count
        self.last = {"iteration": iteration, "loss": self.loss_sum / n, "l1": self.l1_sum / n,
                     "svdo": self.svdo_sum / n, "lr": lr}
        self.loss_sum = self.l1_sum = self.svdo_sum = 0.0
        self.count = 0
        return self.last

    def validated(self, iteration: int, result: dict) -> None:
        """Record a validation result (``psnr``, ``ssim``, ``patches``) and the best PSNR so far."""
        self.val = {"iteration": iteration, "psnr": result["psnr"], "ssim": result["ssim"],
                    "patches": result["patches"]}
        if self.best_val_psnr is None or result["psnr"] > self.best_val_psnr:
            self.best_val_psnr, self.best_val_iteration = result["psnr"], iteration

    def state(self) -> dict:
        return asdict(self)

    @classmethod
    def from_state(cls, state: dict) -> "TrainLog":
        known = {k: v for k, v in state.items() if k in cls.__dataclass_fields__}
        return cls(**known)
