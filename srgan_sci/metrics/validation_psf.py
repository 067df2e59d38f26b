"""Validation check 4: the effective PSF of a super-resolved image (numpy, scipy).

Isolated point sources of the truth are fitted with elliptical 2-D Gaussians in the truth
and in every image; the medians of their FWHM and ellipticity describe the resolution the
SR actually delivers.  Without a truth, :func:`star_psf` finds the stars in the image
itself (the most compact isolated sources: the stellar locus).  :func:`psf_header_cards`
turns one result into FITS cards.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.ndimage import maximum_filter
from scipy.optimize import least_squares

from srgan_sci.metrics.validation import SourceTable, sky_sigma

__all__ = ["effective_psf", "fit_gaussian", "psf_header_cards", "star_psf"]

STELLAR_LOCUS = 1.25
"""Stars are the fits with FWHM up to this factor times the 10th percentile of all fits."""

GAUSSIAN_FWHM = 2.0 * math.sqrt(2.0 * math.log(2.0))


def fit_gaussian(cutout: np.ndarray) -> tuple[float, float]:
    """FWHM (geometric mean of the axes, px) and ellipticity ``1 - b/a`` of a 2-D Gaussian.

    An elliptical Gaussian plus a constant is fitted by least squares; ``(nan, nan)``
    when the fit fails or finds no positive peak.
    """
    cutout = np.asarray(cutout, dtype=np.float64)
    if not np.isfinite(cutout).all():
        return math.nan, math.nan
    yy, xx = np.indices(cutout.shape, dtype=np.float64)
    centre = (cutout.shape[1] - 1) / 2, (cutout.shape[0] - 1) / 2
    sky = float(np.median(np.concatenate([cutout[0], cutout[-1], cutout[:, 0], cutout[:, -1]])))
    peak = float(cutout.max() - sky)
    if not peak > 0:
        return math.nan, math.nan

    def residual(p: np.ndarray) -> np.ndarray:
        amp, x0, y0, sa, sb, theta, c = p
        cos, sin = math.cos(theta), math.sin(theta)
        u, v = (xx - x0) * cos + (yy - y0) * sin, -(xx - x0) * sin + (yy - y0) * cos
        return (amp * np.exp(-0.5 * ((u / sa) ** 2 + (v / sb) ** 2)) + c - cutout).ravel()

    top = max(cutout.shape) / 2.0
    start = [peak, *centre, 1.5, 1.5, 0.0, sky]
    lower = [0.0, centre[0] - 3, centre[1] - 3, 0.2, 0.2, -math.pi, -np.inf]
    upper = [np.inf, centre[0] + 3, centre[1] + 3, top, top, math.pi, np.inf]
    try:
        fit = least_squares(residual, start, bounds=(lower, upper), x_scale="jac")
    except (ValueError, np.linalg.LinAlgError):
        return math.nan, math.nan
    amp, _, _, sa, sb = fit.x[:5]
    if not (fit.success and amp > 0):
        return math.nan, math.nan
    return GAUSSIAN_FWHM * math.sqrt(sa * sb), 1.0 - min(sa, sb) / max(sa, sb)


def effective_psf(
    truth: np.ndarray,
    images: dict[str, np.ndarray],
    table: SourceTable,
    *,
    psf_fwhm: float,
    min_snr: float = 10.0,
) -> dict[str, dict[str, float]]:
    """Check 4: median FWHM (HR px) and ellipticity of isolated point sources.

    Stars are the sources of ``table`` with LR S/N >= ``min_snr``, no other source within
    ``4 psf_fwhm``, and a truth FWHM below ``psf_fwhm`` (point-like at the LR resolution).
    Each is fitted with a 2-D Gaussian (:func:`fit_gaussian`) in a ``4 psf_fwhm + 1`` box.

    Returns
    -------
    dict
        For ``"truth"`` and each label: ``n_stars``, ``fwhm``, ``ellipticity`` (medians)
        and ``fwhm_per_star`` (list).
    """
    half = math.ceil(2 * psf_fwhm)
    xy = np.round(table.xy).astype(int)
    distance = np.hypot(*(table.xy[:, None, :] - table.xy[None]).transpose(2, 0, 1))
    np.fill_diagonal(distance, np.inf)
    isolated = distance.min(axis=1, initial=np.inf) > 4 * psf_fwhm
    height, width = np.shape(truth)
    inside = (xy[:, 0] >= half) & (xy[:, 0] < width - half)
    inside &= (xy[:, 1] >= half) & (xy[:, 1] < height - half)
    candidates = np.flatnonzero(isolated & inside & (table.snr >= min_snr))

    def fits(image: np.ndarray, index: np.ndarray) -> np.ndarray:
        cut = [image[y - half : y + half + 1, x - half : x + half + 1] for x, y in xy[index]]
        return np.array([fit_gaussian(c) for c in cut]).reshape(-1, 2)

    truth_fits = fits(truth, candidates)
    point = np.isfinite(truth_fits[:, 0]) & (truth_fits[:, 0] < psf_fwhm)
    stars = candidates[point]
    result = {"truth": _psf_summary(truth_fits[point])}
    for label, image in images.items():
        result[label] = _psf_summary(fits(image, stars))
    return result


def star_psf(
    image: np.ndarray,
    *,
    min_snr: float = 20.0,
    box: int = 21,
    max_sources: int = 300,
) -> dict[str, float]:
    """Effective PSF of an image without a truth: FWHM and ellipticity of its stars.

    Local maxima of ``box`` pixels above ``min_snr`` times the sigma-clipped sky noise
    (with no other maximum above a tenth of their peak within ``box`` pixels: isolated),
    the ``max_sources`` brightest, are fitted with 2-D Gaussians (:func:`fit_gaussian`).
    Stars are the most compact fits: FWHM up to :data:`STELLAR_LOCUS` times the 10th
    percentile (galaxies are larger).  An image with no stars reports the size of its most
    compact sources, an upper bound of the PSF.

    Parameters
    ----------
    image : numpy.ndarray
        2-D image, background-subtracted or not; NaN allowed.
    min_snr : float
        Peak detection threshold in sky σ above the sky level.
    box : int
        Side of the fitting box and of the isolation window, pixels (odd).
    max_sources : int
        Brightest candidates fitted.

    Returns
    -------
    dict
        ``n_stars``, ``fwhm`` (px), ``ellipticity`` (medians; NaN without stars) and
        ``fwhm_per_star``.
    """
    image = np.asarray(image, dtype=np.float64)
    half = box // 2
    finite = np.isfinite(image)
    if finite.sum() < box * box:
        return _psf_summary(np.empty((0, 2)))
    filled = np.where(finite, image, np.nanmedian(image))
    sky = float(np.median(filled))
    threshold = sky + min_snr * max(sky_sigma(filled), 1e-12)
    local_maxima = filled == maximum_filter(filled, size=3)
    peaks = local_maxima & (filled > threshold)
    peaks[:half] = peaks[-half:] = False
    peaks[:, :half] = peaks[:, -half:] = False
    ys, xs = np.nonzero(peaks)
    order = np.argsort(filled[ys, xs])[::-1][:max_sources]
    ys, xs = ys[order], xs[order]
    heights = filled[ys, xs] - sky
    all_ys, all_xs = np.nonzero(local_maxima & (filled > sky))
    fits = []
    for y, x, height in zip(ys, xs, heights, strict=True):
        near = (np.abs(all_ys - y) <= 2 * half) & (np.abs(all_xs - x) <= 2 * half)
        near &= (all_ys != y) | (all_xs != x)
        if np.any(filled[all_ys[near], all_xs[near]] - sky > 0.1 * height):
            continue
        cutout = image[y - half : y + half + 1, x - half : x + half + 1]
        fits.append(fit_gaussian(cutout))
    fits_array = np.array(fits, dtype=np.float64).reshape(-1, 2)
    good = fits_array[np.isfinite(fits_array[:, 0])]
    if len(good) == 0:
        return _psf_summary(good)
    locus = STELLAR_LOCUS * float(np.percentile(good[:, 0], 10))
    return _psf_summary(good[good[:, 0] <= locus])


def _psf_summary(fits: np.ndarray) -> dict[str, float]:
    good = fits[np.isfinite(fits[:, 0])]
    return {
        "n_stars": len(good),
        "fwhm": float(np.median(good[:, 0])) if len(good) else math.nan,
        "ellipticity": float(np.median(good[:, 1])) if len(good) else math.nan,
        "fwhm_per_star": fits[:, 0].tolist(),
    }


def psf_header_cards(result: dict[str, float]) -> dict[str, tuple[float, str]]:
    """FITS cards of one image's :func:`effective_psf` or :func:`star_psf` result.

    ``SRPSFFW`` (FWHM, HR px) and ``SRPSFEL`` (ellipticity) when stars were measured, and
    ``SRPSFN`` (how many) always.
    """
    cards: dict[str, tuple[float, str]] = {
        "SRPSFN": (int(result["n_stars"]), "isolated stars behind SRPSFFW/SRPSFEL"),
    }
    if result["n_stars"] and math.isfinite(result["fwhm"]):
        cards["SRPSFFW"] = (round(result["fwhm"], 4), "median FWHM of isolated stars [HR px]")
        cards["SRPSFEL"] = (round(result["ellipticity"], 4), "median ellipticity 1-b/a of stars")
    return cards
