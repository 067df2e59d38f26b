"""Validation check 6 (numpy): hallucinated sources in a super-resolved image.

Two experiments on simulated blank sky, whose model runs are in
:mod:`srgan_sci.validation_runs`:

* pure noise (:func:`pure_noise_lr`): an LR readout of empty sky from the degradation's
  noise model; every source found in its upscaled version is a false one;
* injection–recovery (:func:`inject_point_sources`): point sources of known flux at
  log-uniform LR S/N put through the degradation chain; :func:`completeness` gives the
  fraction recovered per S/N bin and the false detections.

Sources are found with one absolute criterion for every method
(:func:`detect_point_sources`): aperture flux at least :data:`DETECTION_SNR` LR sky
sigmas, so a smooth SR gets no easier threshold than a noisy interpolation.
"""

from __future__ import annotations

import itertools
import math
import warnings
from dataclasses import dataclass

import numpy as np
from astropy.stats import sigma_clipped_stats
from photutils.aperture import CircularAperture, aperture_photometry
from photutils.detection import find_peaks
from photutils.segmentation import detect_sources
from photutils.utils.exceptions import NoDetectionsWarning
from scipy import ndimage

from srgan_sci.degrade.chain import readout
from srgan_sci.degrade.spec import DegradationSpec
from srgan_sci.metrics.consistency import reblur_and_bin
from srgan_sci.metrics.validation import point_source_snr

__all__ = [
    "DETECTION_SNR",
    "INJECTION_BINS",
    "InjectedField",
    "completeness",
    "detect_own_sigma",
    "detect_point_sources",
    "inject_point_sources",
    "pure_noise_lr",
]

DETECTION_SNR = 5.0
"""A "source" has an aperture flux at least this many LR sky sigmas."""

INJECTION_BINS = (1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 21.0, 40.0)
"""Edges of the injected-S/N bins of the completeness curve."""


def pure_noise_lr(
    shape: tuple[int, int], spec: DegradationSpec, rng: np.random.Generator
) -> np.ndarray:
    """An LR readout of empty sky: the spec's detector noise at its sky level, no source.

    Calibrated as the chain calibrates (the pedestal of
    :func:`~srgan_sci.metrics.consistency.lr_pedestal` stays in).
    """
    return _readout(np.zeros(shape), spec, rng)


def _readout(signal: np.ndarray, spec: DegradationSpec, rng: np.random.Generator) -> np.ndarray:
    """Detector readout of a noise-free LR signal (ADU), calibrated like the chain's."""
    return readout(np.clip(signal * spec.gain, 0.0, None), spec, rng)


@dataclass(frozen=True)
class InjectedField:
    """Point sources of known flux in blank sky.

    ``truth`` (LR units per HR px), ``lr`` (readout, pedestal included), ``xy`` (HR px),
    ``flux`` (LR ADU) and ``snr`` (:func:`point_source_snr`).
    """

    truth: np.ndarray
    lr: np.ndarray
    xy: np.ndarray
    flux: np.ndarray
    snr: np.ndarray


