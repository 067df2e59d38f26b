"""Training losses: pixel, perceptual, adversarial (vanilla, relativistic, WGAN-GP), SSIM, FFT.

Every function takes ``(N, C, H, W)`` tensors and returns a scalar tensor that can be
back-propagated.  The adversarial losses are pure functions of discriminator logits, so
the training loop decides what is detached and which network steps.  Formulas follow
SRGAN (Ledig et al. 2017), ESRGAN (Wang et al. 2018), WGAN-GP (Gulrajani et al. 2017) and
SSIM (Wang et al. 2004).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from srgan_sci.loss_weights import ADVERSARIAL_KINDS, PIXEL_KINDS


def _check_pair(pred: torch.Tensor, target: torch.Tensor) -> None:
    if pred.shape != target.shape:
        raise ValueError(f"pred {tuple(pred.shape)} and target {tuple(target.shape)} differ")


def pixel_loss(
    pred: torch.Tensor, target: torch.Tensor, kind: str = "l1", eps: float = 1e-3
) -> torch.Tensor:
    """Mean per-pixel loss.

    Parameters
    ----------
    pred, target : torch.Tensor
        Tensors of equal shape.
    kind : {"l1", "mse", "charbonnier"}
        ``mean(|d|)``, ``mean(d**2)`` or ``mean(sqrt(d**2 + eps**2))`` with
        ``d = pred - target``.  Charbonnier is a smooth L1: quadratic for ``|d| << eps``,
        ``|d|`` for ``|d| >> eps``.
    eps : float
        Charbonnier smoothing scale, in data units.

    Returns
    -------
    torch.Tensor
        Scalar loss.
    """
    _check_pair(pred, target)
    diff = pred - target
    if kind == "l1":
        return diff.abs().mean()
    if kind == "mse":
        return diff.square().mean()
    if kind == "charbonnier":
        return torch.sqrt(diff.square() + eps * eps).mean()
    raise ValueError(f"unknown pixel loss {kind!r}; use one of {PIXEL_KINDS}")


class PerceptualLoss(nn.Module):
    """Distance between frozen-network features of prediction and target.

    Parameters
    ----------
    features : torch.nn.Module
        Feature network, e.g. from :func:`srgan_sci.models.features.build_feature_extractor`.
        Its parameters should be frozen; gradients reach ``pred`` through it.
    criterion : {"l1", "mse"}
        Mean absolute (ESRGAN) or mean squared (SRGAN) feature difference.
    """

    def __init__(self, features: nn.Module, criterion: str = "l1") -> None:
        super().__init__()
        if criterion not in ("l1", "mse"):
            raise ValueError(f"perceptual criterion must be 'l1' or 'mse', got {criterion!r}")
        self.features = features
        self.criterion = criterion

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Scalar feature distance; the target branch runs without autograd."""
        _check_pair(pred, target)
        with torch.no_grad():
            target_features = self.features(target)
        return pixel_loss(self.features(pred), target_features, kind=self.criterion)


def _bce(logits: torch.Tensor, is_real: bool) -> torch.Tensor:
    labels = torch.ones_like(logits) if is_real else torch.zeros_like(logits)
    return F.binary_cross_entropy_with_logits(logits, labels)


def discriminator_loss(
    kind: str, real_logits: torch.Tensor, fake_logits: torch.Tensor
) -> torch.Tensor:
    """Loss minimised by the discriminator (critic).

    Pass ``fake_logits`` computed on *detached* generator output.

    Parameters
    ----------
    kind : {"vanilla", "relativistic", "wgan-gp"}
        ``"vanilla"``: ``BCE(C(x_r), 1) + BCE(C(x_f), 0)``.
        ``"relativistic"``: ESRGAN's relativistic average GAN, with
        ``D_Ra(a, b) = sigmoid(C(a) - mean C(b))``, loss
        ``(BCE(C(x_r) - mean C(x_f), 1) + BCE(C(x_f) - mean C(x_r), 0)) / 2``
        (halved as in the ESRGAN reference code).
        ``"wgan-gp"``: ``mean C(x_f) - mean C(x_r)``; add :func:`gradient_penalty`.
    real_logits, fake_logits : torch.Tensor
        Raw discriminator outputs (no sigmoid) on real and generated images.

    Returns
    -------
    torch.Tensor
        Scalar loss.
    """
    if kind == "vanilla":
        return _bce(real_logits, True) + _bce(fake_logits, False)
    if kind == "relativistic":
        real_rel = real_logits - fake_logits.mean()
        fake_rel = fake_logits - real_logits.mean()
        return 0.5 * (_bce(real_rel, True) + _bce(fake_rel, False))
    if kind == "wgan-gp":
        return fake_logits.mean() - real_logits.mean()
    raise ValueError(f"unknown adversarial loss {kind!r}; use one of {ADVERSARIAL_KINDS}")


