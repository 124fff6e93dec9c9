"""FDR-Net (Li et al., ECCV 2020, §3, Fig. 3-5).

Structure (C = ``channels``, n = ``n_flayers``)::

    x0 = head(input)                         3x3 conv, 3 -> C
    x, res = x0, x0
    for each of ``phases`` phases:           dual residual block (DuRN, Liu et al. 2019)
        lower = FAM(FDM(x))                  lower branch (Fig. 5)
        upper = aux(x)                       ``aux_blocks`` ResBlocks (§3.4)
        f   = conv3x3(CA(cat(lower, upper)))   fusion: concat -> channel attention -> conv (2C -> C)
        f   = relu(f + x)                    durn_p only: the inner residual block's join
        res = relu(T1(f) + res)              T1: 3x3 conv, its output joins the incoming res stream
        x   = T2(res) + x                    T2: 3x3 conv, its output joins the phase input
        x   = relu(x)                        durn_p only: the ReLU after T2
    output = input + tail(x)                 3x3 conv, C -> 3, global residual

FDM = n FD-layers (conv + GDN, Eq. 3-4) in series, outputs D_1..D_n. FAM = n FA-layers (process
module -> channel attention -> inverse GDN, Eq. 6-7). Skip connections pair them in mirror order:
FA-layer j reads the previous FA-layer's output plus D_{n+1-j} (FA-layer 1 reads D_n, the FDM
output, which is its own mirror).

The phase is a dual residual block of DuRN-P (``liu-vis/DualResidualNetworks``, ``pietorch/DuRN_P.py``, ``DuRB_p``)
with the two-branch module as its inner body and without batch normalisation. ``model.phase`` says how far it
follows DuRB_p (the parameters are the same either way: only two ReLU joins differ):

- ``durn_p`` (the paper profile): as DuRB_p, ``f = relu(body(x) + x)``, then ``res = relu(T1(f) + res)`` and
  ``x = relu(T2(res) + x)``.
- ``plain`` (``params.yaml``'s embedded default): the fusion output goes to T1 without DuRB_p's inner join
  ``relu(f + x)``, and the phase output ``T2(res) + x`` has no ReLU. This is the reading the committed results were
  trained with; it is kept so that they stay reproducible, and it leaves each phase's output signed (the next
  FDM and the tail read negative values too).

Ablations (Table 5): ``use_aux=false`` removes the auxiliary branch (the fusion then reads the lower
branch alone: CA over C channels, conv C -> C). ``use_fdm=false`` replaces the lower branch by a
plain series of ResBlocks with the same convolutions: each FD-layer becomes a one-conv ResBlock
``x + relu(conv(x))`` and each FA-layer its process module's ResBlocks; GDN, inverse GDN, the
FA-layers' channel attention and the skip connections go. The network then returns no FDM
features (SVDO has nothing to act on).

Derivation of the unstated sizes. Per phase at C = 32, n = 3 (conv 3x3 C->C = 9C^2 + C = 9,248;
ResBlock = 18,496; GDN = C^2 + C = 1,056; CA(C, r=16) = 162; CA(2C) = 580):
FD-layer 10,304; FA-layer 18,496·m + 162 + 1,056; aux 18,496·a; fusion 580 + 18,464 (2C) or
162 + 9,248 (C); T1 + T2 18,496; head + tail 1,763 once. A grid search over phases P in 2..12,
process-module ResBlocks m in 0..4, aux ResBlocks a in 0..7, CA ratio r in {4, 8, 16} and 1x1 / 3x3
fusion and T convolutions, minimising the largest relative error against Table 5 (1.66M, 1.62M,
1.21M), gives P = 7, m = 2, a = 3, r = 16, 3x3 fusion and T convolutions
(``tests/models/test_models_sizes.py`` checks the closed form and repeats the search):

    FDM + Aux   1,671,753  (+0.71 %)
    Aux only    1,623,999  (+0.25 %)
    FDM only    1,215,899  (+0.49 %)

(the next best, P = 8 with 1x1 convolutions and r = 4, is off by up to 0.87 %). These are the
defaults of :class:`fdr.config.ModelConfig`. More channels or FD-layers add parameters (Table 6).
The "plain" reading (one conv per process module, one ResBlock per aux branch, 4 phases) has only
about 0.42M parameters, far from the paper's 1.66M.

Works on any H x W (all convolutions are 3x3 'same' or 1x1; no resampling), in float32, under
bf16/fp16 autocast (GDN computes in float32) and in channels_last.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from fdr.config import ModelConfig

from .blocks import ChannelAttention, FALayer, FDLayer, ResBlock, conv3x3


class FDM(nn.Module):
    """Feature disentanglement module (Fig. 3): ``n_flayers`` FD-layers; returns every layer's output."""

    def __init__(self, channels: int, n_flayers: int):
        super().__init__()
        self.layers = nn.ModuleList(FDLayer(channels) for _ in range(n_flayers))

    def forward(self, x: Tensor) -> list[Tensor]:
        outs = []
        for layer in self.layers:
            x = layer(x)
            outs.append(x)
        return outs


