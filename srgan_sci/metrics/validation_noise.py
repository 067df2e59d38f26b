"""Validation checks 5 and 7 (numpy): sky noise and tiling seams.

5. :func:`sky_noise` — blank-sky RMS and autocorrelation of each image.
7. :func:`seam_difference`, :func:`grid_peak_ratio` — the numpy halves of the seam test,
   whose model runs are in :mod:`srgan_sci.validation_runs`.

Check 6 (hallucinated sources) is in :mod:`srgan_sci.metrics.validation_injection`.

Units as in :mod:`srgan_sci.metrics.validation`: images in LR units per HR pixel
position, positions ``(x, y)`` in HR pixels.
"""

from __future__ import annotations

import math

import numpy as np
from astropy.stats import sigma_clipped_stats
from scipy import ndimage
from scipy.signal import fftconvolve

WIDTH_LAGS = 10
"""Lags (px) of the autocorrelation searched for its half maximum."""

__all__ = [
    "acf_width",
    "autocorrelation",
    "grid_peak_ratio",
    "seam_difference",
    "sky_mask",
    "sky_noise",
]


def sky_mask(
    reference: np.ndarray, *, level: float, grow: int, psf: np.ndarray | None = None
) -> np.ndarray:
    """True on blank sky: pixels where ``reference`` (blurred by ``psf``) is below ``level``.

    The source pixels are grown by ``grow`` pixels, so the SR's wings stay out of the sky.
    """
    reference = np.nan_to_num(np.asarray(reference, dtype=np.float64))
    if psf is not None:
        reference = fftconvolve(reference, psf, mode="same")
    median = float(sigma_clipped_stats(reference, sigma=3.0)[1])
    sources = reference - median > level
    if grow > 0:
        disk = np.hypot(*np.mgrid[-grow : grow + 1, -grow : grow + 1]) <= grow
        sources = ndimage.binary_dilation(sources, structure=disk)
    return ~sources


def autocorrelation(image: np.ndarray, mask: np.ndarray, max_lag: int = 3) -> np.ndarray:
    """Normalised autocorrelation at lags ``0..max_lag`` px over the pixels of ``mask``.

    The mean of the x and y directions; each lag uses the pairs of pixels both in the mask,
    after subtracting their median.  ACF(0) is 1; NaN for a constant image.
    """
    values = np.asarray(image, dtype=np.float64)
    mask = np.asarray(mask, dtype=bool) & np.isfinite(values)
    if not mask.any():
        return np.full(max_lag + 1, np.nan)
    centred = np.where(mask, values - np.median(values[mask]), 0.0)
    variance = float(np.mean(centred[mask] ** 2))
    if not variance > 0:
        return np.full(max_lag + 1, np.nan)
    acf = [1.0]
    for lag in range(1, max_lag + 1):
        products, pairs = 0.0, 0
        for a, b, m, n in (
            (centred[:, lag:], centred[:, :-lag], mask[:, lag:], mask[:, :-lag]),
            (centred[lag:], centred[:-lag], mask[lag:], mask[:-lag]),
        ):
            both = m & n
            products += float(np.sum(a[both] * b[both]))
            pairs += int(both.sum())
        acf.append(products / pairs / variance if pairs else math.nan)
    return np.array(acf)


def acf_width(acf: np.ndarray) -> float:
    """Full width (px) at half maximum of an ACF: twice the lag where it crosses 0.5."""
    below = np.flatnonzero(acf < 0.5)
    if not below.size:
        return math.nan
    k = below[0]
    return 2.0 * (k - 1 + (acf[k - 1] - 0.5) / (acf[k - 1] - acf[k]))


def sky_noise(
    images: dict[str, np.ndarray], mask: np.ndarray, *, lr_sigma: float, max_lag: int = 3
) -> dict[str, dict[str, object]]:
    """Check 5: blank-sky level, RMS and autocorrelation of each image.

    Returns
    -------
    dict
        For each label: ``sky_median``, ``sky_rms`` (3σ-clipped), ``rms_over_lr_sigma``
        (against the LR sky noise, which pixel replication of the LR would keep),
        ``acf`` (lags 1..``max_lag``) and ``acf_fwhm`` (px, from lags up to
        :data:`WIDTH_LAGS`; ~1 for white noise, NaN when wider than ``2 WIDTH_LAGS``).
    """
    result: dict[str, dict[str, object]] = {}
    for label, image in images.items():
        sky = np.asarray(image, dtype=np.float64)[mask]
        sky = sky[np.isfinite(sky)]
        _, median, rms = (float(v) for v in sigma_clipped_stats(sky, sigma=3.0, maxiters=10))
        acf = autocorrelation(image, mask, max(max_lag, WIDTH_LAGS))
        result[label] = {
            "sky_median": median,
            "sky_rms": rms,
            "rms_over_lr_sigma": rms / lr_sigma if lr_sigma > 0 else math.nan,
            "acf": acf[1 : max_lag + 1].tolist(),
            "acf_fwhm": acf_width(acf),
        }
    return result


def seam_difference(a: np.ndarray, b: np.ndarray) -> float:
    """``max |a - b|`` over the data range (99.9th - 0.1th percentile) of ``a``."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    finite = np.isfinite(a) & np.isfinite(b)
    low, high = np.percentile(a[finite], [0.1, 99.9])
    span = high - low
    return float(np.max(np.abs(a - b)[finite]) / span) if span > 0 else math.nan


def grid_peak_ratio(image: np.ndarray, period: float) -> dict[str, object]:
    """Power of a tiling grid of ``period`` px relative to the neighbouring frequencies.

    The 1-D power spectra of the first differences along x (averaged over rows) and
    along y (over columns) are taken; at each harmonic ``m N / period`` the power is
    divided by the median of the four nearest frequencies that are not harmonics.
    ~1: no grid signature.

    Returns
    -------
    dict
        ``ratio`` (mean over harmonics and axes), ``max_ratio``, ``period`` and
        ``spectrum`` (the x power spectrum, for figures).
    """
    image = np.nan_to_num(np.asarray(image, dtype=np.float64))
    ratios, spectra = [], []
    for data in (image, image.T):
        diff = np.diff(data, axis=1)
        power = np.mean(np.abs(np.fft.rfft(diff, axis=1)) ** 2, axis=0)
        spectra.append(power)
        step = diff.shape[1] / period
        harmonics = {round(m * step) for m in range(1, int(len(power) / step) + 1)}
        for k in sorted(harmonics):
            others = [j for j in range(k - 8, k + 9) if 0 < j < len(power) and j not in harmonics]
            neighbours = sorted(others, key=lambda j: abs(j - k))[:4]
            if k >= len(power) or len(neighbours) < 4:
                continue
            level = float(np.median(power[neighbours]))
            if level > 0:
                ratios.append(power[k] / level)
    return {
        "ratio": float(np.mean(ratios)) if ratios else math.nan,
        "max_ratio": float(np.max(ratios)) if ratios else math.nan,
        "period": float(period),
        "spectrum": spectra[0],
    }