def generator_adversarial_loss(
    kind: str, real_logits: torch.Tensor | None, fake_logits: torch.Tensor
) -> torch.Tensor:
    """Adversarial loss minimised by the generator.

    Parameters
    ----------
    kind : {"vanilla", "relativistic", "wgan-gp"}
        ``"vanilla"``: non-saturating ``BCE(C(x_f), 1)``.
        ``"relativistic"``: the discriminator loss with the labels swapped,
        ``(BCE(C(x_r) - mean C(x_f), 0) + BCE(C(x_f) - mean C(x_r), 1)) / 2``, so the
        generator also learns from real images (ESRGAN).
        ``"wgan-gp"``: ``-mean C(x_f)``.
    real_logits : torch.Tensor or None
        Discriminator outputs on real images; required only for ``"relativistic"`` (they
        may be detached: they carry no generator gradient).
    fake_logits : torch.Tensor
        Discriminator outputs on generated images, *not* detached.

    Returns
    -------
    torch.Tensor
        Scalar loss.
    """
    if kind == "vanilla":
        return _bce(fake_logits, True)
    if kind == "relativistic":
        if real_logits is None:
            raise ValueError("the relativistic generator loss needs real_logits")
        real_rel = real_logits - fake_logits.mean()
        fake_rel = fake_logits - real_logits.mean()
        return 0.5 * (_bce(real_rel, False) + _bce(fake_rel, True))
    if kind == "wgan-gp":
        return -fake_logits.mean()
    raise ValueError(f"unknown adversarial loss {kind!r}; use one of {ADVERSARIAL_KINDS}")


def gradient_penalty(
    critic: Callable[[torch.Tensor], torch.Tensor],
    real: torch.Tensor,
    fake: torch.Tensor,
    weight: float = 10.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """WGAN-GP penalty ``weight * mean((||grad C(x_hat)||_2 - 1)**2)``.

    ``x_hat = alpha * real + (1 - alpha) * fake`` with one ``alpha ~ U[0, 1)`` per sample,
    drawn as ``torch.rand((N, 1, ..., 1), generator=generator, dtype=real.dtype)`` on the
    generator's device (so a seeded CPU generator reproduces it).  The norm runs over all
    non-batch dimensions.  The graph is kept (``create_graph=True``) so the penalty
    trains the critic.  The critic must treat samples independently (no batch norm).

    Parameters
    ----------
    critic : callable
        The critic; its outputs on ``x_hat`` are summed before differentiation.
    real, fake : torch.Tensor
        Batches of equal shape; both are detached here.
    weight : float
        Penalty weight (lambda = 10 in Gulrajani et al.).
    generator : torch.Generator, optional
        Source of ``alpha``; the global torch RNG when omitted.

    Returns
    -------
    torch.Tensor
        Scalar penalty.
    """
    _check_pair(real, fake)
    shape = (real.shape[0],) + (1,) * (real.ndim - 1)
    device = generator.device if generator is not None else real.device
    alpha = torch.rand(shape, generator=generator, dtype=real.dtype, device=device)
    alpha = alpha.to(real.device)
    mixed = (alpha * real.detach() + (1 - alpha) * fake.detach()).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)
    norms = torch.linalg.vector_norm(grad.flatten(1), ord=2, dim=1)
    return weight * (norms - 1).square().mean()


def _gaussian_window(size: int, sigma: float, dtype: torch.dtype) -> torch.Tensor:
    coords = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    window = torch.exp(-0.5 * (coords / sigma) ** 2)
    return (window / window.sum()).to(dtype)


def ssim_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    data_range: float = 1.0,
    *,
    win_size: int = 11,
    sigma: float = 1.5,
) -> torch.Tensor:
    """``1 - SSIM`` averaged over batch, channels and the valid region.

    SSIM of Wang et al. (2004) with a Gaussian window (11x11, sigma 1.5), ``K1 = 0.01``,
    ``K2 = 0.03`` and population covariances, computed per channel on 2-D planes.  Only
    pixels whose window lies inside the image count, which reproduces
    ``skimage.metrics.structural_similarity(gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False)`` (it filters then crops the border).

    Parameters
    ----------
    pred, target : torch.Tensor
        ``(N, C, H, W)`` with ``H, W >= win_size``.
    data_range : float
        Range of the data (max - min possible); give it explicitly for science data.
    win_size, sigma : int, float
        Gaussian window size (odd) and width.

    Returns
    -------
    torch.Tensor
        Scalar ``1 - mean SSIM``; 0 for identical images.
    """
    _check_pair(pred, target)
    if pred.ndim != 4 or min(pred.shape[-2:]) < win_size or win_size % 2 == 0:
        raise ValueError(
            f"SSIM needs (N, C, H, W) images of at least {win_size} px and an odd window, "
            f"got {tuple(pred.shape)} and win_size={win_size}"
        )
    if data_range <= 0:
        raise ValueError(f"data_range must be positive, got {data_range}")
    x = pred.reshape(-1, 1, *pred.shape[-2:])
    y = target.reshape(-1, 1, *target.shape[-2:])
    stack = torch.cat([x, y, x * x, y * y, x * y], dim=1)
    window = _gaussian_window(win_size, sigma, pred.dtype).to(pred.device)
    stack = F.conv2d(stack, window.view(1, 1, -1, 1).expand(5, 1, -1, 1), groups=5)
    mu_x, mu_y, xx, yy, xy = F.conv2d(
        stack, window.view(1, 1, 1, -1).expand(5, 1, 1, -1), groups=5
    ).unbind(dim=1)
    var_x, var_y, cov = xx - mu_x**2, yy - mu_y**2, xy - mu_x * mu_y
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    numerator = (2 * mu_x * mu_y + c1) * (2 * cov + c2)
    denominator = (mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2)
    return 1 - (numerator / denominator).mean()


def fft_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference of the amplitude spectra (``rfft2``, ``norm="ortho"``).

    Phase is ignored, so the loss compares how much power each spatial frequency carries
    (e.g. whether fine detail is missing), not where it sits.
    """
    _check_pair(pred, target)
    amplitude_pred = torch.fft.rfft2(pred, norm="ortho").abs()
    amplitude_target = torch.fft.rfft2(target, norm="ortho").abs()
    return (amplitude_pred - amplitude_target).abs().mean()
