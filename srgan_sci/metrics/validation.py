"""An astronomer's validation of a super-resolved image, checks 1–4 (numpy and photutils).

1. :func:`downsample_consistency` — the SR degraded back to the LR grid against the LR.
2. :func:`photometry_vs_snr` — aperture magnitudes against the truth, by LR S/N.
3. :func:`astrometry` — centroid offsets, with the half-pixel-convention flag.
4. :func:`~srgan_sci.metrics.validation_psf.effective_psf` — FWHM and ellipticity of
   isolated point sources (in :mod:`srgan_sci.metrics.validation_psf`).

Checks 5–7 (noise, hallucination, seams) are in :mod:`srgan_sci.metrics.validation_noise`;
:mod:`srgan_sci.astro_validation` runs them all.  Units: images are in LR units per HR
pixel position (what the models output), pedestal-free; the truth in those units is
HR x ``s**2`` for sum binning.  The LR flux of a source is its HR sum / ``s**2``.
Positions ``(x, y)`` are HR pixels (0-based centres); offsets are LR pixels.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
from astropy.stats import sigma_clipped_stats
from scipy.signal import fftconvolve

from srgan_sci.degrade.chain import blur_kernel
from srgan_sci.degrade.spec import DegradationSpec
from srgan_sci.metrics.astro import find_sources, measure
from srgan_sci.metrics.consistency import lr_pedestal, noise_sigma_lr, reblur_and_bin

__all__ = [
    "SNR_BINS",
    "ConsistencyCheck",
    "SourceTable",
    "astrometry",
    "downsample_consistency",
    "photometry_vs_snr",
    "point_source_snr",
    "sky_sigma",
    "source_table",
]

SNR_BINS = (0.0, 5.0, 10.0, 20.0, 50.0, 100.0, math.inf)
"""Edges of the LR S/N bins of the photometry check."""

HALF_PIXEL_TOLERANCE = 0.2
"""The half-pixel flag fires within this fraction of ``(s - 1) / (2 s)`` LR px."""


def sky_sigma(image: np.ndarray) -> float:
    """Sigma-clipped (3σ) standard deviation of the finite pixels: the sky noise."""
    image = np.asarray(image, dtype=np.float64)
    return float(sigma_clipped_stats(image[np.isfinite(image)], sigma=3.0, maxiters=10)[2])


def point_source_snr(
    flux_lr: np.ndarray | float, *, lr_sigma: float, scale: int, fwhm: float
) -> np.ndarray:
    """S/N in the LR of point sources of total LR flux ``flux_lr``.

    The flux over the sky noise of a circle of radius one PSF FWHM (``fwhm`` HR px) on the
    LR grid: ``flux / (lr_sigma * sqrt(pi * (fwhm / scale)**2))``.
    """
    noise = lr_sigma * math.sqrt(math.pi) * fwhm / scale
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(flux_lr, dtype=np.float64) / noise


@dataclass(frozen=True)
class ConsistencyCheck:
    """Check 1: the SR degraded back to the LR grid, compared with the LR.

    Parameters
    ----------
    summary : dict
        ``residual_mean_sigma``, ``residual_rms_sigma`` (≈ 0 and 1 for a prediction
        consistent with the data), ``tile_flux_ratio_median`` and ``_spread`` (1.4826 MAD)
        over the tiles whose LR flux is above 5σ, ``tile_residual_rms_sigma`` (tile flux
        differences in units of their noise), ``tiles_used``, ``total_flux_ratio``.
    residual_sigma : numpy.ndarray
        ``(LR - degrade(SR)) / sigma`` on the LR grid (border cropped).
    tile_ratio : numpy.ndarray
        ``tiles x tiles`` SR / LR flux ratios, NaN where the LR flux is not significant.
    """

    summary: dict[str, float]
    residual_sigma: np.ndarray
    tile_ratio: np.ndarray


def downsample_consistency(
    sr: np.ndarray,
    lr: np.ndarray,
    *,
    scale: int,
    spec: DegradationSpec | None = None,
    tiles: int = 8,
) -> ConsistencyCheck:
    """Check 1: bin the SR back by ``scale`` and compare it with the LR, pixel and tile wise.

    With a ``spec`` the SR is blurred by its PSF before the block mean
    (:func:`~srgan_sci.metrics.consistency.reblur_and_bin`), the LR's pedestal is removed and
    sigma follows the detector model; without, the SR is block-averaged and sigma is the
    LR's sky noise.

    Parameters
    ----------
    sr : numpy.ndarray
        ``(s H, s W)`` prediction, LR units per HR pixel, pedestal-free.
    lr : numpy.ndarray
        ``(H, W)`` LR readout, as the degradation made it (pedestal included).
    scale : int
        ``s``.
    spec : DegradationSpec, optional
        The degradation behind ``lr``.
    tiles : int
        The LR image is cut into ``tiles x tiles`` tiles for the flux comparison.

    Returns
    -------
    ConsistencyCheck
    """
    sr, lr = np.asarray(sr, np.float64), np.asarray(lr, np.float64)
    if lr.ndim != 2 or not 1 <= tiles <= min(lr.shape):
        raise ValueError(f"need a 2-D LR image and 1 <= tiles <= its side, got {lr.shape}, {tiles}")
    if sr.shape != (lr.shape[0] * scale, lr.shape[1] * scale):
        raise ValueError(f"SR shape {sr.shape} is not LR shape {lr.shape} times {scale}")
    if spec is not None:
        binned = reblur_and_bin(sr, spec)
        sigma = noise_sigma_lr(binned + lr_pedestal(spec), spec)
        lr = lr - lr_pedestal(spec)
        border = math.ceil(blur_kernel(spec).shape[0] / 2 / scale) + 1
    else:
        binned = sr.reshape(lr.shape[0], scale, lr.shape[1], scale).mean(axis=(1, 3))
        sigma = np.full(lr.shape, sky_sigma(lr))
        border = 0
    inner = (slice(border, lr.shape[0] - border), slice(border, lr.shape[1] - border))
    lr, binned, sigma = lr[inner], binned[inner], sigma[inner]
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(sigma > 0, (lr - binned) / sigma, np.nan)
    finite = z[np.isfinite(z)]
    rows = np.array_split(np.arange(lr.shape[0]), tiles)
    cols = np.array_split(np.arange(lr.shape[1]), tiles)
    blocks = [[np.ix_(r, c) for c in cols] for r in rows]
    sums = np.array(
        [[[np.nansum(a[b]) for a in (binned, lr, sigma**2)] for b in row] for row in blocks]
    )
    tile_sr, tile_lr, tile_noise = sums[..., 0], sums[..., 1], np.sqrt(sums[..., 2])
    significant = tile_lr > 5.0 * tile_noise
    ratio = np.where(significant, tile_sr / np.where(significant, tile_lr, 1.0), np.nan)
    used = ratio[significant]
    median = float(np.median(used)) if used.size else math.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        tile_z = (tile_lr - tile_sr) / tile_noise
    total_lr = float(np.nansum(lr))
    summary = {
        "residual_mean_sigma": float(np.mean(finite)) if finite.size else math.nan,
        "residual_rms_sigma": float(np.sqrt(np.mean(finite**2))) if finite.size else math.nan,
        "tile_flux_ratio_median": median,
        "tile_flux_ratio_spread": 1.4826 * float(np.median(np.abs(used - median)))
        if used.size
        else math.nan,
        "tile_residual_rms_sigma": float(np.sqrt(np.nanmean(tile_z**2)))
        if np.isfinite(tile_z).any()
        else math.nan,
        "tiles_used": int(significant.sum()),
        "tiles": tiles * tiles,
        "total_flux_ratio": float(np.nansum(binned)) / total_lr if total_lr else math.nan,
    }
    return ConsistencyCheck(summary, z, ratio)


@dataclass(frozen=True)
class SourceTable:
    """Sources of the truth measured in the truth and in every image (checks 2–4).

    ``xy`` truth centroids (HR px), ``truth_flux`` and ``fluxes[label]`` aperture fluxes
    (image units summed over HR pixels), ``snr`` the LR S/N of each source
    (:func:`point_source_snr`), ``offsets[label]`` ``(N, 2)`` image minus truth centroid
    in LR px, ``scale`` and ``fwhm`` (HR px) as used.
    """

    xy: np.ndarray
    truth_flux: np.ndarray
    snr: np.ndarray
    fluxes: dict[str, np.ndarray]
    offsets: dict[str, np.ndarray]
    scale: int
    fwhm: float


def source_table(
    truth: np.ndarray,
    images: dict[str, np.ndarray],
    *,
    lr_sigma: float,
    scale: int,
    fwhm: float,
    psf: np.ndarray | None = None,
    threshold: float | None = None,
    max_sources: int | None = 500,
) -> SourceTable:
    """Find the sources of the truth and measure them everywhere.

    Sources are found with DAOFIND (FWHM ``fwhm``) on the truth convolved with ``psf``
    (the HR PSF, if given: what the LR sees, so the threshold means LR significance)
    above ``threshold`` (default ``lr_sigma``, truth units).  Each image is measured at
    those positions with :func:`~srgan_sci.metrics.astro.measure`: apertures of
    ``2 fwhm``, centre-of-mass centroids in a box of ``2 ceil(1.5 fwhm) + 1`` HR px.
    """
    truth = np.asarray(truth, dtype=np.float64)
    radius, box = 2.0 * fwhm, 2 * math.ceil(1.5 * fwhm) + 1
    detection = truth if psf is None else fftconvolve(truth, psf, mode="same")
    positions = find_sources(
        detection,
        fwhm=fwhm,
        threshold=lr_sigma if threshold is None else threshold,
        max_sources=max_sources,
        border=math.ceil(radius + box // 2) + 1,
    )
    options = {"aperture_radius": radius, "centroid_box": box}
    truth_flux, truth_xy = measure(truth, positions, **options)
    fluxes, offsets = {}, {}
    for label, image in images.items():
        fluxes[label], xy = measure(image, positions, **options)
        offsets[label] = (xy - truth_xy) / scale
    snr = point_source_snr(truth_flux / scale**2, lr_sigma=lr_sigma, scale=scale, fwhm=fwhm)
    return SourceTable(truth_xy, truth_flux, snr, fluxes, offsets, scale, fwhm)


def photometry_vs_snr(
    table: SourceTable, bins: tuple[float, ...] = SNR_BINS
) -> dict[str, dict[str, object]]:
    """Check 2: Δmag = -2.5 log10(flux / truth flux) of each image, by LR S/N.

    Returns
    -------
    dict
        For each label: ``n_sources``, ``n_lost`` (flux <= 0: no magnitude),
        ``median_dmag`` (bias), ``median_abs_dmag``, and ``bins``: a list of
        ``{snr_min, snr_max, n, median_dmag, median_abs_dmag}``.
    """
    result: dict[str, dict[str, object]] = {}
    good = np.isfinite(table.truth_flux) & (table.truth_flux > 0)
    for label, flux in table.fluxes.items():
        dmag = delta_mag(flux, table.truth_flux)
        usable = good & np.isfinite(dmag)
        rows = []
        for low, high in itertools.pairwise(bins):
            inside = usable & (table.snr >= low) & (table.snr < high)
            rows.append(
                {"snr_min": low, "snr_max": high, "n": int(inside.sum())} | _medians(dmag[inside])
            )
        result[label] = {
            "n_sources": int(good.sum()),
            "n_lost": int((good & ~usable).sum()),
            **_medians(dmag[usable]),
            "bins": rows,
        }
    return result


def delta_mag(flux: np.ndarray, truth_flux: np.ndarray) -> np.ndarray:
    """``-2.5 log10(flux / truth_flux)``; NaN where either flux is not positive."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where((flux > 0) & (truth_flux > 0), flux / truth_flux, np.nan)
        return -2.5 * np.log10(ratio)


