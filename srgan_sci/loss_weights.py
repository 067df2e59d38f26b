"""Weights and kinds of the loss terms: a plain dataclass, importable without torch."""

from __future__ import annotations

import math
from dataclasses import dataclass

PIXEL_KINDS = ("l1", "mse", "charbonnier")
ADVERSARIAL_KINDS = ("vanilla", "relativistic", "wgan-gp")


@dataclass(frozen=True)
class LossWeights:
    """Weights and kinds of the generator's loss terms in the GAN phase.

    The defaults are ESRGAN's for the GAN phase: pixel L1 ``1e-2``, perceptual ``1.0``,
    relativistic adversarial ``5e-3``; SSIM and FFT terms are off.

    Attributes
    ----------
    pixel, perceptual, adversarial, ssim, fft : float
        Non-negative weight of each term; 0 switches a term off.
    pixel_kind : str
        Passed to :func:`pixel_loss`.
    adversarial_kind : str
        Passed to :func:`discriminator_loss` and :func:`generator_adversarial_loss`.
    gp_weight : float
        Weight of :func:`gradient_penalty`; used only with ``"wgan-gp"``.
    critic_steps : int
        Discriminator updates per generator update; 1 for GAN losses, 5 is typical for
        WGAN-GP (Gulrajani et al.).
    """

    pixel: float = 1e-2
    perceptual: float = 1.0
    adversarial: float = 5e-3
    ssim: float = 0.0
    fft: float = 0.0
    pixel_kind: str = "l1"
    adversarial_kind: str = "relativistic"
    gp_weight: float = 10.0
    critic_steps: int = 1

    def __post_init__(self) -> None:
        weights = (self.pixel, self.perceptual, self.adversarial, self.ssim, self.fft)
        if any(not math.isfinite(w) or w < 0 for w in (*weights, self.gp_weight)):
            raise ValueError(f"loss weights must be finite and >= 0, got {self}")
        if self.pixel_kind not in PIXEL_KINDS:
            raise ValueError(f"pixel_kind must be one of {PIXEL_KINDS}, got {self.pixel_kind!r}")
        if self.adversarial_kind not in ADVERSARIAL_KINDS:
            raise ValueError(
                f"adversarial_kind must be one of {ADVERSARIAL_KINDS}, "
                f"got {self.adversarial_kind!r}"
            )
        if self.critic_steps < 1:
            raise ValueError(f"critic_steps must be >= 1, got {self.critic_steps}")
