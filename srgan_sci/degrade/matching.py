"""Degrading real observations: PSF-matching kernels and the noise the HR image already has.

When the HR image is itself an observation, it is already blurred by its own PSF ``P_hr``
and already carries noise.  Blurring it by the full target PSF ``P`` would blur twice, and
adding the full detector noise would add noise twice.  Instead the chain blurs by the
*matching kernel* ``K`` with ``P_hr * K = P`` (:func:`matching_kernel`), and subtracts the
variance that the HR noise, carried through ``K`` and the binning
(:func:`inherited_variance`), already puts in each LR pixel from the read-noise variance it
adds (:func:`reduced_read_noise`).

All functions are pure and work on NumPy arrays; see :func:`srgan_sci.degrade.chain.degrade_lazy`
for where they enter the chain.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy.fft import fft2, ifftshift
from scipy.signal import convolve2d, fftconvolve

from srgan_sci.degrade.psf import PSFError, PSFSpec, measure_fwhm, psf_radius, render_psf
from srgan_sci.degrade.spec import SpecError

try:  # photutils >= 3.0
    from photutils.psf_matching import SplitCosineBellWindow
    from photutils.psf_matching import make_kernel as _photutils_kernel
except ImportError:  # photutils < 3.0
    from photutils.psf.matching import SplitCosineBellWindow
    from photutils.psf.matching import create_matching_kernel as _photutils_kernel

Window = Callable[[tuple[int, ...]], np.ndarray]
MAX_RESIDUAL = 0.05
"""Largest L1 distance between ``P_hr * K`` and the target PSF accepted (both unit sum)."""
OTF_LEVEL = 1e-4
"""Target OTF level, relative to its peak, beyond which the default window tapers."""
MAD_TO_SIGMA = 1.482602218505602
"""``sigma / MAD`` for Gaussian noise."""
_LAPLACIAN = np.array([[1.0, -2.0, 1.0], [-2.0, 4.0, -2.0], [1.0, -2.0, 1.0]])
"""Immerkaer's (1996) noise mask: zero on planes, ``sqrt(sum(mask**2)) = 6`` on white noise."""


class MatchingError(SpecError):
    """The HR image's PSF or noise cannot be matched to the target degradation."""


