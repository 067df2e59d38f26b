"""Astrometry and photometry of point sources in super-resolved images.

Does super-resolution keep the flux and the position of stars? Sources are found once on the
truth (:func:`find_sources`, DAOFIND); each image is then measured at those sources
(:func:`measure`, photutils apertures and centroids), and the truth is measured the same
way, so that method biases cancel in the comparison. The truth and the images must be in the
same units: for model outputs (LR units per HR pixel) pass the HR truth times
``hr_to_lr_units`` (``s**2`` for sum binning, 1 for mean). Positions are ``(x, y)`` in HR
pixels (0-based pixel centres, photutils' convention); offsets are reported in LR pixels (HR
pixels / ``scale``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from astropy.stats import SigmaClip, sigma_clipped_stats
from photutils.aperture import (
    ApertureStats,
    CircularAnnulus,
    CircularAperture,
    aperture_photometry,
)
from photutils.centroids import centroid_2dg, centroid_com, centroid_sources
from photutils.detection import DAOStarFinder
from scipy import ndimage

__all__ = ["find_sources", "measure", "photometry_comparison", "photometry_table"]

_CENTROIDS = {"com": centroid_com, "2dg": centroid_2dg}
_SUMMARY_KEYS = (
    "median_flux_ratio",
    "flux_ratio_scatter",
    "centroid_offset_median_lr",
    "centroid_offset_rms_lr",
    "centroid_offset_mean_x_lr",
    "centroid_offset_mean_y_lr",
)


def _background(image: np.ndarray) -> tuple[float, float]:
    """Sigma-clipped (3 sigma) median and standard deviation of the finite pixels."""
    _, median, std = sigma_clipped_stats(image, mask=~np.isfinite(image), sigma=3.0)
    return float(median), float(std)


def find_sources(
    truth: np.ndarray,
    *,
    fwhm: float,
    threshold_sigma: float = 5.0,
    max_sources: int | None = 500,
    border: int | None = None,
    threshold: float | None = None,
) -> np.ndarray:
    """Point sources of a (high-resolution) truth image, with DAOFIND.

    Parameters
    ----------
    truth : numpy.ndarray
        2-D image; NaN marks missing pixels.
    fwhm : float
        FWHM of the sources in pixels (the DAOFIND kernel).
    threshold_sigma : float
        Detection threshold in units of the sigma-clipped background standard deviation.
        A noise-free truth has none; its noise is then taken as 1e-3 of the brightest
        pixel above the background.
    max_sources : int or None
        Keep the brightest ones (after the border cut); None keeps all.
    border : int, optional
        Drop sources closer than this to an edge or to a NaN pixel; default
        ``ceil(3 * fwhm)``.
    threshold : float, optional
        Absolute threshold above the background, overriding ``threshold_sigma``.

    Returns
    -------
    numpy.ndarray
        ``(N, 2)`` float64 ``(x, y)`` positions, brightest first.
    """
    truth = np.asarray(truth, dtype=np.float64)
    if truth.ndim != 2:
        raise ValueError(f"expected a 2-D image, got shape {truth.shape}")
    if not fwhm > 0:
        raise ValueError(f"fwhm must be positive (pixels), got {fwhm!r}")
    missing = ~np.isfinite(truth)
    median, std = _background(truth)
    if threshold is None:
        noise = std if std > 0 else 1e-3 * (float(np.nanmax(truth)) - median)
        threshold = threshold_sigma * noise
    border = math.ceil(3 * fwhm) if border is None else int(border)
    table = DAOStarFinder(threshold, fwhm, exclude_border=True)(truth - median, mask=missing)
    if table is None:
        return np.empty((0, 2))
    x, y = np.asarray(table["x_centroid"]), np.asarray(table["y_centroid"])
    flux = np.asarray(table["flux"])
    near_nan = ndimage.maximum_filter(missing, size=2 * border + 1, mode="constant")
    height, width = truth.shape
    keep = (x >= border) & (x <= width - 1 - border) & (y >= border) & (y <= height - 1 - border)
    keep[keep] = ~near_nan[np.round(y[keep]).astype(int), np.round(x[keep]).astype(int)]
    order = np.argsort(-flux[keep], kind="stable")[:max_sources]
    return np.column_stack([x[keep][order], y[keep][order]])


def measure(
    image: np.ndarray,
    positions: np.ndarray,
    *,
    aperture_radius: float,
    centroid_box: int,
    annulus: tuple[float, float] | None = None,
    centroid: str = "com",
) -> tuple[np.ndarray, np.ndarray]:
    """Aperture fluxes and centroids of the sources near ``positions``.

    Centroids are measured in a ``centroid_box`` box around each position on the image
    minus its global sigma-clipped median (photutils ``centroid_sources``); a failed
    centroid, or one that left the box, falls back to the given position.  Fluxes are
    summed in circles of ``aperture_radius`` around the centroids, minus the background
    times the area: the sigma-clipped median of an ``annulus`` ``(r_in, r_out)`` around
    each source if given, else the global median.

    Parameters
    ----------
    image : numpy.ndarray
        2-D image; NaN marks missing pixels.
    positions : numpy.ndarray
        ``(N, 2)`` approximate ``(x, y)`` positions.
    aperture_radius : float
        Photometry aperture radius, pixels.
    centroid_box : int
        Odd side of the centroiding box, pixels.
    annulus : tuple of float, optional
        Inner and outer radius of a local background annulus.
    centroid : {"com", "2dg"}
        Centre of mass, or a 2-D Gaussian fit.

    Returns
    -------
    fluxes : numpy.ndarray
        ``(N,)`` background-subtracted fluxes; NaN where the aperture holds a NaN pixel.
    centroids : numpy.ndarray
        ``(N, 2)`` ``(x, y)`` centroids.
    """
    image = np.asarray(image, dtype=np.float64)
    positions = np.asarray(positions, dtype=np.float64).reshape(-1, 2)
    if centroid not in _CENTROIDS:
        raise ValueError(f"unknown centroid {centroid!r}; choose one of {', '.join(_CENTROIDS)}")
    if int(centroid_box) != centroid_box or centroid_box < 3 or centroid_box % 2 == 0:
        raise ValueError(f"centroid_box must be an odd integer >= 3, got {centroid_box!r}")
    if len(positions) == 0:
        return np.empty(0), np.empty((0, 2))
    missing = ~np.isfinite(image)
    median, _ = _background(image)
    cx, cy = centroid_sources(
        image - median,
        positions[:, 0],
        positions[:, 1],
        box_size=int(centroid_box),
        mask=missing,
        centroid_func=_CENTROIDS[centroid],
    )
    centroids = np.column_stack([cx, cy])
    lost = ~np.all(np.abs(centroids - positions) <= centroid_box // 2, axis=1)
    centroids[lost] = positions[lost]
    apertures = CircularAperture(centroids, r=aperture_radius)
    filled = np.where(missing, 0.0, image)
    sums = np.asarray(aperture_photometry(filled, apertures)["aperture_sum"], dtype=np.float64)
    nan_area = aperture_photometry(missing.astype(np.float64), apertures)["aperture_sum"]
    touched = np.asarray(nan_area) > 0
    background = np.full(len(positions), median)
    if annulus is not None:
        ring = CircularAnnulus(centroids, r_in=annulus[0], r_out=annulus[1])
        stats = ApertureStats(image, ring, mask=missing, sigma_clip=SigmaClip(sigma=3.0))
        background = np.atleast_1d(stats.median)
    fluxes = sums - background * apertures.area
    fluxes[touched] = np.nan
    return fluxes, centroids


def photometry_table(
    truth: np.ndarray,
    images: dict[str, np.ndarray],
    *,
    scale: int,
    fwhm: float,
    aperture_radius: float | None = None,
    centroid_box: int | None = None,
    annulus: tuple[float, float] | None = None,
    threshold_sigma: float = 5.0,
    max_sources: int | None = 500,
    centroid: str = "com",
) -> dict[str, dict[str, np.ndarray]]:
    """Per-source photometry and astrometry of each image against the truth (for plots).

    Parameters
    ----------
    truth : numpy.ndarray
        HR truth, in the units of the images (see the module docstring).
    images : dict of str to numpy.ndarray
        Named images of the truth's shape (model outputs, baselines...).
    scale : int
        HR pixels per LR pixel; offsets are divided by it.
    fwhm : float
        Source FWHM in the truth, HR pixels.
    aperture_radius : float, optional
        Default ``2 * fwhm``.
    centroid_box : int, optional
        Default the odd integer ``2 * ceil(1.5 * fwhm) + 1``.
    annulus : tuple of float, optional
        Local background annulus; default the global background.
    threshold_sigma, max_sources
        Passed to :func:`find_sources`.
    centroid : {"com", "2dg"}
        Passed to :func:`measure`.

    Returns
    -------
    dict
        For each name: ``x``, ``y`` (truth centroids, HR px), ``truth_flux``, ``flux``,
        ``dx``, ``dy`` (image minus truth centroid, LR px), one entry per source.
    """
    truth = np.asarray(truth, dtype=np.float64)
    for name, image in images.items():
        if np.shape(image) != truth.shape:
            raise ValueError(f"image {name!r} has shape {np.shape(image)}, truth {truth.shape}")
    radius = 2.0 * fwhm if aperture_radius is None else float(aperture_radius)
    box = 2 * math.ceil(1.5 * fwhm) + 1 if centroid_box is None else int(centroid_box)
    reach = max(radius, annulus[1] if annulus else 0.0) + box // 2
    positions = find_sources(
        truth,
        fwhm=fwhm,
        threshold_sigma=threshold_sigma,
        max_sources=max_sources,
        border=math.ceil(reach) + 1,
    )
    options = {"aperture_radius": radius, "centroid_box": box, "annulus": annulus}
    truth_flux, truth_xy = measure(truth, positions, centroid=centroid, **options)
    table = {}
    for name, image in images.items():
        flux, xy = measure(image, positions, centroid=centroid, **options)
        offset = (xy - truth_xy) / scale
        table[name] = {
            "x": truth_xy[:, 0],
            "y": truth_xy[:, 1],
            "truth_flux": truth_flux,
            "flux": flux,
            "dx": offset[:, 0],
            "dy": offset[:, 1],
        }
    return table


def photometry_comparison(
    truth: np.ndarray, images: dict[str, np.ndarray], *, scale: int, fwhm: float, **options: Any
) -> dict[str, dict[str, float]]:
    """Summary of :func:`photometry_table` (same arguments) for each named image.

    Returns
    -------
    dict
        For each name: ``n_sources`` (sources with finite, positive truth and image
        fluxes), ``median_flux_ratio`` (image / truth), ``flux_ratio_scatter``
        (1.4826 x median absolute deviation of the ratios), ``centroid_offset_median_lr``
        and ``centroid_offset_rms_lr`` (distance between the image's and the truth's
        centroids, LR px), ``centroid_offset_mean_x_lr`` and ``centroid_offset_mean_y_lr``
        (signed means, which reveal systematic shifts such as half a pixel).  NaN when
        no source is usable.
    """
    table = photometry_table(truth, images, scale=scale, fwhm=fwhm, **options)
    return {name: _summarise(rows) for name, rows in table.items()}


def _summarise(rows: dict[str, np.ndarray]) -> dict[str, float]:
    """Summary statistics of one image's rows of :func:`photometry_table`."""
    good = np.isfinite(rows["flux"]) & (rows["truth_flux"] > 0)
    if not good.any():
        return {"n_sources": 0} | dict.fromkeys(_SUMMARY_KEYS, math.nan)
    ratio = rows["flux"][good] / rows["truth_flux"][good]
    dx, dy = rows["dx"][good], rows["dy"][good]
    distance = np.hypot(dx, dy)
    median = float(np.median(ratio))
    values = (
        median,
        1.4826 * float(np.median(np.abs(ratio - median))),
        float(np.median(distance)),
        float(np.sqrt(np.mean(distance**2))),
        float(np.mean(dx)),
        float(np.mean(dy)),
    )
    return {"n_sources": int(good.sum())} | dict(zip(_SUMMARY_KEYS, values, strict=True))
