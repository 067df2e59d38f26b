"""Discriminators: a fully convolutional VGG-style patch critic and a Real-ESRGAN U-Net.

Both return logits (no sigmoid), so the adversarial losses in ``srgan_sci.losses`` decide
how to read them.  Both are fully convolutional: any input size above a small minimum
works, which keeps them independent of the training patch size.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

NORMS = ("batch", "none", "spectral")


def _conv(
    cin: int, cout: int, kernel: int, stride: int, spectral: bool, bias: bool = True
) -> nn.Module:
    """3x3 (stride 1) or 4x4 (stride 2) convolution that keeps or halves the size."""
    conv = nn.Conv2d(cin, cout, kernel, stride=stride, padding=1, bias=bias)
    return spectral_norm(conv) if spectral else conv


def _check_input(x: torch.Tensor, channels: int, min_size: int) -> None:
    if x.ndim != 4 or x.shape[1] != channels:
        raise ValueError(f"expected an (N, {channels}, H, W) tensor, got shape {tuple(x.shape)}")
    if min(x.shape[-2:]) < min_size:
        raise ValueError(
            f"input of {tuple(x.shape[-2:])} pixels is too small; height and width must be "
            f">= {min_size}"
        )


class VGGPatchDiscriminator(nn.Module):
    """VGG-style patch discriminator returning a map of logits.

    ``depth`` levels, each a 3x3 convolution and a stride-2 4x4 convolution with
    LeakyReLU(0.2); channels ``channels * (1, 2, 4, 8, 8, ...)``.  A final 3x3 convolution
    gives one logit per patch: ``(N, 1, H // 2**depth, W // 2**depth)`` for any input at
    least ``2**depth`` pixels on a side.

    As a WGAN-GP critic use ``norm="none"`` or ``norm="spectral"``: batch norm mixes the
    samples of a batch, while the gradient penalty needs each sample's gradient on its own
    (Gulrajani et al. 2017).  ``uses_batch_norm`` tells which kind a model is.

    Parameters
    ----------
    in_channels : int
        Channels of the images judged.
    channels : int
        Channels of the first level.
    norm : {"batch", "none", "spectral"}
        ``"batch"``: BatchNorm2d after every convolution but the first and the last.
        ``"spectral"``: spectral normalisation of every convolution's weight, no batch norm.
        ``"none"``: plain convolutions.
    depth : int
        Number of stride-2 levels.
    """

    def __init__(
        self, in_channels: int = 1, channels: int = 64, norm: str = "batch", depth: int = 4
    ) -> None:
        super().__init__()
        if norm not in NORMS:
            raise ValueError(f"unknown norm {norm!r}; use one of {NORMS}")
        for name, value in (("in_channels", in_channels), ("channels", channels), ("depth", depth)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        self.in_channels, self.channels, self.norm, self.depth = in_channels, channels, norm, depth
        self.min_size = 2**depth
        spectral, batch = norm == "spectral", norm == "batch"
        layers: list[nn.Module] = [
            _conv(in_channels, channels, 3, 1, spectral),
            nn.LeakyReLU(0.2),
        ]
        cin = channels
        for level in range(depth):
            cout = channels * min(2**level, 8)
            convs = [(cin, cout, 4, 2)] if level == 0 else [(cin, cout, 3, 1), (cout, cout, 4, 2)]
            for a, b, kernel, stride in convs:
                layers.append(_conv(a, b, kernel, stride, spectral, bias=not batch))
                layers += [nn.BatchNorm2d(b)] if batch else []
                layers.append(nn.LeakyReLU(0.2))
            cin = cout
        layers.append(_conv(cin, 1, 3, 1, spectral))
        self.net = nn.Sequential(*layers)

    @property
    def uses_batch_norm(self) -> bool:
        """Whether the model holds batch norm (then it is unfit as a WGAN-GP critic)."""
        return self.norm == "batch"

    def config(self) -> dict[str, Any]:
        """Constructor keyword arguments (JSON-serialisable)."""
        return {
            "in_channels": self.in_channels,
            "channels": self.channels,
            "norm": self.norm,
            "depth": self.depth,
        }

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Patch logits ``(N, 1, H // 2**depth, W // 2**depth)``."""
        _check_input(x, self.in_channels, self.min_size)
        return self.net(x)


class UNetDiscriminator(nn.Module):
    """U-Net discriminator with per-pixel logits (as in Real-ESRGAN).

    Three stride-2 4x4 convolutions (channels ``c, 2c, 4c, 8c``) encode; three decoder
    steps interpolate bilinearly to the size of the matching encoder feature, apply a 3x3
    convolution and add that feature (skip connection); two 3x3 convolutions and a final
    one give ``(N, 1, H, W)`` logits.  Interpolating to the skip's size makes any input of
    at least 8 pixels on a side work, odd sizes included.  LeakyReLU(0.2) throughout.

    Parameters
    ----------
    in_channels : int
        Channels of the images judged.
    channels : int
        Channels ``c`` of the full-resolution features.
    spectral : bool
        Spectral normalisation on every convolution but the first and the last.
    """

    min_size = 8

    def __init__(self, in_channels: int = 1, channels: int = 64, spectral: bool = True) -> None:
        super().__init__()
        for name, value in (("in_channels", in_channels), ("channels", channels)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        self.in_channels, self.channels, self.spectral = in_channels, channels, bool(spectral)
        widths = [channels, 2 * channels, 4 * channels, 8 * channels]
        self.conv_in = nn.Conv2d(in_channels, channels, 3, padding=1)
        self.down = nn.ModuleList(
            _conv(widths[i], widths[i + 1], 4, 2, self.spectral, bias=False) for i in range(3)
        )
        self.up = nn.ModuleList(
            _conv(widths[i + 1], widths[i], 3, 1, self.spectral, bias=False)
            for i in reversed(range(3))
        )
        self.refine = nn.Sequential(
            _conv(channels, channels, 3, 1, self.spectral, bias=False),
            nn.LeakyReLU(0.2),
            _conv(channels, channels, 3, 1, self.spectral, bias=False),
            nn.LeakyReLU(0.2),
        )
        self.conv_out = nn.Conv2d(channels, 1, 3, padding=1)

    @property
    def uses_batch_norm(self) -> bool:
        """Always False: the U-Net has no batch norm."""
        return False

    def config(self) -> dict[str, Any]:
        """Constructor keyword arguments (JSON-serialisable)."""
        return {
            "in_channels": self.in_channels,
            "channels": self.channels,
            "spectral": self.spectral,
        }

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Per-pixel logits ``(N, 1, H, W)``."""
        _check_input(x, self.in_channels, self.min_size)
        skips = [F.leaky_relu(self.conv_in(x), 0.2)]
        for conv in self.down:
            skips.append(F.leaky_relu(conv(skips[-1]), 0.2))
        feat = skips.pop()
        for conv in self.up:
            skip = skips.pop()
            feat = F.interpolate(feat, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            feat = F.leaky_relu(conv(feat), 0.2) + skip
        return self.conv_out(self.refine(feat))


DISCRIMINATORS: dict[str, type[nn.Module]] = {
    "vgg": VGGPatchDiscriminator,
    "unet": UNetDiscriminator,
}


def build_discriminator(arch: str, config: dict[str, Any]) -> nn.Module:
    """Build the discriminator ``DISCRIMINATORS[arch](**config)``.

    Parameters
    ----------
    arch : {"vgg", "unet"}
        Architecture name.
    config : dict
        Constructor keyword arguments, as returned by the model's ``config()``.

    Returns
    -------
    torch.nn.Module
        A freshly initialised discriminator.
    """
    if arch not in DISCRIMINATORS:
        raise ValueError(f"unknown discriminator {arch!r}; use one of {sorted(DISCRIMINATORS)}")
    return DISCRIMINATORS[arch](**config)