def otf_window(target: np.ndarray, level: float = OTF_LEVEL, taper: float = 0.2) -> Window:
    """Fourier window that keeps every frequency the target PSF passes.

    Flat out to the first radial frequency where the azimuthal mean of the target's optical
    transfer function falls below ``level`` times its peak, then a cosine taper ``taper``
    (fraction of the Nyquist radius) wide.  Frequencies the target removes carry only the
    noise of the source PSF, so cutting them changes ``P_hr * K`` by less than ``level``.

    Parameters
    ----------
    target : numpy.ndarray
        Odd, square, centred target PSF.
    level : float
        OTF level, relative to its peak, where the flat part ends.
    taper : float
        Width of the cosine taper as a fraction of the Nyquist radius.

    Returns
    -------
    photutils.psf_matching.SplitCosineBellWindow
    """
    size = target.shape[0]
    otf = np.abs(np.fft.fftshift(fft2(ifftshift(target))))
    yy, xx = np.indices(otf.shape) - size // 2
    ring = np.rint(np.hypot(yy, xx)).astype(int).ravel()
    profile = np.bincount(ring, otf.ravel()) / np.bincount(ring)
    below = np.flatnonzero(profile[: size // 2 + 1] < level * profile[0])
    beta = min(below[0] / ((size - 1) / 2.0), 1.0) if below.size else 1.0
    return SplitCosineBellWindow(alpha=min(taper, 1.0 - beta), beta=beta)


def matching_kernel(
    source: np.ndarray, target: np.ndarray, window: Window | None = None
) -> np.ndarray:
    """Kernel ``K`` with ``source * K = target``, by Fourier division (photutils).

    Parameters
    ----------
    source, target : numpy.ndarray
        PSFs on the same odd, square grid, centred on the middle pixel; ``source`` is the
        narrower one.  Both are normalised to unit sum here.
    window : callable, optional
        Fourier-space taper (a photutils window).  Default :func:`otf_window` of ``target``.

    Returns
    -------
    numpy.ndarray
        Unit-sum kernel with the shape of the inputs.
    """
    source, target = (np.asarray(a, dtype=np.float64) for a in (source, target))
    if source.shape != target.shape or source.ndim != 2 or source.shape[0] % 2 == 0:
        raise MatchingError(
            f"PSFs to match need the same odd, square shape, got {source.shape} and {target.shape}"
        )
    source, target = source / source.sum(), target / target.sum()
    window = otf_window(target) if window is None else window
    kernel = _photutils_kernel(source, target, window=window)
    return kernel / kernel.sum()


def psf_matching_kernel(hr_psf: PSFSpec, target: PSFSpec) -> np.ndarray:
    """Matching kernel from the HR image's own PSF to the target PSF, both at the HR scale.

    Both PSFs are rendered on the grid of the wider of their default radii.

    Parameters
    ----------
    hr_psf : PSFSpec
        The PSF the HR image already has.
    target : PSFSpec
        The PSF the LR image should have.

    Returns
    -------
    numpy.ndarray
        Odd, square, unit-sum kernel ``K`` with ``render(hr_psf) * K = render(target)``.

    Raises
    ------
    MatchingError
        If the HR PSF is not narrower than the target, or ``K`` cannot reproduce the target
        within :data:`MAX_RESIDUAL` (the HR PSF has wings or structure the target lacks).
    """
    fwhm_hr, fwhm_target = hr_psf.resolved_fwhm(), target.resolved_fwhm()
    if fwhm_hr >= fwhm_target:
        raise MatchingError(
            f"the HR PSF (FWHM {fwhm_hr:.3g} HR px) is not narrower than the target PSF "
            f"(FWHM {fwhm_target:.3g} px), so no kernel can match it; choose a broader --psf "
            "or check --hr-psf"
        )
    radius = max(psf_radius(hr_psf), psf_radius(target))
    source, goal = render_psf(hr_psf, radius=radius), render_psf(target, radius=radius)
    kernel = matching_kernel(source, goal)
    residual = float(np.abs(fftconvolve(source, kernel, mode="same") - goal).sum())
    if residual > MAX_RESIDUAL:
        raise MatchingError(
            f"no kernel turns the HR PSF into the target PSF (L1 residual {residual:.2f} > "
            f"{MAX_RESIDUAL}): the HR PSF has wings or structure the target lacks; choose a "
            "broader or smoother --psf"
        )
    return kernel


def kernel_fwhm(kernel: np.ndarray) -> float | None:
    """FWHM of a (matching) kernel in pixels, or None when it has no clean central peak."""
    try:
        return measure_fwhm(kernel)
    except PSFError:
        return None


def inherited_variance(kernel: np.ndarray, scale: int, binning: str = "sum") -> float:
    """Variance per LR pixel that unit-variance white HR noise has after blur and binning.

    An LR pixel is ``sum_k hr[k] * W[k]`` with ``W = K (x) box(scale)`` (the blur kernel
    convolved with the ``scale x scale`` block, divided by ``scale**2`` for ``"mean"``), so
    white noise of variance ``sigma**2`` gives exactly ``sigma**2 * sum(W**2)``.  The blur
    correlates neighbouring HR pixels, so this is *not* ``scale**2 * sum(K**2)``; the two agree
    only for a delta kernel.  Pixels within the kernel radius of the image edge, where the
    chain reflects the image, differ.

    Parameters
    ----------
    kernel : numpy.ndarray
        The blur kernel applied at the HR scale.
    scale : int
        Binning factor.
    binning : {"sum", "mean"}
        Binning mode.

    Returns
    -------
    float
        ``sum(W**2)``: multiply by ``sigma**2`` (and the photon factor squared) to get the
        variance per LR pixel.
    """
    if binning not in ("sum", "mean"):
        raise ValueError(f"binning must be 'sum' or 'mean', got {binning!r}")
    weights = convolve2d(np.asarray(kernel, np.float64), np.ones((scale, scale)), mode="full")
    if binning == "mean":
        weights /= scale * scale
    return float(np.sum(weights**2))


def reduced_read_noise(read_noise: float, inherited: float) -> float:
    """Read noise (e- RMS) left to add once the HR noise supplies ``inherited`` e-² per pixel.

    The chain's Gaussian component is the only signal-independent one it can shrink, so the
    HR noise must fit inside it: ``read_noise**2 - inherited`` must not be negative.

    Raises
    ------
    MatchingError
        When ``inherited > read_noise**2``: the HR image is already noisier than the target.
    """
    budget = read_noise**2
    if inherited > budget * (1.0 + 1e-9):
        raise MatchingError(
            f"the HR image's own noise puts {inherited:.3g} e-^2 into each LR pixel, more than "
            f"the read-noise variance {budget:.3g} e-^2 it replaces; lower --photons (it scales "
            f"as photons^2), raise --read-noise to at least {math.sqrt(inherited):.3g}, "
            "or check --hr-noise"
        )
    return math.sqrt(max(budget - inherited, 0.0))


def estimate_noise_sigma(image: np.ndarray) -> float:
    """Robust standard deviation of the white noise in ``image`` (last two axes y, x).

    The image is filtered with Immerkaer's (1996) 3x3 mask, a second difference along both
    axes that removes constants, gradients and most smooth structure and multiplies white
    noise by ``sqrt(sum(mask**2)) = 6``; the median absolute deviation of the result, times
    1.4826 / 6, estimates sigma while ignoring the sparse bright residuals of stars and edges.
    It assumes independent pixels: correlated (resampled, drizzled) noise is underestimated.

    Parameters
    ----------
    image : numpy.ndarray
        At least 3 x 3 pixels per plane; NaN pixels are ignored.

    Returns
    -------
    float
        Noise sigma in the image's units per pixel.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> round(estimate_noise_sigma(rng.normal(5.0, 2.0, (256, 256))), 1)
    2.0
    """
    image = np.asarray(image, dtype=np.float64)
    if image.ndim < 2 or min(image.shape[-2:]) < 3:
        raise ValueError(f"noise estimation needs planes of at least 3x3 pixels, got {image.shape}")
    planes = image.reshape(-1, *image.shape[-2:])
    residual = np.concatenate(
        [convolve2d(plane, _LAPLACIAN, mode="valid").ravel() for plane in planes]
    )
    residual = residual[np.isfinite(residual)]
    if residual.size == 0:
        raise ValueError("no finite 3x3 neighbourhood to estimate the noise from")
    mad = np.median(np.abs(residual - np.median(residual)))
    return float(MAD_TO_SIGMA * mad / 6.0)
