"""Frozen feature networks for perceptual losses; nothing is ever downloaded.

Two extractors share one contract: ``(N, C, H, W)`` images in, a feature map out, every
parameter frozen, gradients still flowing to the *input* so a perceptual loss can train a
generator.

:class:`RandomFeatures` is the offline default.  It is a deep CNN with fixed random weights
drawn from a seeded :class:`torch.Generator`, so every instantiation with the same seed is
bit-identical and no weight file is needed.  Random-weight CNNs are a documented choice,
not a placeholder: He, Wang & Hopcroft, "A Powerful Generative Model Using Random Weights
for the Deep Image Representation" (NeurIPS 2016) reconstruct and stylise images from the
features of a VGG with random weights, and Ulyanov, Vedaldi & Lempitsky, "Deep Image Prior"
(CVPR 2018) show that the structure of an untrained CNN alone is a strong image prior.
Such features respond to local structure (edges, texture), not just to per-pixel error.

:class:`VGG19Features` is the SRGAN/ESRGAN choice (conv5_4 before the ReLU, "VGG54").
It is only useful with ImageNet-trained weights, which the user supplies as a file: a
torchvision ``vgg19`` state dict (``.pth``/``.pt``) or the same tensors as ``.safetensors``,
given as an argument or through the ``SRSCI_VGG19_WEIGHTS`` environment variable.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import torch
from torch import nn
from torch.nn.utils import skip_init

from srgan_sci.errors import CorruptFileError, SrsciError, UnsupportedFormatError

WEIGHTS_ENV_VAR = "SRSCI_VGG19_WEIGHTS"
"""Environment variable read by :meth:`VGG19Features.from_file` when no path is given."""

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# torchvision's configuration "E" (VGG19): output channels of each 3x3 conv, "M" = max-pool.
_VGG19_CFG: tuple[int | str, ...] = (
    *(64, 64, "M", 128, 128, "M"),
    *(256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"),
)


class FeatureWeightsError(SrsciError, FileNotFoundError):
    """Pretrained feature-network weights were requested but no file is available."""


class FeatureWeightsMismatchError(SrsciError, ValueError):
    """A weight file does not fit the feature network (missing, unexpected or misshapen keys)."""


def _seeded_conv(conv_args: tuple[int, int], stride: int, generator: torch.Generator) -> nn.Conv2d:
    """3x3 conv, He-normal weights from ``generator``, zero bias; global RNG untouched."""
    conv = skip_init(nn.Conv2d, *conv_args, kernel_size=3, stride=stride, padding=1)
    with torch.no_grad():
        nn.init.kaiming_normal_(conv.weight, nonlinearity="relu", generator=generator)
        conv.bias.zero_()
    return conv


def _freeze(module: nn.Module) -> None:
    for parameter in module.parameters():
        parameter.requires_grad_(False)
    module.eval()


def _vgg19_layer_indices() -> dict[str, int]:
    """Map ``"convX_Y"``/``"reluX_Y"`` to its index in torchvision's ``vgg19().features``."""
    names: dict[str, int] = {}
    index, block, conv = 0, 1, 1
    for item in _VGG19_CFG:
        if item == "M":
            index, block, conv = index + 1, block + 1, 1
            continue
        names[f"conv{block}_{conv}"] = index
        names[f"relu{block}_{conv}"] = index + 1
        index, conv = index + 2, conv + 1
    return names


