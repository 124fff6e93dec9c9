"""Training loss of FDR-Net (§3.6): ``L1 + beta * SVDO`` (Eq. 8) with SVDO from Eq. 5.

SVDO (spectral value difference orthogonality, ABD-Net, Chen et al. 2019): for each sample the
feature map is flattened to F (C x HW), and the loss is ``(lambda_max(F F^T) - lambda_min(F F^T))^2``
(Eq. 5), averaged over the batch. The eigenvalues are exact (``torch.linalg.eigvalsh`` on the C x C
Gram matrix, in float32 with autocast off) rather than ABD-Net's one-step power iteration: the
Gram matrix is small, so this is cheap and deterministic. Its gradient ``2 (l_max - l_min)
(v_max v_max^T - v_min v_min^T)`` involves no eigenvalue gaps, so it is finite for zero,
constant or rank-deficient features.

What ABD-Net's code (``VITA-Group/ABD-Net``, ``torchreid/losses/of_penalty.py``: the feature-orthogonality
penalty Eq. 5 cites) computes: per sample, ``lambda_max`` of ``F F^T`` from one power-iteration step from a random
vector, ``lambda_min`` the same way on ``F F^T - lambda_max I``, and ``beta * (lambda_max - lambda_min)``:
*not squared*. It sums that over the batch and divides by ``B / 32`` ("normalize to 32-batch case"), i.e. 32 times
the batch mean; averages the features given at one position as a tuple; uses ``beta = 1e-6`` (``--of-beta``) and
switches the term on at epoch 23 (``--of-start-epoch``).

Readings (``train.svdo``; ``beta * SVDO / L1`` at the paper model's initialisation on real 63x63 patches with
``beta = 1e-5``, measured by ``scripts/svdo_readings.py``, in ``reports/choices.md``, "SVDO as a regulariser"):

- ``literal``: Eq. 5 as printed, ``(lambda_max - lambda_min)^2`` of ``F F^T``: 72x L1, its gradient 64-80x L1's on
  the first layers: the term dominates.
- ``unsquared``: ``lambda_max - lambda_min`` of ``F F^T``, batch mean: ABD-Net's form at 1/32 of its scale; 0.07x
  L1: a regulariser (the embedded default).
- ``abdnet``: the same times 32, ABD-Net's scale (its batch sum normalised to 32 samples); 2.4x L1. The exact
  eigenvalues stay, the term is on from the first iteration, and beta is ``train.beta`` (ABD-Net's own 1e-6 is
  one parameter away).
- ``normalized`` / ``unsquared_normalized``: the squared / unsquared spread of ``F F^T / (H W)``
  (resolution-independent values; about 1e-5 of L1: negligible).

In :func:`fdr_loss` SVDO is applied to the FDM output of every phase (``feats["fdm_out"]``: the
output of the last FD-layer, where Eq. 5 asks for decorrelated channels) and averaged over phases (as ABD-Net
averages the features of one position), so ``beta`` keeps its meaning whatever the phase count; a model without
FDM contributes 0.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from fdr.models.gdn import float32_region

ABDNET_BATCH = 32  # of_penalty.py: penalty.sum() / (batch / 32.), "normalize to 32-batch case"
# reading -> (Gram matrix divided by H W, spread squared, factor)
FORMS = {"literal": (False, True, 1), "unsquared": (False, False, 1), "normalized": (True, True, 1),
         "unsquared_normalized": (True, False, 1), "abdnet": (False, False, ABDNET_BATCH)}
READINGS = tuple(FORMS)


def _gram(f: Tensor, normalize: bool) -> Tensor:
    if f.dim() != 4:
        raise ValueError(f"svdo: expected features of shape B x C x H x W, got {tuple(f.shape)}")
    b, c, h, w = f.shape
    m = f.float().reshape(b, c, h * w)
    gram = m @ m.transpose(1, 2)
    return gram / (h * w) if normalize else gram


def svdo(f: Tensor, reading: str = "literal") -> Tensor:
    """SVDO of features ``f`` (B x C x H x W) under ``reading`` (see the module docstring), mean over the batch."""
    return svdo_mean([f], reading)


def svdo_mean(fs: Sequence[Tensor], reading: str = "literal") -> Tensor:
    """Mean of :func:`svdo` over feature maps of one shape (the phases), with a single eigensolver call for
    all of them: on CUDA each ``eigvalsh`` call waits for the GPU (it checks the solver's status on the host),
    so one call per step instead of one per phase."""
    if reading not in READINGS:
        raise ValueError(f"train.svdo: expected one of {', '.join(READINGS)}, got {reading!r}")
    normalize, squared, factor = FORMS[reading]
    with float32_region(fs[0].device):
        grams = torch.stack([_gram(f, normalize) for f in fs])  # P x B x C x C
        eig = torch.linalg.eigvalsh(grams)  # ascending, over the leading dimensions
        spread = eig[..., -1] - eig[..., 0]  # >= 0
        mean = (spread ** 2 if squared else spread).mean(dim=1).mean()
        return mean if factor == 1 else factor * mean


def fdr_loss(
    y: Tensor,
    target: Tensor,
    feats: Mapping[str, Sequence[Tensor]] | None,
    beta: float,
    reading: str = "literal",
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
        reg = svdo_mean(outs, reading)
    total = l1 + beta * reg if beta > 0 else l1
    return total, {"l1": l1.detach(), "svdo": reg.detach()}
