"""Building blocks shared by FDR-Net: convolution, ResBlock, channel attention, FD-layer, FA-layer.

- :class:`ResBlock`: ``x + conv(relu(conv(x)))`` (He et al. 2016, without BN as in EDSR); ``convs=1``
  gives ``x + relu(conv(x))``, the one-convolution ResBlock that stands in for an FD-layer when the
  FDM is switched off (Table 5 row 2).
- :class:`ChannelAttention`: squeeze-and-excitation as in RCAN: global average pool, 1x1 conv to
  ``max(1, C // reduction)``, ReLU, 1x1 conv back to C, sigmoid, channel-wise product.
- :class:`FDLayer`: conv + GDN (Eq. 3-4). :class:`FALayer`: process module -> channel attention ->
  inverse GDN (Eq. 6-7); the process module is ``pm_blocks`` ResBlocks.
"""
from __future__ import annotations

from torch import Tensor, nn

from .gdn import GDN


def conv3x3(c_in: int, c_out: int, bias: bool = True) -> nn.Conv2d:
    """3x3 convolution with 'same' zero padding (any H x W, odd or even)."""
    return nn.Conv2d(c_in, c_out, 3, padding=1, bias=bias)


class ResBlock(nn.Module):
    """Residual block: ``x + body(x)`` with ``body = conv-ReLU-conv`` (``convs=2``) or ``conv-ReLU`` (``convs=1``)."""

    def __init__(self, channels: int, convs: int = 2):
        super().__init__()
        if convs not in (1, 2):
            raise ValueError(f"ResBlock convs: expected 1 or 2, got {convs!r}")
        layers: list[nn.Module] = [conv3x3(channels, channels), nn.ReLU(inplace=True)]
        if convs == 2:
            layers.append(conv3x3(channels, channels))
        self.body = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class ChannelAttention(nn.Module):
    """Channel attention (Eq. 6, ``CA``): rescale each channel by a gate computed from its global mean."""

    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        hidden = max(1, channels // reduction)
        self.gate = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(channels, hidden, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, channels, 1),
            nn.Sigmoid(),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x * self.gate(x)


class FDLayer(nn.Module):
    """FD-layer: ``S = conv(F_in)`` (Eq. 3), ``D = GDN(S)`` (Eq. 4)."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = conv3x3(channels, channels)
        self.gdn = GDN(channels)

    def forward(self, x: Tensor) -> Tensor:
        return self.gdn(self.conv(x))


class FALayer(nn.Module):
    """FA-layer: ``F_p = CA(PM(D))`` (Eq. 6), ``F_c = IGDN(F_p)`` (Eq. 7); PM = ``pm_blocks`` ResBlocks."""

    def __init__(self, channels: int, pm_blocks: int, reduction: int):
        super().__init__()
        self.process = nn.Sequential(*(ResBlock(channels) for _ in range(pm_blocks)))
        self.attention = ChannelAttention(channels, reduction)
        self.igdn = GDN(channels, inverse=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.igdn(self.attention(self.process(x)))