class VGG19Features(nn.Module):
    """VGG19 convolutional trunk, laid out exactly as torchvision's ``vgg19().features``.

    Module indices match torchvision, so ``state_dict()`` keys read ``"features.0.weight"``
    ... ``"features.34.bias"`` and torchvision checkpoints load unchanged.

    Input handling is explicit: images are expected in a ``[0, 1]``-like normalised range
    (what :mod:`srgan_sci.normalize` produces); single-channel images are *replicated* to
    three channels (a fixed copy, nothing learned); then the ImageNet mean and standard
    deviation are applied, as the pretrained weights expect.  Only 1- or 3-channel input
    is accepted.

    Parameters
    ----------
    layer : str
        Output layer, ``"convX_Y"`` (before its ReLU) or ``"reluX_Y"`` (after it).  The
        default ``"conv5_4"`` is SRGAN's "VGG54" taken before activation, as in ESRGAN.
    seed : int
        Seed for the random initial weights.  These weights are placeholders: a VGG19
        perceptual loss needs trained weights, see :meth:`from_file`.
    """

    def __init__(self, layer: str = "conv5_4", *, seed: int = 0) -> None:
        super().__init__()
        indices = _vgg19_layer_indices()
        if layer not in indices:
            raise ValueError(f"unknown VGG19 layer {layer!r}; use one of {', '.join(indices)}")
        self.layer = layer
        self._stop = indices[layer] + 1
        generator = torch.Generator().manual_seed(seed)
        modules: list[nn.Module] = []
        channels = 3
        for item in _VGG19_CFG:
            if item == "M":
                modules.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                modules += [_seeded_conv((channels, int(item)), 1, generator), nn.ReLU()]
                channels = int(item)
        self.features = nn.Sequential(*modules)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), False)
        _freeze(self)

    def train(self, mode: bool = True) -> VGG19Features:
        """Stay in eval mode whatever ``mode`` says: the network is frozen."""
        return super().train(False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Features of ``images`` (``(N, 1 or 3, H, W)``) at :attr:`layer`."""
        if images.ndim != 4 or images.shape[1] not in (1, 3):
            raise ValueError(f"VGG19 expects (N, 1 or 3, H, W) images, got {tuple(images.shape)}")
        if images.shape[1] == 1:
            images = images.expand(-1, 3, -1, -1)
        out = (images - self.mean) / self.std
        for module in self.features[: self._stop]:
            out = module(out)
        return out

    def load_weights(self, state_dict: dict[str, torch.Tensor]) -> None:
        """Load torchvision-format weights, checking every key.

        Accepts ``"features.N.weight"`` keys, the same keys without the ``"features."``
        prefix, and full ``vgg19`` state dicts whose ``"classifier.*"`` keys are ignored.

        Raises
        ------
        FeatureWeightsMismatchError
            If keys are missing or unexpected, or a tensor has the wrong shape.
        """
        trunk = {
            key.removeprefix("features."): value
            for key, value in state_dict.items()
            if not key.startswith("classifier.")
        }
        expected = self.features.state_dict()
        missing = [f"features.{k}" for k in expected if k not in trunk]
        unexpected = sorted(
            k
            for k in state_dict
            if not k.startswith("classifier.") and k.removeprefix("features.") not in expected
        )
        if missing or unexpected:
            raise FeatureWeightsMismatchError(
                "VGG19 weights do not match torchvision's vgg19().features: "
                f"{len(missing)} missing (e.g. {missing[:3]}), "
                f"{len(unexpected)} unexpected (e.g. {unexpected[:3]}); "
                "supply a torchvision vgg19 state dict"
            )
        bad = [k for k in expected if tuple(trunk[k].shape) != tuple(expected[k].shape)]
        if bad:
            raise FeatureWeightsMismatchError(
                f"VGG19 weights have wrong shapes for {len(bad)} tensors (e.g. features.{bad[0]}: "
                f"{tuple(trunk[bad[0]].shape)} instead of {tuple(expected[bad[0]].shape)})"
            )
        self.features.load_state_dict(trunk)

    @classmethod
    def from_file(
        cls, path: str | os.PathLike[str] | None = None, *, layer: str = "conv5_4"
    ) -> VGG19Features:
        """Build the network and load weights from ``path``, else ``$SRSCI_VGG19_WEIGHTS``.

        ``.pth``/``.pt`` files are read with ``torch.load(..., weights_only=True)`` (no
        arbitrary code runs); ``.safetensors`` with :func:`safetensors.torch.load_file`.

        Raises
        ------
        FeatureWeightsError
            If no path is given and the variable is unset, or the file does not exist.
        UnsupportedFormatError
            If the suffix is not ``.pth``, ``.pt`` or ``.safetensors``.
        FeatureWeightsMismatchError
            If the file is not a VGG19 state dict.
        """
        source = "argument"
        if path is None:
            path, source = os.environ.get(WEIGHTS_ENV_VAR) or None, f"${WEIGHTS_ENV_VAR}"
        if path is None:
            raise FeatureWeightsError(
                f"no VGG19 weights: pass a file or set {WEIGHTS_ENV_VAR} to a torchvision "
                "vgg19 state dict (.pth/.safetensors); nothing is downloaded"
            )
        path = Path(path)
        if not path.is_file():
            raise FeatureWeightsError(
                f"VGG19 weights file {str(path)!r} (from {source}) does not exist; "
                "nothing is downloaded, place a torchvision vgg19 state dict there"
            )
        network = cls(layer)
        network.load_weights(_read_state_dict(path))
        return network


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    suffix = path.suffix.lower()
    if suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(str(path), device="cpu")
        except SafetensorError as err:
            raise CorruptFileError(f"cannot read {str(path)!r} as safetensors: {err}") from err
    if suffix in (".pth", ".pt"):
        try:
            loaded = torch.load(path, map_location="cpu", weights_only=True)
        except (pickle.UnpicklingError, RuntimeError, EOFError) as err:
            raise CorruptFileError(
                f"cannot read {str(path)!r} as a state dict (weights_only=True): {err}"
            ) from err
        if not isinstance(loaded, dict):
            raise FeatureWeightsMismatchError(
                f"{str(path)!r} holds a {type(loaded).__name__}, not a state dict"
            )
        return loaded
    raise UnsupportedFormatError(
        f"VGG19 weights must be .pth, .pt or .safetensors, got {str(path)!r}"
    )


class RandomFeatures(nn.Module):
    """Fixed random-weight CNN features: the perceptual network that needs no weight file.

    Five stages of two 3x3 conv layers with ReLU; the first conv of stages 2-5 has stride 2,
    so the output is 1/16 of the input size (rounded up) with ``channels[-1]`` channels.
    Weights are He-normal from ``torch.Generator().manual_seed(seed)``, biases zero, all
    frozen; the output is taken before the last ReLU, like VGG54.  No normalisation is
    applied: inputs are whatever the generator sees (``[0, 1]``-like).  See the module
    docstring for why random features serve as a perceptual loss.

    Parameters
    ----------
    in_channels : int
        Channels of the images (any positive number).
    channels : tuple of int
        Width of each stage.
    seed : int
        Seed of the weights; same seed, same weights, on every machine.
    """

    def __init__(
        self,
        in_channels: int = 1,
        *,
        channels: tuple[int, ...] = (32, 64, 128, 256, 256),
        seed: int = 0,
    ) -> None:
        super().__init__()
        if in_channels < 1 or not channels:
            raise ValueError("in_channels must be >= 1 and channels non-empty")
        self.in_channels = in_channels
        self.seed = seed
        generator = torch.Generator().manual_seed(seed)
        layers: list[nn.Module] = []
        previous = in_channels
        for stage, width in enumerate(channels):
            layers += [_seeded_conv((previous, width), 2 if stage else 1, generator), nn.ReLU()]
            layers += [_seeded_conv((width, width), 1, generator), nn.ReLU()]
            previous = width
        self.body = nn.Sequential(*layers[:-1])
        _freeze(self)

    def train(self, mode: bool = True) -> RandomFeatures:
        """Stay in eval mode whatever ``mode`` says: the network is frozen."""
        return super().train(False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Features of ``images`` (``(N, in_channels, H, W)``)."""
        if images.ndim != 4 or images.shape[1] != self.in_channels:
            raise ValueError(
                f"expected (N, {self.in_channels}, H, W) images, got {tuple(images.shape)}"
            )
        return self.body(images)


def build_feature_extractor(
    kind: str = "random",
    *,
    in_channels: int = 1,
    weights: str | os.PathLike[str] | None = None,
    layer: str = "conv5_4",
) -> nn.Module:
    """Return the frozen feature network for a perceptual loss.

    Parameters
    ----------
    kind : {"random", "vgg19"}
        ``"random"``: :class:`RandomFeatures` (offline, no weights; ``layer`` unused).
        ``"vgg19"``: :meth:`VGG19Features.from_file` with ``weights`` or
        ``$SRSCI_VGG19_WEIGHTS``; 1- or 3-channel images only.
    in_channels : int
        Channels of the images the loss will see.
    weights : path, optional
        VGG19 weight file; only meaningful with ``kind="vgg19"``.
    layer : str
        VGG19 output layer, ``"convX_Y"`` or ``"reluX_Y"``.

    Returns
    -------
    torch.nn.Module
        The frozen network, on CPU.
    """
    if kind == "random":
        if weights is not None:
            raise ValueError("weights only apply to kind='vgg19'; random features need none")
        return RandomFeatures(in_channels)
    if kind == "vgg19":
        if in_channels not in (1, 3):
            raise ValueError(f"VGG19 features take 1 or 3 channels, not {in_channels}")
        return VGG19Features.from_file(weights, layer=layer)
    raise ValueError(f"unknown feature extractor {kind!r}; use 'random' or 'vgg19'")