def inject_point_sources(
    lr_shape: tuple[int, int],
    spec: DegradationSpec,
    rng: np.random.Generator,
    *,
    lr_sigma: float,
    snr_range: tuple[float, float] = (INJECTION_BINS[0], INJECTION_BINS[-1]),
    spacing: int = 12,
) -> InjectedField:
    """Inject point sources at log-uniform LR S/N into blank noise, through the spec's chain.

    One source per cell of a ``spacing``-LR-pixel grid, at a random HR pixel of the cell's
    centre half; its S/N (:func:`point_source_snr`) is drawn log-uniformly in
    ``snr_range``.  The truth is blurred by the spec's PSF and block-averaged
    (:func:`reblur_and_bin`), then read out with the detector noise.
    """
    s = spec.scale
    height, width = lr_shape[0] * s, lr_shape[1] * s
    cell = spacing * s
    centres_y = np.arange(cell // 2, height - cell // 2 + 1, cell)
    centres_x = np.arange(cell // 2, width - cell // 2 + 1, cell)
    ys, xs = np.meshgrid(centres_y, centres_x, indexing="ij")
    jitter = rng.integers(-cell // 4, cell // 4 + 1, size=(2, ys.size))
    xy = np.column_stack([xs.ravel() + jitter[0], ys.ravel() + jitter[1]])
    snr = np.exp(rng.uniform(*np.log(snr_range), size=len(xy)))
    unit = float(point_source_snr(1.0, lr_sigma=lr_sigma, scale=s, fwhm=spec.psf.fwhm))
    flux = snr / unit
    truth = np.zeros((height, width))
    truth[xy[:, 1], xy[:, 0]] = flux * s**2
    lr = _readout(reblur_and_bin(truth, spec), spec, rng)
    return InjectedField(truth.astype(np.float32), lr, xy.astype(np.float64), flux, snr)


def detect_point_sources(
    image: np.ndarray,
    *,
    scale: int,
    fwhm: float,
    lr_sigma: float,
    snr_threshold: float = DETECTION_SNR,
) -> tuple[np.ndarray, np.ndarray]:
    """Sources of an image: peaks whose aperture flux is ``snr_threshold`` LR sigmas or more.

    Peaks of the image smoothed by a Gaussian of FWHM ``fwhm`` (HR px), at least ``fwhm``
    apart; the flux in a circle of radius ``fwhm`` (minus the image's sigma-clipped
    median), in LR units, over the LR sky noise of that circle (:func:`point_source_snr`).
    The same absolute criterion for every method, so a smooth SR gets no easier threshold.

    Returns
    -------
    xy : numpy.ndarray
        ``(N, 2)`` positions, HR px.
    snr : numpy.ndarray
        Their aperture S/N.
    """
    image = np.nan_to_num(np.asarray(image, dtype=np.float64))
    median = float(sigma_clipped_stats(image, sigma=3.0)[1])
    smooth = ndimage.gaussian_filter(image - median, fwhm / 2.3548200450309493)
    level = float(sigma_clipped_stats(smooth, sigma=3.0)[2])
    box = 2 * math.ceil(fwhm / 2) + 1
    peaks = find_peaks(smooth, max(level, 1e-12), box_size=box, border_width=math.ceil(fwhm))
    if peaks is None:
        return np.empty((0, 2)), np.empty(0)
    xy = np.column_stack([peaks["x_peak"], peaks["y_peak"]]).astype(np.float64)
    sums = aperture_photometry(image - median, CircularAperture(xy, r=fwhm))["aperture_sum"]
    snr = point_source_snr(np.asarray(sums) / scale**2, lr_sigma=lr_sigma, scale=scale, fwhm=fwhm)
    keep = snr >= snr_threshold
    return xy[keep], snr[keep]


def detect_own_sigma(
    image: np.ndarray, *, nsigma: float = DETECTION_SNR, npixels: int = 5
) -> np.ndarray:
    """Sources at ``nsigma`` of the image's own sky noise, as a catalogue made on it finds.

    Segments of at least ``npixels`` connected pixels above the sigma-clipped median by
    ``nsigma`` sigma-clipped standard deviations (photutils ``detect_sources``); their
    positions are their brightest pixels.  A denoised SR has a tiny sky sigma, so faint
    artefacts pass: the hallucinations a catalogue of the SR would contain.

    Returns
    -------
    numpy.ndarray
        ``(N, 2)`` ``(x, y)`` positions, HR px.
    """
    image = np.nan_to_num(np.asarray(image, dtype=np.float64))
    _, median, sigma = sigma_clipped_stats(image, sigma=3.0, maxiters=10)
    if not sigma > 0:
        return np.empty((0, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoDetectionsWarning)
        segments = detect_sources(image - median, nsigma * sigma, npixels)
    if segments is None:
        return np.empty((0, 2))
    peaks = ndimage.maximum_position(image, segments.data, segments.labels)
    return np.array([(x, y) for y, x in peaks], dtype=np.float64).reshape(-1, 2)


def completeness(
    injected_xy: np.ndarray,
    injected_snr: np.ndarray,
    detected_xy: np.ndarray,
    *,
    match_radius: float,
    area_lr: float,
    bins: tuple[float, ...] = INJECTION_BINS,
) -> dict[str, object]:
    """Injection–recovery: completeness by injected S/N, and false detections.

    Returns
    -------
    dict
        ``completeness`` (list per bin of ``{snr_min, snr_max, n, fraction}``),
        ``recovered`` (all bins), ``false_per_1000_lr_px2`` (detections farther than
        ``match_radius`` from every injected source, per 1000 LR px² of ``area_lr``).
    """
    if len(detected_xy) and len(injected_xy):
        distance = np.hypot(*(injected_xy[:, None, :] - detected_xy[None]).transpose(2, 0, 1))
        found = distance.min(axis=1) <= match_radius
        false = int((distance.min(axis=0) > match_radius).sum())
    else:
        found, false = np.zeros(len(injected_xy), bool), len(detected_xy)
    rows = []
    for low, high in itertools.pairwise(bins):
        inside = (injected_snr >= low) & (injected_snr < high)
        n = int(inside.sum())
        rows.append({"snr_min": low, "snr_max": high, "n": n,
                     "fraction": float(found[inside].mean()) if n else math.nan})  # fmt: skip
    return {
        "completeness": rows,
        "recovered": float(found.mean()) if len(found) else math.nan,
        "false_per_1000_lr_px2": 1000.0 * false / area_lr,
    }
