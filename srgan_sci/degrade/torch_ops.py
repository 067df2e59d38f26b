"""Torch versions of the optics and binning steps, for tensors already on a device (GPU).

They mirror :mod:`srgan_sci.degrade.chain` (mirror-symmetric edges, FFT convolution,
block sum or mean) so that on-the-fly degradation during training matches the NumPy
path to float32 rounding.  This module is the only one in :mod:`srgan_sci.degrade` that
imports torch.
"""

from __future__ import annotations

import numpy as np
import torch


def symmetric_pad(images: torch.Tensor, radius: int) -> torch.Tensor:
    """Pad the last two axes by ``radius`` with NumPy's ``"symmetric"`` rule (edge repeated).

    Works for any ``radius``, even larger than the image, like :func:`numpy.pad`.
    """
    if radius == 0:
        return images
    out = images
    for axis in (-2, -1):
        size = images.shape[axis]
        index = np.pad(np.arange(size), radius, mode="symmetric")
        out = out.index_select(axis % out.ndim, torch.as_tensor(index, device=images.device))
    return out


def fft_convolve(images: torch.Tensor, psf: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Convolve the last two axes of ``images`` with ``psf``, edges mirror-symmetric.

    Parameters
    ----------
    images : torch.Tensor
        (..., H, W) float tensor on any device.
    psf : numpy.ndarray or torch.Tensor
        Odd square kernel, unit sum (see :func:`srgan_sci.degrade.psf.render_psf`).

    Returns
    -------
    torch.Tensor
        Blurred images, same shape and dtype as ``images``; computed in float64 on CPU and
        float32 on other devices.
    """
    kernel = torch.as_tensor(np.asarray(psf), device=images.device)
    if kernel.ndim != 2 or kernel.shape[0] != kernel.shape[1] or kernel.shape[0] % 2 == 0:
        raise ValueError(f"PSF must be an odd square 2-D kernel, got shape {tuple(kernel.shape)}")
    work_dtype = torch.float64 if images.device.type == "cpu" else torch.float32
    radius = kernel.shape[0] // 2
    padded = symmetric_pad(images.to(work_dtype), radius)
    height, width = padded.shape[-2:]
    spectrum = torch.fft.rfft2(padded, s=(height, width))
    kernel_spectrum = torch.fft.rfft2(kernel.to(work_dtype), s=(height, width))
    full = torch.fft.irfft2(spectrum * kernel_spectrum, s=(height, width))
    size = 2 * radius
    valid = full[..., size:height, size:width]
    return valid.to(images.dtype)


def bin_pixels(images: torch.Tensor, factor: int, mode: str = "sum") -> torch.Tensor:
    """Block sum or mean over ``factor`` x ``factor`` pixels of the last two axes."""
    if mode not in ("sum", "mean"):
        raise ValueError(f"binning mode must be 'sum' or 'mean', got {mode!r}")
    *lead, height, width = images.shape
    if height % factor or width % factor:
        raise ValueError(f"{height}x{width} is not divisible by the binning factor {factor}")
    blocks = images.reshape(*lead, height // factor, factor, width // factor, factor)
    binned = blocks.sum(dim=(-3, -1))
    return binned / (factor * factor) if mode == "mean" else binned
