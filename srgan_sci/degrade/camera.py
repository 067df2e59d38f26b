"""Detector models: pixel binning, photon budget, sky, shot and read noise, gain, offset.

Every function is pure and works on NumPy arrays in float32 (float64 accumulators where
sums are taken).  Random draws take an explicit :class:`numpy.random.Generator`.

Units along the chain: the optical image is in photo-electrons (e-) per pixel once the
photon budget has been applied; :func:`detect` returns analogue-to-digital units (ADU),
``adu = electrons / gain + offset``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

BinningMode = Literal["sum", "mean"]


def bin_pixels(image: np.ndarray, factor: int, mode: BinningMode = "sum") -> np.ndarray:
    """Bin the last two axes of ``image`` by an integer ``factor``.

    Parameters
    ----------
    image : numpy.ndarray
        Array whose last two axes (y, x) are divisible by ``factor``.
    factor : int
        Binning factor (>= 1).
    mode : {"sum", "mean"}
        ``"sum"`` adds the ``factor**2`` pixels of each block: what a detector does with
        charge, so total flux is conserved and a per-pixel unit (counts, e-) stays valid.
        ``"mean"`` averages them: the intensity scale is unchanged, as microscopists
        expect when comparing images at different sampling.

    Returns
    -------
    numpy.ndarray
        float32 array with the last two axes divided by ``factor``.
    """
    if factor < 1 or int(factor) != factor:
        raise ValueError(f"binning factor must be a positive integer, got {factor!r}")
    if mode not in ("sum", "mean"):
        raise ValueError(f"binning mode must be 'sum' or 'mean', got {mode!r}")
    *lead, height, width = image.shape
    if height % factor or width % factor:
        raise ValueError(
            f"image of {height}x{width} pixels is not divisible by the binning factor {factor}; "
            "crop it to a multiple first"
        )
    blocks = image.reshape(*lead, height // factor, factor, width // factor, factor)
    binned = blocks.sum(axis=(-3, -1), dtype=np.float64)
    if mode == "mean":
        binned /= factor * factor
    return binned.astype(np.float32)


def photon_scale(mean_signal: float, target_photons: float) -> float:
    """Factor that brings an image whose mean signal is ``mean_signal`` to ``target_photons``.

    Parameters
    ----------
    mean_signal : float
        Mean value of the (binned, background-free) signal over the whole array.
    target_photons : float
        Desired mean photo-electrons per low-resolution pixel.
    """
    if not np.isfinite(mean_signal) or mean_signal <= 0:
        raise ValueError(
            f"cannot scale to a photon budget: mean signal is {mean_signal}; "
            "the image must have positive flux"
        )
    if target_photons <= 0:
        raise ValueError(f"photon budget must be positive, got {target_photons}")
    return float(target_photons) / float(mean_signal)


def detect(
    electrons: np.ndarray,
    rng: np.random.Generator,
    *,
    sky: float = 0.0,
    read_noise: float = 0.0,
    gain: float = 1.0,
    offset: float = 0.0,
    saturation: float | None = None,
    poisson: bool = True,
) -> np.ndarray:
    """Turn an expected photo-electron image into a noisy detector readout in ADU.

    ``adu = (Poisson(electrons + sky) + Normal(0, read_noise)) / gain + offset``, clipped
    at ``saturation`` ADU if given.  NaN pixels stay NaN.

    Parameters
    ----------
    electrons : numpy.ndarray
        Expected signal in e- per pixel (non-negative; NaN allowed).
    rng : numpy.random.Generator
        Source of randomness.
    sky : float
        Background in e- per pixel added before shot noise.
    read_noise : float
        Gaussian read noise in e- RMS.
    gain : float
        e- per ADU.
    offset : float
        Bias level in ADU.
    saturation : float, optional
        Full-scale level in ADU; values above are clipped.
    poisson : bool
        Draw shot noise.  Without it the expectation is used (noise-free readout).

    Returns
    -------
    numpy.ndarray
        float32 readout in ADU.
    """
    if gain <= 0:
        raise ValueError(f"gain must be positive (e-/ADU), got {gain}")
    if read_noise < 0 or sky < 0:
        raise ValueError("read noise and sky must be non-negative")
    mask = np.isnan(electrons)
    expected = np.where(mask, 0.0, electrons).astype(np.float64) + sky
    if np.any(expected < 0):
        raise ValueError("expected electrons must be non-negative; subtract no sky before detect()")
    counts = rng.poisson(expected).astype(np.float64) if poisson else expected
    if read_noise > 0:
        counts += rng.normal(0.0, read_noise, size=counts.shape)
    adu = counts / gain + offset
    if saturation is not None:
        adu = np.minimum(adu, saturation)
    adu[mask] = np.nan
    return adu.astype(np.float32)


def noise_variance_adu(
    electrons: np.ndarray | float, *, sky: float, read_noise: float, gain: float
) -> np.ndarray | float:
    """Variance in ADU² of :func:`detect`'s output for expected signal ``electrons``.

    ``var = (electrons + sky + read_noise**2) / gain**2`` (before saturation clipping).
    """
    return (np.asarray(electrons, dtype=np.float64) + sky + read_noise**2) / gain**2
