"""Super-resolution generators: MSRResNet (SRGAN without batch norm) and RRDBNet (ESRGAN).

Both map ``(N, C_in, H, W)`` to ``(N, C_out, s*H, s*W)`` for ``s`` in (2, 3, 4, 8), return
their constructor arguments from ``config()`` (so ``type(m)(**m.config())`` rebuilds them)
and know their ``receptive_field_radius``, the halo that tiled inference needs.
"""

from __future__ import annotations

import copy
import inspect
import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

SCALES = (2, 3, 4, 8)


def _scale_steps(scale: int) -> list[int]:
    """Upsampling steps: one x3 step for scale 3, otherwise x2 steps."""
    return [3] if scale == 3 else [2] * int(math.log2(scale))


def _radius(lr_convs: int, steps: list[int], convs_after: list[int]) -> int:
    """Upper bound of the receptive-field half-width, in low-resolution pixels.

    Walks the network backwards from one output pixel: a 3x3 convolution widens the
    interval by one pixel at its own resolution, and an upsampling by ``s`` (pixel
    shuffle or nearest, both mapping fine pixel ``p`` to coarse pixel ``p // s``) turns
    a half-width ``w`` into at most ``ceil(w / s)`` around the parent pixel.
    """
    width = 0
    for step, convs in zip(reversed(steps), reversed(convs_after), strict=True):
        width = math.ceil((width + convs) / step)
    return width + lr_convs


def _init_scaled(module: nn.Module, factor: float = 0.1) -> None:
    """Kaiming-normal initialisation scaled by ``factor`` with zero biases (as in ESRGAN)."""
    for conv in module.modules():
        if isinstance(conv, nn.Conv2d):
            nn.init.kaiming_normal_(conv.weight)
            conv.weight.data.mul_(factor)
            if conv.bias is not None:
                nn.init.zeros_(conv.bias)


def _conv3(cin: int, cout: int, bias: bool = True) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, padding=1, bias=bias)


def _check_input(x: torch.Tensor, channels: int) -> None:
    if x.ndim != 4 or x.shape[1] != channels:
        raise ValueError(f"expected an (N, {channels}, H, W) tensor, got shape {tuple(x.shape)}")