def _medians(dmag: np.ndarray) -> dict[str, float]:
    if not dmag.size:
        return {"median_dmag": math.nan, "median_abs_dmag": math.nan}
    return {"median_dmag": float(np.median(dmag)), "median_abs_dmag": float(np.median(abs(dmag)))}


def astrometry(table: SourceTable, *, min_snr: float = 5.0) -> dict[str, dict[str, object]]:
    """Check 3: centroid offsets (LR px) of the sources with LR S/N >= ``min_snr``.

    Means are weighted by S/N² (a centroid's variance goes as 1 / S/N²).
    ``half_pixel_flag`` is set when the mean offset in x or y lies within
    :data:`HALF_PIXEL_TOLERANCE` of ``±(s - 1) / (2 s)`` LR px: the signature of an
    upscaler that aligns pixel corners instead of pixel centres.

    Returns
    -------
    dict
        For each label: ``n_sources``, ``mean_dx``, ``mean_dy`` (weighted), ``rms`` (root
        mean square distance, unweighted), ``median_distance``, ``half_pixel_flag`` and
        ``message``.
    """
    half = (table.scale - 1) / (2 * table.scale)
    bright = table.snr >= min_snr
    weights = table.snr[bright] ** 2
    result: dict[str, dict[str, object]] = {}
    for label, offsets in table.offsets.items():
        dx, dy = offsets[bright, 0], offsets[bright, 1]
        if not dx.size:
            result[label] = {"n_sources": 0, "half_pixel_flag": False, "message": "no source"}
            continue
        means = {
            "x": float(np.average(dx, weights=weights)),
            "y": float(np.average(dy, weights=weights)),
        }
        hits = [
            f"mean {axis} offset {mean:+.3f} LR px is within {HALF_PIXEL_TOLERANCE:.0%} of "
            f"{math.copysign(half, mean):+.3f} = ±(s-1)/(2s)"
            for axis, mean in means.items()
            if half > 0 and abs(abs(mean) - half) <= HALF_PIXEL_TOLERANCE * half
        ]
        message = "; ".join(hits) + ": half-pixel convention bug?" if hits else "no shift"
        result[label] = {
            "n_sources": int(dx.size),
            "mean_dx": means["x"],
            "mean_dy": means["y"],
            "rms": float(np.sqrt(np.mean(dx**2 + dy**2))),
            "median_distance": float(np.median(np.hypot(dx, dy))),
            "half_pixel_flag": bool(hits),
            "message": message,
        }
    return result
