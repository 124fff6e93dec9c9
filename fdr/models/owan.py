"""Operation-wise attention network, OWAN (Suganuma, Liu, Okatani, CVPR 2019), the paper's
"OP-Attention" baseline, rebuilt to match the released model (``sg-nm/Operation-wise-attention-network``,
``model.py`` / ``operations.py``) layer for layer; 391,456 parameters at the defaults.

- Feature extraction: 3x3 conv 3 -> C (no bias), then 4 depthwise ResBlocks.
- ``groups`` times: an attention layer (global average pool -> Linear(C, 2·k·8) -> ReLU ->
  Linear(2·k·8, k·8), softmax over the 8 operations, one weight vector per layer k) followed by a
  group of ``layers`` (= k) operation layers after a 1x1 conv + ReLU. Each operation layer applies
  the 8 operations (separable conv 1/3/5/7, dilated (2) conv 3/5/7, 3x3 average pool), scales each
  output by its attention weight, concatenates, 1x1 conv (8C -> C) + ReLU, adds its input, ReLU.
- Output: 3x3 conv C -> 3 (no bias). As released, the network predicts the image directly (no
  global residual). ``model(x, return_features=True)`` returns ``(y, {})``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

N_OPS = 8


def _sep_conv(c: int, k: int) -> nn.Sequential:
    p = k // 2
    return nn.Sequential(
        nn.Conv2d(c, c, k, padding=p, groups=c, bias=False),
        nn.Conv2d(c, c, 1, bias=False),
        nn.ReLU(),
        nn.Conv2d(c, c, k, padding=p, groups=c, bias=False),
        nn.Conv2d(c, c, 1, bias=False),
    )


def _dil_conv(c: int, k: int, dilation: int = 2) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c, c, k, padding=dilation * (k // 2), dilation=dilation, groups=c, bias=False),
        nn.Conv2d(c, c, 1, bias=False),
    )


def operations(c: int) -> nn.ModuleList:
    """The 8 candidate operations, in the released order."""
    return nn.ModuleList([
        _sep_conv(c, 1), _sep_conv(c, 3), _sep_conv(c, 5), _sep_conv(c, 7),
        _dil_conv(c, 3), _dil_conv(c, 5), _dil_conv(c, 7),
        nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False),
    ])


class DepthwiseResBlock(nn.Module):
    """relu(x + dwconv(relu(dwconv(x)))), the feature-extraction block of OWAN."""

    def __init__(self, c: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1, groups=c, bias=False)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1, groups=c, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(x + self.conv2(F.relu(self.conv1(x))))


class OperationLayer(nn.Module):
    """Weighted sum-by-concatenation of the 8 operations, then 1x1 conv + ReLU."""

    def __init__(self, c: int):
        super().__init__()
        self.ops = operations(c)
        self.out = nn.Sequential(nn.Conv2d(c * N_OPS, c, 1, bias=False), nn.ReLU())

    def forward(self, x: Tensor, weights: Tensor) -> Tensor:  # weights: B x 8
        states = [op(x) * weights[:, i].view(-1, 1, 1, 1).to(x.dtype) for i, op in enumerate(self.ops)]
        return self.out(torch.cat(states, dim=1))


class AttentionLayer(nn.Module):
    """Operation-wise attention: softmax weights (B x layers x 8) from the global mean of the features."""

    def __init__(self, c: int, layers: int):
        super().__init__()
        self.layers = layers
        self.fc = nn.Sequential(nn.Linear(c, 2 * layers * N_OPS), nn.ReLU(), nn.Linear(2 * layers * N_OPS, layers * N_OPS))

    def forward(self, x: Tensor) -> Tensor:
        y = self.fc(x.mean(dim=(2, 3)))
        return F.softmax(y.view(-1, self.layers, N_OPS), dim=-1)


class Group(nn.Module):
    """1x1 conv + ReLU, then ``layers`` residual operation layers."""

    def __init__(self, c: int, layers: int):
        super().__init__()
        self.pre = nn.Sequential(nn.Conv2d(c, c, 1, bias=False), nn.ReLU())
        self.ops = nn.ModuleList(OperationLayer(c) for _ in range(layers))

    def forward(self, x: Tensor, weights: Tensor) -> Tensor:
        x = self.pre(x)
        for i, layer in enumerate(self.ops):
            x = F.relu(layer(x, weights[:, i]) + x)
        return x


class OWAN(nn.Module):
    def __init__(self, channels: int = 16, groups: int = 10, layers: int = 4):
        super().__init__()
        c = channels
        self.feb = nn.Sequential(nn.Conv2d(3, c, 3, padding=1, bias=False), *(DepthwiseResBlock(c) for _ in range(4)))
        self.attention = nn.ModuleList(AttentionLayer(c, layers) for _ in range(groups))
        self.groups = nn.ModuleList(Group(c, layers) for _ in range(groups))
        self.out = nn.Conv2d(c, 3, 3, padding=1, bias=False)

    def forward(self, x: Tensor, return_features: bool = False):
        h = self.feb(x)
        for attention, group in zip(self.attention, self.groups):
            h = group(h, attention(h))
        y = self.out(h)
        return (y, {}) if return_features else y
