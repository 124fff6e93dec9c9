"""Training loss of FDR-Net (§3.6): ``L1 + beta * SVDO`` (Eq. 8) with SVDO from Eq. 5.

SVDO (spectral value difference orthogonality, ABD-Net, Chen et al. 2019): for each sample the
feature map is flattened to F (C x HW), and the loss is ``(lambda_max(F F^T) - lambda_min(F F^T))^2``
(Eq. 5), averaged over the batch. The eigenvalues are exact (``torch.linalg.eigvalsh`` on the C x C
Gram matrix, in float32 with autocast off) rather than ABD-Net's one-step power iteration: the
Gram matrix is small, so this is cheap and deterministic. Its gradient ``2 (l_max - l_min)
(v_max v_max^T - v_min v_min^T)`` involves no eigenvalue gaps, so it is finite for zero,
constant or rank-deficient features.

The Gram matrix is not normalised by default, as in Eq. 5 and ABD-Net's code: the term then
grows with the feature energy and with (H·W)^2, which is what ``beta = 1e-5`` was set against.
``normalize=True`` divides the Gram matrix by H·W (resolution-independent values) instead.

In :func:`fdr_loss` SVDO is applied to the FDM output of every phase (``feats["fdm_out"]``: the
output of the last FD-layer, where Eq. 5 asks for decorrelated channels) and averaged over phases,
so ``beta`` keeps its meaning whatever the phase count; a model without FDM contributes 0.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from fdr.models.gdn import float32_region


def _gram(f: Tensor, normalize: bool) -> Tensor:
    if f.dim() != 4:
        raise ValueError(f"svdo: expected features of shape B x C x H x W, got {tuple(f.shape)}")
    b, c, h, w = f.shape
    m = f.float().reshape(b, c, h * w)
    gram = m @ m.transpose(1, 2)
    return gram / (h * w) if normalize else gram


def _spread_sq(grams: Tensor) -> Tensor:
    eig = torch.linalg.eigvalsh(grams)  # ascending, over any leading batch dimensions
    return (eig[..., -1] - eig[..., 0]) ** 2


def svdo(f: Tensor, normalize: bool = False) -> Tensor:
    """SVDO of features ``f`` (B x C x H x W): mean over the batch of (lambda_max - lambda_min)^2 (Eq. 5)."""
    return svdo_mean([f], normalize)


def svdo_mean(fs: Sequence[Tensor], normalize: bool = False) -> Tensor:
    """Mean of :func:`svdo` over feature maps of one shape (the phases), with a single eigensolver call for
    all of them: on CUDA each ``eigvalsh`` call waits for the GPU (it checks the solver's status on the host),
    so one call per step instead of one per phase."""
    with float32_region(fs[0].device):
        grams = torch.stack([_gram(f, normalize) for f in fs])  # P x B x C x C
        return _spread_sq(grams).mean(dim=1).mean()


def fdr_loss(
    y: Tensor,
    target: Tensor,
    feats: Mapping[str, Sequence[Tensor]] | None,
    beta: float,
    normalize: bool = False,
) -> tuple[Tensor, dict[str, Tensor]]:
    """Eq. 8: ``L1(y, target) + beta * mean_phases SVDO(fdm_out)``; returns ``(total, {"l1", "svdo"})``.

    ``svdo`` in the dict is the unweighted term (detached, for logging); it is 0 for a model
    without FDM features and computed without gradient when ``beta == 0``.
    """
    l1 = F.l1_loss(y.float(), target.float())
    outs = list((feats or {}).get("fdm_out", ()))
    if not outs:
        return l1, {"l1": l1.detach(), "svdo": l1.new_zeros(())}
    with torch.set_grad_enabled(torch.is_grad_enabled() and beta > 0):
        reg = svdo_mean(outs, normalize)
    total = l1 + beta * reg if beta > 0 else l1
    return total, {"l1": l1.detach(), "svdo": reg.detach()}
