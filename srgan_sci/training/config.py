"""``TrainConfig``: every option of ``srsci train``, loadable from TOML, validated once."""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from srgan_sci.errors import SrsciError
from srgan_sci.loss_weights import LossWeights

PHASES = ("pretrain", "gan", "both")


class TrainConfigError(SrsciError, ValueError):
    """A training option is invalid."""


@dataclass(frozen=True)
class TrainConfig:
    """Options of one training run.

    Data comes either from pairs datasets (``data``, made by ``srsci simulate``: one path,
    or several with the same scale, e.g. two instrument presets mixed) or from HR images
    degraded on the fly once at start-up (``hr`` + ``preset`` [+ ``scale``]).

    Phases: ``pretrain`` optimises the pixel loss only (the PSNR-oriented model);
    ``gan`` fine-tunes with pixel + perceptual + adversarial losses (``weights``, ESRGAN
    defaults); ``both`` runs ``pretrain_steps`` then ``gan_steps``.

    ``channel_axis`` names the leading axis of the images that holds channels (0 for
    ``(c, y, x)``): the generator then maps C channels to C channels.  Without it every
    2-D plane is a single-channel training image.

    ``bias = False`` builds an MSRResNet without convolution biases, whose output scales
    with the input's brightness (see :class:`~srgan_sci.models.generator.MSRResNet`).
    """

    out: str
    data: str | tuple[str, ...] | None = None
    hr: tuple[str, ...] = ()
    preset: str = "ground-seeing"
    scale: int | None = None
    val_fraction: float = 0.1
    phase: str = "both"
    pretrain_steps: int = 1000
    gan_steps: int = 1000
    batch_size: int = 16
    patch_size: int = 32
    arch: str = "msrresnet"
    channels: int = 64
    blocks: int = 16
    bias: bool = True
    discriminator: str = "vgg"
    discriminator_channels: int = 64
    features: str = "random"
    vgg_weights: str | None = None
    lr_generator: float = 2e-4
    lr_discriminator: float = 1e-4
    min_lr_fraction: float = 0.01
    warmup_steps: int = 0
    grad_clip: float | None = 1.0
    ema_decay: float = 0.999
    weights: LossWeights = field(default_factory=LossWeights)
    normalizer: str = "percentile"
    channel_axis: int | None = None
    min_signal: float | None = 0.05
    val_every: int = 100
    val_patches: int = 16
    checkpoint_every: int = 100
    device: str = "auto"
    amp: str = "none"
    compile: bool = False
    seed: int = 0
    progress: bool = True

    def __post_init__(self) -> None:
        """Validate once, with messages that say how to fix the option."""
        if self.phase not in PHASES:
            raise TrainConfigError(f"phase must be one of {', '.join(PHASES)}, got {self.phase!r}")
        if bool(self.data) == bool(self.hr):
            raise TrainConfigError("give either --data PAIRS.zarr or --hr IMAGES..., not both")
        for name in ("pretrain_steps", "gan_steps"):
            if getattr(self, name) < 0:
                raise TrainConfigError(f"{name} must be >= 0")
        for name in ("batch_size", "patch_size", "val_every", "checkpoint_every", "channels"):
            if getattr(self, name) < 1:
                raise TrainConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.bias and self.arch != "msrresnet":
            raise TrainConfigError(f"bias = false needs arch msrresnet, got {self.arch!r}")
        if self.amp not in ("none", "bf16", "fp16"):
            raise TrainConfigError(f"amp must be none, bf16 or fp16, got {self.amp!r}")
        if self.device not in ("auto", "cpu", "cuda") and not self.device.startswith("cuda:"):
            raise TrainConfigError(f"device must be auto, cpu or cuda, got {self.device!r}")
        if not 0.0 <= self.ema_decay < 1.0:
            raise TrainConfigError(f"ema_decay must be in [0, 1), got {self.ema_decay}")

    @property
    def data_paths(self) -> tuple[str, ...]:
        """The pairs datasets to train on (empty when training from ``hr`` images)."""
        if not self.data:
            return ()
        return (self.data,) if isinstance(self.data, str) else tuple(self.data)

    @property
    def total_steps(self) -> int:
        """Steps over all phases of this run."""
        return self.steps_in("pretrain") + self.steps_in("gan")

    def steps_in(self, phase: str) -> int:
        """Steps this run spends in ``phase`` (``pretrain`` or ``gan``)."""
        if self.phase not in (phase, "both"):
            return 0
        return self.pretrain_steps if phase == "pretrain" else self.gan_steps

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON dictionary (stored in checkpoints and bundles)."""
        data = asdict(self)
        data["hr"] = list(self.hr)
        if isinstance(self.data, tuple):
            data["data"] = list(self.data)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Build from a dictionary (TOML or JSON); unknown keys are an error."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise TrainConfigError(f"unknown training options: {', '.join(unknown)}")
        values = dict(data)
        if "weights" in values and isinstance(values["weights"], dict):
            values["weights"] = LossWeights(**values["weights"])
        if "hr" in values:
            values["hr"] = tuple(values["hr"])
        if isinstance(values.get("data"), list):
            values["data"] = tuple(values["data"])
        return cls(**values)

    def with_overrides(self, **changes: Any) -> TrainConfig:
        """Copy with some options replaced (``None`` values are ignored)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML config file into a dictionary of options."""
    path = Path(path)
    if not path.is_file():
        raise TrainConfigError(f"{path}: config file not found")
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as error:
        raise TrainConfigError(f"{path}: not valid TOML ({error})") from error