class FAM(nn.Module):
    """Feature aggregation module (Fig. 4): ``n_flayers`` FA-layers fed by mirror-order skips from the FDM."""

    def __init__(self, channels: int, n_flayers: int, pm_blocks: int, reduction: int):
        super().__init__()
        self.layers = nn.ModuleList(FALayer(channels, pm_blocks, reduction) for _ in range(n_flayers))

    def forward(self, fd_outs: list[Tensor]) -> Tensor:
        h = fd_outs[-1]
        for j, layer in enumerate(self.layers):
            if j > 0:
                h = h + fd_outs[-1 - j]
            h = layer(h)
        return h


class Fusion(nn.Module):
    """Fusion of the branches (§3.5): concat -> channel attention -> 3x3 conv to C channels."""

    def __init__(self, c_in: int, c_out: int, reduction: int):
        super().__init__()
        self.attention = ChannelAttention(c_in, reduction)
        self.conv = conv3x3(c_in, c_out)

    def forward(self, branches: list[Tensor]) -> Tensor:
        x = branches[0] if len(branches) == 1 else torch.cat(branches, dim=1)
        return self.conv(self.attention(x))


class Phase(nn.Module):
    """One phase = one dual residual block whose inner body is the two-branch module (Fig. 5)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        c = cfg.channels
        self.use_fdm = cfg.use_fdm
        if cfg.use_fdm:
            self.fdm = FDM(c, cfg.n_flayers)
            self.fam = FAM(c, cfg.n_flayers, cfg.pm_blocks, cfg.ca_reduction)
        else:
            blocks = [ResBlock(c, convs=1) for _ in range(cfg.n_flayers)]
            blocks += [ResBlock(c) for _ in range(cfg.n_flayers * cfg.pm_blocks)]
            self.lower = nn.Sequential(*blocks)
        self.aux = nn.Sequential(*(ResBlock(c) for _ in range(cfg.aux_blocks))) if cfg.use_aux else None
        self.fusion = Fusion(c * (2 if cfg.use_aux else 1), c, cfg.ca_reduction)
        self.t1 = conv3x3(c, c)
        self.t2 = conv3x3(c, c)
        self.relu = nn.ReLU()
        self.durn_p = cfg.phase == "durn_p"  # DuRB_p's two ReLU joins (module docstring)

    def forward(self, x: Tensor, res: Tensor, feats: dict | None = None) -> tuple[Tensor, Tensor]:
        if self.use_fdm:
            d = self.fdm(x)
            lower = self.fam(d)
            if feats is not None:
                feats["fdm_in"].append(x)
                feats["fdm_out"].append(d[-1])
        else:
            lower = self.lower(x)
        branches = [lower] if self.aux is None else [lower, self.aux(x)]
        f = self.fusion(branches)
        if self.durn_p:
            f = self.relu(f + x)  # DuRB_p: the inner residual block ends with relu(body + x)
        res = self.relu(self.t1(f) + res)
        x = self.t2(res) + x
        if self.durn_p:
            x = self.relu(x)  # DuRB_p: with_relu after T2
        return x, res


class FDRNet(nn.Module):
    """FDR-Net: head conv, ``phases`` dual-residual phases, tail conv, global residual."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        c = cfg.channels
        self.head = conv3x3(3, c)
        self.phases = nn.ModuleList(Phase(cfg) for _ in range(cfg.phases))
        self.tail = conv3x3(c, 3)

    def forward(self, x: Tensor, return_features: bool = False):
        feats: dict | None = {"fdm_in": [], "fdm_out": []} if return_features else None
        h = self.head(x)
        res = h
        for phase in self.phases:
            h, res = phase(h, res, feats)
        y = x + self.tail(h)
        return (y, feats) if return_features else y
