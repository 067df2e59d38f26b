"""Data consistency of a super-resolved image with the LR image it came from.

Units: a super-resolved image ``sr`` is in *LR units per HR pixel position*.  Models are
trained on the HR truth times ``hr_to_lr_units`` (``scale**2`` for sum binning, 1 for mean
binning; see :class:`srgan_sci.patches.PatchSource`), so for a perfect prediction the
*mean* of each ``s x s`` block of the blurred ``sr`` equals the noise-free LR value,
whatever the spec's binning.  Re-degrading is therefore: convolve with the spec's HR PSF
(mirror-symmetric edges, as :func:`srgan_sci.degrade.chain.degrade` does) and take block
means (:func:`reblur_and_bin`).  The truth carries neither bias nor sky, so the calibration
pedestal still in the LR readout (:func:`lr_pedestal`) is added back before comparing.
Detector noise follows :func:`srgan_sci.degrade.camera.noise_variance_adu`
(:func:`noise_sigma_lr`); saturation clipping is not modelled.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import fftconvolve

from srgan_sci.degrade.camera import noise_variance_adu
from srgan_sci.degrade.chain import blur_kernel
from srgan_sci.degrade.spec import DegradationSpec

__all__ = [
    "ConsistencyResult",
    "data_consistency",
    "lr_pedestal",
    "noise_sigma_lr",
    "reblur_and_bin",
]


def reblur_and_bin(sr: np.ndarray, spec: DegradationSpec) -> np.ndarray:
    """Degrade a super-resolved image to the LR grid without noise: PSF blur, block mean.

    Parameters
    ----------
    sr : numpy.ndarray
        ``(s H, s W)`` image in LR units per HR pixel (see the module docstring); NaN
        marks missing pixels.
    spec : DegradationSpec
        Supplies the HR PSF and the scale ``s``.

    Returns
    -------
    numpy.ndarray
        ``(H, W)`` float64 noise-free LR image in the units of ``sr``; NaN on every LR
        pixel whose block holds a missing HR pixel.  NaN pixels count as 0 in the blur,
        and the edges are mirror-reflected by the PSF radius, exactly as in the chain.

    Examples
    --------
    >>> from srgan_sci.degrade.spec import preset
    >>> reblur_and_bin(np.ones((16, 16)), preset("confocal")).shape
    (4, 4)
    """
    sr = np.asarray(sr, dtype=np.float64)
    s = spec.scale
    if sr.ndim != 2:
        raise ValueError(f"expected a 2-D (y, x) image, got shape {sr.shape}")
    if sr.shape[0] % s or sr.shape[1] % s:
        raise ValueError(f"image of shape {sr.shape} is not divisible by scale {s}; crop it")
    psf = blur_kernel(spec)
    radius = psf.shape[0] // 2
    missing = np.isnan(sr)
    padded = np.pad(np.where(missing, 0.0, sr), radius, mode="symmetric")
    blurred = fftconvolve(padded, psf, mode="valid")
    h, w = sr.shape[0] // s, sr.shape[1] // s
    binned = blurred.reshape(h, s, w, s).mean(axis=(1, 3))
    binned[missing.reshape(h, s, w, s).any(axis=(1, 3))] = np.nan
    return binned


def lr_pedestal(spec: DegradationSpec) -> float:
    """Calibration constant left in the LR readout, in ADU.

    The bias ``offset`` unless ``subtract_offset``, plus the sky ``sky / gain`` unless
    ``subtract_sky``: the LR value of a zero-signal pixel, which the truth does not hold.
    """
    offset = 0.0 if spec.subtract_offset else spec.offset
    sky = 0.0 if spec.subtract_sky else spec.sky / spec.gain
    return float(offset + sky)


def noise_sigma_lr(expected_lr: np.ndarray, spec: DegradationSpec) -> np.ndarray:
    """Per-pixel noise standard deviation, ADU, of an LR readout with expectation ``expected_lr``.

    The chain reads out ``adu = (Poisson(e + sky) + N(0, read_noise)) / gain + offset`` and
    then subtracts ``offset`` (if ``subtract_offset``) and ``sky / gain`` (if
    ``subtract_sky``); the photon factor has been applied to the input before.  So the
    expected signal electrons are ``e = gain * (expected_lr - lr_pedestal(spec))``
    (clipped at 0, as the chain clips) and the variance is
    ``(e + sky + read_noise**2) / gain**2``, or ``read_noise**2 / gain**2`` when
    ``spec.poisson`` is false.

    Parameters
    ----------
    expected_lr : numpy.ndarray
        Noise-free LR image in the spec's ADU, as the chain outputs them (pedestal
        included); NaN allowed.
    spec : DegradationSpec
        The detector model.

    Returns
    -------
    numpy.ndarray
        float64 sigma in ADU, NaN where ``expected_lr`` is NaN.
    """
    expected = np.asarray(expected_lr, dtype=np.float64)
    if not spec.poisson:
        return np.where(np.isnan(expected), np.nan, spec.read_noise / spec.gain)
    electrons = np.clip(spec.gain * (expected - lr_pedestal(spec)), 0.0, None)
    variance = noise_variance_adu(
        electrons, sky=spec.sky, read_noise=spec.read_noise, gain=spec.gain
    )
    return np.sqrt(variance)


@dataclass(frozen=True)
class ConsistencyResult:
    """How well a super-resolved image reproduces its LR input once degraded again.

    Parameters
    ----------
    residual : numpy.ndarray
        ``lr - (reblur_and_bin(sr) + lr_pedestal)``, LR shape, ADU; NaN where missing.
    residual_mean, residual_rms : float
        Mean and root-mean-square of the finite residuals, ADU.
    residual_rms_sigma : float
        RMS of ``residual / sigma`` (about 1 for a perfect prediction); NaN without noise.
    chi2_per_pixel : float or None
        Mean of ``(residual / sigma)**2``; None without noise.
    flux_ratio : float
        Signal flux of the re-degraded prediction over that of the LR image, pedestal
        removed from both, over the pixels finite in both.
    """

    residual: np.ndarray
    residual_mean: float
    residual_rms: float
    residual_rms_sigma: float
    chi2_per_pixel: float | None
    flux_ratio: float


def data_consistency(
    sr: np.ndarray, lr: np.ndarray, spec: DegradationSpec, *, noise: bool = True
) -> ConsistencyResult:
    """Compare the re-degraded super-resolved image with the LR image it came from.

    Parameters
    ----------
    sr : numpy.ndarray
        ``(s H, s W)`` prediction in LR units per HR pixel.
    lr : numpy.ndarray
        ``(H, W)`` LR readout in ADU, as the chain made it (offset and sky subtracted as
        the spec says).
    spec : DegradationSpec
        The degradation that made ``lr``.
    noise : bool
        Scale residuals by the detector noise of the re-degraded prediction
        (:func:`noise_sigma_lr`).  Pixels with zero sigma (a noise-free spec) are left
        out of the noise-scaled statistics; with none left they are NaN / None.

    Returns
    -------
    ConsistencyResult

    Examples
    --------
    >>> from srgan_sci.degrade.spec import preset
    >>> spec = preset("confocal").with_overrides(sky=0.0)
    >>> result = data_consistency(np.ones((16, 16)), np.ones((4, 4)), spec)
    >>> round(result.residual_rms, 6), round(result.flux_ratio, 6)
    (0.0, 1.0)
    """
    lr = np.asarray(lr, dtype=np.float64)
    predicted = reblur_and_bin(sr, spec)
    if lr.shape != predicted.shape:
        raise ValueError(
            f"LR image of shape {lr.shape} does not match the super-resolved image "
            f"re-binned by {spec.scale} ({predicted.shape}); check the scale"
        )
    pedestal = lr_pedestal(spec)
    residual = lr - (predicted + pedestal)
    finite = np.isfinite(residual)
    if not finite.any():
        raise ValueError("no pixel is finite in both images; nothing to compare")
    values = residual[finite]
    rms_sigma, chi2 = float("nan"), None
    if noise:
        sigma = noise_sigma_lr(predicted + pedestal, spec)[finite]
        usable = sigma > 0
        if usable.any():
            scaled = values[usable] / sigma[usable]
            chi2 = float(np.mean(scaled**2))
            rms_sigma = float(np.sqrt(chi2))
    signal = float(np.sum(lr[finite] - pedestal))
    flux_ratio = float(np.sum(predicted[finite]) / signal) if signal != 0 else float("nan")
    return ConsistencyResult(
        residual=residual,
        residual_mean=float(np.mean(values)),
        residual_rms=float(np.sqrt(np.mean(values**2))),
        residual_rms_sigma=rms_sigma,
        chi2_per_pixel=chi2,
        flux_ratio=flux_ratio,
    )
