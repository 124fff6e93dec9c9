"""Generalized divisive normalization: the revised gain control of the FD-layer (Eq. 4) and its
inverse in the FA-layer (Eq. 7).

    GDN:   D_i = S_i / sqrt(sum_j w_ji S_j^2 + b_i)              (Eq. 4)
    IGDN:  F_c,i = F_p,i * sqrt(sum_j w_ji F_p,j^2 + b_i)        (Eq. 7)

Parameterisation follows Ballé et al. (2016): ``b`` starts at 1 and ``w`` at 0.1·I, and both are
kept non-negative by storing ``sqrt(value + pedestal)`` and mapping back with a lower bound whose
gradient still lets an optimiser push a parameter up from the bound (:class:`NonNegative`).
The normalisation pool is computed in float32 with autocast disabled (a squared bf16/fp16
activation summed over channels loses precision or overflows); the result is returned in the
input's dtype, so the layer works on any device, dtype and memory format.
"""
from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def float32_region(device: torch.device):
    """Context that turns autocast off on ``device`` (a no-op where autocast does not exist, e.g. meta)."""
    if torch.amp.is_autocast_available(device.type):
        return torch.autocast(device_type=device.type, enabled=False)
    return contextlib.nullcontext()


class _LowerBound(torch.autograd.Function):
    """``max(x, bound)`` whose gradient passes where ``x >= bound`` or where descent would raise ``x``."""

    @staticmethod
    def forward(ctx, x: Tensor, bound: float) -> Tensor:
        ctx.save_for_backward(x)
        ctx.bound = bound
        return x.clamp_min(bound)

    @staticmethod
    def backward(ctx, grad: Tensor):
        (x,) = ctx.saved_tensors
        passes = (x >= ctx.bound) | (grad < 0)
        return grad * passes.to(grad.dtype), None


class NonNegative(nn.Module):
    """Reparameterise a tensor as ``max(p, sqrt(minimum + pedestal))**2 - pedestal`` (>= ``minimum``)."""

    def __init__(self, minimum: float = 0.0, offset: float = 2.0**-18):
        super().__init__()
        self.pedestal = offset**2
        self.bound = (minimum + self.pedestal) ** 0.5

    def init(self, value: Tensor) -> Tensor:
        """Stored parameter that represents ``value``."""
        return torch.sqrt(torch.clamp_min(value + self.pedestal, self.pedestal))

    def forward(self, p: Tensor) -> Tensor:
        return _LowerBound.apply(p, self.bound) ** 2 - self.pedestal


class GDN(nn.Module):
    """GDN over channels (Eq. 4); ``inverse=True`` gives the inverse transform (Eq. 7).

    Parameters: ``beta`` (C) for ``b_i`` and ``gamma`` (C x C) for ``w_ji`` (row i = output channel).
    """

    def __init__(self, channels: int, inverse: bool = False, beta_min: float = 1e-6, gamma_init: float = 0.1):
        super().__init__()
        self.inverse = bool(inverse)
        self.beta_param = NonNegative(minimum=beta_min)
        self.gamma_param = NonNegative()
        self.beta = nn.Parameter(self.beta_param.init(torch.ones(channels)))
        self.gamma = nn.Parameter(self.gamma_param.init(gamma_init * torch.eye(channels)))

    def forward(self, x: Tensor) -> Tensor:
        c = x.shape[1]
        with float32_region(x.device):
            xf = x.float()
            beta = self.beta_param(self.beta.float())
            gamma = self.gamma_param(self.gamma.float()).reshape(c, c, 1, 1)
            pool = F.conv2d(xf * xf, gamma, beta)  # sum_j w_ji x_j^2 + b_i
            out = xf * (torch.sqrt(pool) if self.inverse else torch.rsqrt(pool))
        return out.to(x.dtype)

    def extra_repr(self) -> str:
        return f"{self.beta.numel()}, inverse={self.inverse}"
