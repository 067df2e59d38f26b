"""Fourier ring correlation (FRC): the resolution at which two images still agree.

The normalised cross-correlation of the Fourier transforms of two images, summed over
rings of equal spatial frequency, is close to 1 where they share signal and falls to 0
where independent noise dominates.  The resolution is the period at which the curve
first drops below a threshold (1/7 by default, Nieuwenhuizen et al. 2013).  Typical uses:
two independent acquisitions of one scene (the data's resolution), or a prediction
against the ground truth (the resolution up to which the prediction is faithful).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from srgan_sci.metrics.image import MetricError

__all__ = ["FRCResult", "fourier_ring_correlation"]

WINDOWS = ("hann", "none")


@dataclass(frozen=True)
class FRCResult:
    """Fourier ring correlation curve and the resolution read from it.

    Attributes
    ----------
    frequency : numpy.ndarray
        Ring centres in cycles per pixel, from 0 to at most 0.5 (Nyquist).
    correlation : numpy.ndarray
        FRC of each ring, in [-1, 1]; NaN for a ring where an image has no power.
    threshold : float
        Threshold the resolution was read at.
    resolution : float
        Period in pixels, ``1 / frequency`` at the first crossing below ``threshold``
        after the first (zero-frequency) ring, interpolated linearly between rings; 2.0
        (Nyquist) if the curve never crosses.
    crossed : bool
        Whether the curve crossed the threshold.
    """

    frequency: np.ndarray
    correlation: np.ndarray
    threshold: float
    resolution: float
    crossed: bool


def _prepare(image: np.ndarray, size: int, window: np.ndarray | None) -> np.ndarray:
    """Central ``size``-square crop, NaN set to the finite mean, apodised around the mean."""
    rows, cols = image.shape
    top, left = (rows - size) // 2, (cols - size) // 2
    x = np.asarray(image[top : top + size, left : left + size], dtype=np.float64)
    finite = np.isfinite(x)
    if not finite.any():
        raise MetricError("image has no finite value in its central square; FRC is undefined")
    mean = x[finite].mean()
    if window is None:
        return np.where(finite, x, mean)
    return np.where(finite, x - mean, 0.0) * window


def fourier_ring_correlation(
    a: np.ndarray,
    b: np.ndarray,
    *,
    bin_width: float = 1.0,
    window: str = "hann",
    threshold: float = 1 / 7,
) -> FRCResult:
    """Fourier ring correlation of two 2-D images.

    Each image is cropped to its central square (side ``n = min(rows, cols)``), its
    non-finite pixels are replaced by the mean of its finite ones and, unless ``window`` is
    ``"none"``, the mean is subtracted (it carries no resolution information, and the
    window would spread it over the lowest rings) before apodising.  Ring ``k`` collects the Fourier
    pixels at radius ``r`` (in frequency-grid units) with ``round(r / bin_width) == k``,
    for ring centres ``k * bin_width / n <= 0.5`` cycles/pixel, and
    ``FRC_k = Re sum(A conj(B)) / sqrt(sum |A|² sum |B|²)``.

    Parameters
    ----------
    a, b : numpy.ndarray
        2-D images of the same shape, at least 8x8.
    bin_width : float, optional
        Ring width in frequency-grid units (``1 / n`` cycles/pixel), >= 1.
    window : {"hann", "none"}, optional
        2-D separable Hann apodisation against the edge discontinuity of the periodic
        FFT, or none.
    threshold : float, optional
        Resolution threshold, in (0, 1); 1/7 by default.

    Returns
    -------
    FRCResult

    Raises
    ------
    MetricError
        For mismatched or too small shapes, invalid arguments or all-NaN images.

    Examples
    --------
    >>> image = np.random.default_rng(0).normal(size=(64, 64))
    >>> result = fourier_ring_correlation(image, image)
    >>> bool(np.allclose(result.correlation, 1.0)), result.crossed, result.resolution
    (True, False, 2.0)
    """
    a, b = np.asarray(a), np.asarray(b)
    if a.ndim != 2 or a.shape != b.shape:
        raise MetricError(f"a {a.shape} and b {b.shape} must be 2-D arrays of the same shape")
    size = min(a.shape)
    if size < 8:
        raise MetricError(f"FRC needs images of at least 8x8 pixels, got {a.shape}")
    if not bin_width >= 1:
        raise MetricError(f"bin_width must be >= 1 (frequency-grid units), got {bin_width}")
    if window not in WINDOWS:
        raise MetricError(f"unknown window {window!r}; use one of {WINDOWS}")
    if not 0 < threshold < 1:
        raise MetricError(f"threshold must be in (0, 1), got {threshold}")
    apodisation = np.outer(np.hanning(size), np.hanning(size)) if window == "hann" else None
    fa = np.fft.fft2(_prepare(a, size, apodisation))
    fb = np.fft.fft2(_prepare(b, size, apodisation))

    grid = np.fft.fftfreq(size) * size
    radius = np.hypot(grid[:, None], grid[None, :])
    ring = np.floor(radius / bin_width + 0.5).astype(np.int64).ravel()
    n_rings = int(np.floor(size / 2 / bin_width)) + 1
    keep = ring < n_rings

    def ring_sum(values: np.ndarray) -> np.ndarray:
        return np.bincount(ring[keep], weights=values.ravel()[keep], minlength=n_rings)

    cross = ring_sum(np.real(fa * np.conj(fb)))
    power = ring_sum(np.abs(fa) ** 2) * ring_sum(np.abs(fb) ** 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        correlation = np.where(power > 0, cross / np.sqrt(power), np.nan)
    frequency = np.arange(n_rings) * bin_width / size
    resolution, crossed = _resolution(frequency, correlation, threshold)
    return FRCResult(frequency, correlation, float(threshold), resolution, crossed)


def _resolution(
    frequency: np.ndarray, correlation: np.ndarray, threshold: float
) -> tuple[float, bool]:
    """Period at the first crossing below ``threshold`` after ring 0 (2.0 if none)."""
    below = np.flatnonzero(correlation[1:] < threshold) + 1
    if below.size == 0:
        return 2.0, False
    k = int(below[0])
    if k == 1 or not np.isfinite(correlation[k - 1]):
        return float(1 / frequency[k]), True
    c0, c1 = correlation[k - 1], correlation[k]
    crossing = frequency[k - 1] + (c0 - threshold) / (c0 - c1) * (frequency[k] - frequency[k - 1])
    return float(1 / crossing), True