class _Generator(nn.Module):
    """Shared bookkeeping: ``config()`` reads back the constructor arguments."""

    in_channels: int
    out_channels: int
    scale: int

    def config(self) -> dict[str, Any]:
        """Constructor keyword arguments (JSON-serialisable); ``type(m)(**m.config())``."""
        names = inspect.signature(type(self).__init__).parameters
        return {name: getattr(self, name) for name in names if name != "self"}

    def _check(self) -> None:
        """Validate the constructor arguments once they are stored."""
        for name, value in self.config().items():
            if name == "bias":
                if not isinstance(value, bool):
                    raise ValueError(f"bias must be true or false, got {value!r}")
                continue
            if name == "scale" and value not in SCALES:
                raise ValueError(f"scale must be one of {SCALES}, got {value!r}")
            if name != "residual_scale" and (not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be a positive integer, got {value!r}")


class _ResidualBlock(nn.Module):
    """``x + conv(relu(conv(x)))`` without batch norm."""

    def __init__(self, channels: int, bias: bool = True) -> None:
        super().__init__()
        self.conv1 = _conv3(channels, channels, bias)
        self.conv2 = _conv3(channels, channels, bias)
        _init_scaled(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.relu(self.conv1(x)))


class MSRResNet(_Generator):
    """SRResNet without batch norm (ESRGAN's MSRResNet).

    ``conv_first`` -> ``blocks`` residual blocks (conv-ReLU-conv plus identity) -> pixel
    shuffle upsampling (x2 steps for scales 2, 4, 8; one x3 step for scale 3), each step a
    3x3 convolution, ``PixelShuffle`` and LeakyReLU(0.1) -> ``conv_hr`` -> ``conv_last``.
    When ``in_channels == out_channels`` a global skip adds the input upsampled with
    ``F.interpolate(mode="bilinear", align_corners=False)``, so the network learns the
    residual to bilinear interpolation; otherwise there is no global skip.

    Parameters
    ----------
    in_channels, out_channels : int
        Channels of the low-resolution input and the high-resolution output.
    channels : int
        Feature channels.
    blocks : int
        Number of residual blocks.
    scale : {2, 3, 4, 8}
        Upscaling factor.
    bias : bool
        Convolutions with additive biases.  Without them the network is positively
        homogeneous, ``f(a x) = a f(x)`` for ``a > 0`` (convolutions, ReLU/LeakyReLU,
        pixel shuffle and the bilinear skip all are): its output scales with the input's
        brightness, so the normaliser's scale statistic drops out and images brighter or
        fainter than the training data are not mis-scaled.
    """

    def __init__(
        self,
        in_channels: int = 1,
        out_channels: int = 1,
        channels: int = 64,
        blocks: int = 16,
        scale: int = 4,
        bias: bool = True,
    ) -> None:
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.channels, self.blocks, self.scale, self.bias = channels, blocks, scale, bias
        self._check()
        self.global_skip = in_channels == out_channels
        self.conv_first = _conv3(in_channels, channels, bias)
        self.body = nn.Sequential(*(_ResidualBlock(channels, bias) for _ in range(blocks)))
        layers: list[nn.Module] = []
        for step in _scale_steps(scale):
            layers += [
                _conv3(channels, channels * step * step, bias),
                nn.PixelShuffle(step),
                nn.LeakyReLU(0.1),
            ]
        self.upsample = nn.Sequential(*layers)
        self.conv_hr = _conv3(channels, channels, bias)
        self.conv_last = _conv3(channels, out_channels, bias)
        for module in (self.conv_first, self.upsample, self.conv_hr, self.conv_last):
            _init_scaled(module)

    @property
    def receptive_field_radius(self) -> int:
        """Half-width, in input pixels, of the input region that one output pixel sees.

        ``2 * blocks + 3`` at every scale: ``conv_first``, two convolutions per block and
        the first upsampling convolution at low resolution, plus one more pixel from the
        high-resolution convolutions (``ceil(2 / s)`` and so on); the bilinear skip
        reaches one pixel.  It is an upper bound, measured around pixel ``p // scale``
        for output pixel ``p``.
        """
        steps = _scale_steps(self.scale)
        after = [1] * (len(steps) - 1) + [2]
        return max(_radius(2 * self.blocks + 2, steps, after), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Upscale ``(N, in_channels, H, W)`` to ``(N, out_channels, s*H, s*W)``."""
        _check_input(x, self.in_channels)
        feat = self.upsample(self.body(F.leaky_relu(self.conv_first(x), 0.1)))
        out = self.conv_last(F.leaky_relu(self.conv_hr(feat), 0.1))
        if self.global_skip:
            out = out + F.interpolate(
                x, scale_factor=self.scale, mode="bilinear", align_corners=False
            )
        return out


class _DenseBlock(nn.Module):
    """Five densely connected 3x3 convolutions with a scaled residual."""

    def __init__(self, channels: int, growth: int, residual_scale: float) -> None:
        super().__init__()
        self.residual_scale = residual_scale
        self.convs = nn.ModuleList(
            _conv3(channels + i * growth, growth if i < 4 else channels) for i in range(5)
        )
        _init_scaled(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = [x]
        for conv in self.convs[:-1]:
            feats.append(F.leaky_relu(conv(torch.cat(feats, dim=1)), 0.2))
        return x + self.residual_scale * self.convs[-1](torch.cat(feats, dim=1))


class _RRDB(nn.Module):
    """Residual-in-residual dense block: three dense blocks and a scaled residual."""

    def __init__(self, channels: int, growth: int, residual_scale: float) -> None:
        super().__init__()
        self.residual_scale = residual_scale
        self.body = nn.Sequential(
            *(_DenseBlock(channels, growth, residual_scale) for _ in range(3))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.residual_scale * self.body(x)


class RRDBNet(_Generator):
    """ESRGAN generator built from residual-in-residual dense blocks (RRDB).

    ``conv_first`` -> ``blocks`` RRDBs -> ``conv_body`` plus a trunk skip -> upsampling
    (x2 steps for scales 2, 4, 8, one x3 step for scale 3), each step nearest-neighbour
    interpolation, a 3x3 convolution and LeakyReLU(0.2) -> ``conv_hr`` -> ``conv_last``.

    Parameters
    ----------
    in_channels, out_channels : int
        Channels of the low-resolution input and the high-resolution output.
    channels : int
        Trunk feature channels.
    blocks : int
        Number of RRDBs.
    growth : int
        Channels added by each convolution inside a dense block.
    scale : {2, 3, 4, 8}
        Upscaling factor.
    residual_scale : float
        Factor on the residual branch of every dense block and RRDB.
    """

    def __init__(
        self,
        in_channels: int = 1,
        out_channels: int = 1,
        channels: int = 64,
        blocks: int = 23,
        growth: int = 32,
        scale: int = 4,
        residual_scale: float = 0.2,
    ) -> None:
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.channels, self.blocks, self.growth = channels, blocks, growth
        self.scale, self.residual_scale = scale, float(residual_scale)
        self._check()
        self._steps = _scale_steps(scale)
        self.conv_first = _conv3(in_channels, channels)
        self.body = nn.Sequential(
            *(_RRDB(channels, growth, self.residual_scale) for _ in range(blocks))
        )
        self.conv_body = _conv3(channels, channels)
        self.up_convs = nn.ModuleList(_conv3(channels, channels) for _ in self._steps)
        self.conv_hr = _conv3(channels, channels)
        self.conv_last = _conv3(channels, out_channels)

    @property
    def receptive_field_radius(self) -> int:
        """Half-width, in input pixels, of the input region that one output pixel sees.

        ``15 * blocks + 4`` for scales 2, 4, 8 and ``15 * blocks + 3`` for scale 3:
        ``conv_first``, 15 convolutions per RRDB (3 dense blocks of 5) and ``conv_body`` at
        low resolution, plus the upsampling convolutions, ``conv_hr`` and ``conv_last``
        divided down by the scale steps and rounded up.  It is an upper bound, measured
        around pixel ``p // scale`` for output pixel ``p``.
        """
        after = [1] * (len(self._steps) - 1) + [3]
        return _radius(15 * self.blocks + 2, self._steps, after)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Upscale ``(N, in_channels, H, W)`` to ``(N, out_channels, s*H, s*W)``."""
        _check_input(x, self.in_channels)
        feat = self.conv_first(x)
        feat = feat + self.conv_body(self.body(feat))
        for step, conv in zip(self._steps, self.up_convs, strict=True):
            feat = F.leaky_relu(conv(F.interpolate(feat, scale_factor=step, mode="nearest")), 0.2)
        return self.conv_last(F.leaky_relu(self.conv_hr(feat), 0.2))


GENERATORS: dict[str, type[nn.Module]] = {"msrresnet": MSRResNet, "rrdb": RRDBNet}


def build_generator(arch: str, config: dict[str, Any]) -> nn.Module:
    """Build the generator ``GENERATORS[arch](**config)``.

    Parameters
    ----------
    arch : {"msrresnet", "rrdb"}
        Architecture name.
    config : dict
        Constructor keyword arguments, as returned by the model's ``config()``.

    Returns
    -------
    torch.nn.Module
        A freshly initialised generator.
    """
    if arch not in GENERATORS:
        raise ValueError(f"unknown generator {arch!r}; use one of {sorted(GENERATORS)}")
    return GENERATORS[arch](**config)


def measure_receptive_field(model: nn.Module, size: int | None = None, seed: int = 0) -> int:
    """Measure a generator's receptive-field radius with gradients.

    Back-propagates the sum of the ``scale x scale`` output pixels that belong to the
    centre input pixel ``k`` and returns the largest Chebyshev distance from ``k`` of an
    input pixel with a nonzero gradient.  Dead ReLUs can make it smaller than the analytic
    ``receptive_field_radius``, never larger.

    Parameters
    ----------
    model : torch.nn.Module
        A generator with ``in_channels`` and ``scale`` attributes.  A float64 copy in
        eval mode is measured (float32 gradients underflow far from the centre, as the
        0.1-scaled residual branches multiply), so ``model`` itself is untouched.
    size : int, optional
        Side of the square random input; defaults to ``2 * receptive_field_radius + 3``.
    seed : int
        Seed of the random input.

    Returns
    -------
    int
        Measured radius in input pixels.
    """
    if size is None:
        size = 2 * int(model.receptive_field_radius) + 3
    model = copy.deepcopy(model).double().eval()
    device = next(model.parameters()).device
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(1, model.in_channels, size, size, generator=gen, dtype=torch.float64)
    x = x.to(device)
    out = model(x.requires_grad_(True))
    k, s = size // 2, model.scale
    (grad,) = torch.autograd.grad(out[..., k * s : (k + 1) * s, k * s : (k + 1) * s].sum(), x)
    rows, cols = torch.nonzero(grad.abs().sum(dim=(0, 1)), as_tuple=True)
    if rows.min() == 0 or cols.min() == 0 or rows.max() == size - 1 or cols.max() == size - 1:
        raise ValueError(
            f"receptive field reaches the border of a {size}-pixel input; use a larger size"
        )
    return int(torch.maximum((rows - k).abs(), (cols - k).abs()).max())
