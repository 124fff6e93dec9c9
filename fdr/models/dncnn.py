"""DnCNN baseline (Zhang et al. 2017), as used by the paper's Table 1-2 comparison.

``depth`` convolutions (17 by default) of ``channels`` features (64): conv + ReLU, then
``depth - 2`` x (conv + batch norm + ReLU), then conv to 3 channels; residual learning (the network
predicts the distortion, which is subtracted from the input). Convolutions followed by batch norm
carry no bias (the norm's shift replaces it). ``model(x, return_features=True)`` returns ``(y, {})``.
"""
from __future__ import annotations

from torch import Tensor, nn


class DnCNN(nn.Module):
    def __init__(self, depth: int = 17, channels: int = 64):
        super().__init__()
        if depth < 2:
            raise ValueError(f"DnCNN depth: expected an integer >= 2, got {depth!r}")
        layers: list[nn.Module] = [nn.Conv2d(3, channels, 3, padding=1), nn.ReLU(inplace=True)]
        for _ in range(depth - 2):
            layers += [
                nn.Conv2d(channels, channels, 3, padding=1, bias=False),
                nn.BatchNorm2d(channels),
                nn.ReLU(inplace=True),
            ]
        layers.append(nn.Conv2d(channels, 3, 3, padding=1, bias=False))
        self.body = nn.Sequential(*layers)

    def forward(self, x: Tensor, return_features: bool = False):
        y = x - self.body(x)
        return (y, {}) if return_features else y
