"""PSNR and SSIM on ``(N, C, H, W)`` tensors, equal to the numpy metrics per plane.

For validation inside a training loop, on any device, without copying to numpy.  Each
of the ``N * C`` planes is scored like :func:`srgan_sci.metrics.image.psnr` and
:func:`~srgan_sci.metrics.image.ssim` would score it (same Gaussian window, constants
and border crop), and the per-plane values are averaged.  Inputs must be finite: unlike
the numpy metrics these do not exclude NaN pixels.  Note the argument order
``(pred, target)``, as in :mod:`srgan_sci.losses`, where the numpy metrics take
``(truth, pred)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from srgan_sci.metrics.image import (
    SSIM_K1,
    SSIM_K2,
    WINDOW_RADIUS,
    WINDOW_SIGMA,
    WINDOW_SIZE,
    MetricError,
    check_data_range,
)

__all__ = ["psnr_torch", "ssim_torch"]


def _planes(
    pred: torch.Tensor, target: torch.Tensor, min_size: int = 1
) -> tuple[torch.Tensor, torch.Tensor]:
    """``pred`` and ``target`` as ``(N * C, 1, H, W)``, after checking their shapes."""
    if pred.ndim != 4 or pred.shape != target.shape or min(pred.shape[-2:]) < min_size:
        raise MetricError(
            f"pred {tuple(pred.shape)} and target {tuple(target.shape)} must be (N, C, H, W) "
            f"tensors of the same shape with H, W >= {min_size}"
        )
    return pred.reshape(-1, 1, *pred.shape[-2:]), target.reshape(-1, 1, *target.shape[-2:])


def psnr_torch(pred: torch.Tensor, target: torch.Tensor, data_range: float) -> torch.Tensor:
    """Mean over the ``N * C`` planes of the per-plane PSNR, in dB.

    Parameters
    ----------
    pred, target : torch.Tensor
        ``(N, C, H, W)`` tensors of the same shape.
    data_range : float
        Intensity range of the data, given explicitly.

    Returns
    -------
    torch.Tensor
        0-d tensor in the input dtype; ``inf`` if any plane is reproduced exactly.
    """
    data_range = check_data_range(data_range)
    x, y = _planes(pred, target)
    mse = (x - y).square().mean(dim=(1, 2, 3))
    return (10 * torch.log10(data_range**2 / mse)).mean()


def _gaussian_window(dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """The normalised 1-D window of :func:`scipy.ndimage.gaussian_filter` (11 taps)."""
    coords = torch.arange(-WINDOW_RADIUS, WINDOW_RADIUS + 1, dtype=torch.float64)
    window = torch.exp(-0.5 * (coords / WINDOW_SIGMA) ** 2)
    return (window / window.sum()).to(dtype=dtype, device=device)


def ssim_torch(pred: torch.Tensor, target: torch.Tensor, data_range: float) -> torch.Tensor:
    """Mean over the ``N * C`` planes of the per-plane mean SSIM.

    Wang et al. (2004) settings: 11x11 Gaussian window (sigma 1.5), ``K1 = 0.01``,
    ``K2 = 0.03``, population covariances; only pixels whose window lies inside the
    plane count (the border strip of 5 pixels is excluded).  Differentiable.

    Parameters
    ----------
    pred, target : torch.Tensor
        ``(N, C, H, W)`` tensors of the same shape, ``H, W >= 11``.
    data_range : float
        Intensity range of the data, given explicitly.

    Returns
    -------
    torch.Tensor
        0-d tensor in the input dtype, 1 for identical inputs.
    """
    data_range = check_data_range(data_range)
    x, y = _planes(pred, target, WINDOW_SIZE)
    window = _gaussian_window(x.dtype, x.device)
    stack = torch.cat([x, y, x * x, y * y, x * y], dim=1)
    stack = F.conv2d(stack, window.view(1, 1, -1, 1).expand(5, 1, -1, 1), groups=5)
    stack = F.conv2d(stack, window.view(1, 1, 1, -1).expand(5, 1, 1, -1), groups=5)
    mu_x, mu_y, xx, yy, xy = stack.unbind(dim=1)
    var_x, var_y, cov = xx - mu_x * mu_x, yy - mu_y * mu_y, xy - mu_x * mu_y
    c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
    numerator = (2 * mu_x * mu_y + c1) * (2 * cov + c2)
    denominator = (mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2)
    return (numerator / denominator).mean(dim=(1, 2)).mean()
