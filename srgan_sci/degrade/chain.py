"""The degradation chain over (possibly larger-than-memory) dask arrays.

Results do not depend on how the input is chunked: the chain rechunks to a fixed
*canonical tile* grid (``TILE_LR`` low-resolution pixels a side), convolves each tile with
a halo of the PSF radius (reflected at the image edges), and draws each tile's noise from
its own seed derived from ``(seed, plane, tile_y, tile_x)``.  The in-memory function
:func:`degrade` runs the same graph, so chunked and in-memory results are bit-identical.

Real HR observations (``spec.hr_psf`` and/or ``hr_noise``) run the same chain with two
changes, see :mod:`srgan_sci.degrade.matching`::

    HR -> convolve(K, with hr_psf * K = psf) -> bin (sum|mean) -> x photon factor (e-)
       -> + sky -> Poisson -> + read noise reduced by the inherited variance -> - sky

where the inherited variance is the HR noise carried through ``K``, the binning and the
photon factor, so the LR noise equals the target model of a noise-free input.
"""

from __future__ import annotations

from dataclasses import dataclass

import dask
import dask.array as da
import numpy as np
from scipy.signal import fftconvolve

from srgan_sci.degrade.camera import bin_pixels, detect, photon_scale
from srgan_sci.degrade.matching import (
    inherited_variance,
    kernel_fwhm,
    psf_matching_kernel,
    reduced_read_noise,
)
from srgan_sci.degrade.psf import render_psf
from srgan_sci.degrade.spec import DegradationSpec, SpecError

TILE_LR = 256
"""Side of the canonical tiles, in low-resolution pixels."""


@dataclass(frozen=True)
class DegradedPair:
    """A lazy high/low-resolution pair in consistent units.

    Parameters
    ----------
    hr : dask.array.Array
        Noise-free, unblurred truth in LR ADU per HR pixel: with ``binning="sum"`` the
        sum of an s x s block equals the noise-free LR pixel before blurring; with
        ``"mean"`` its block mean does.
    lr : dask.array.Array
        Simulated readout, ADU per LR pixel (offset, and sky if requested, subtracted).
    electrons_per_adu : float
        The detector gain, to turn ``lr`` back into e-.
    photon_factor : float
        e- per input unit (per LR pixel after binning) applied to the input.
    kernel_fwhm : float or None
        FWHM (HR pixels) of the kernel the HR image was blurred with: the matching kernel
        when ``spec.hr_psf`` is set.
    inherited_variance : float
        Variance (ADU² per LR pixel) the HR image's own noise brings into ``lr``.
    read_noise : float
        Read noise actually added, e- RMS: ``spec.read_noise`` reduced by the inherited
        variance.
    """

    hr: da.Array
    lr: da.Array
    electrons_per_adu: float
    photon_factor: float
    kernel_fwhm: float | None = None
    inherited_variance: float = 0.0
    read_noise: float = 0.0


def blur_kernel(spec: DegradationSpec) -> np.ndarray:
    """The kernel the chain blurs HR images with, on the HR grid (float64, unit sum).

    The target PSF, or, when the HR image has its own PSF (``spec.hr_psf``), the matching
    kernel from it to the target.  Re-degrading a prediction of the HR image (data
    consistency, Richardson–Lucy baselines) must use this kernel too.
    """
    if spec.hr_psf is None:
        return render_psf(spec.psf).astype(np.float64)
    return psf_matching_kernel(spec.hr_psf, spec.psf)


def degrade_lazy(
    hr: da.Array, spec: DegradationSpec, seed: int = 0, *, hr_noise: float = 0.0
) -> DegradedPair:
    """Build the lazy degradation graph of ``hr`` (last two axes y, x).

    Parameters
    ----------
    hr : dask.array.Array
        High-resolution image(s), float32, NaN for missing pixels.
    spec : DegradationSpec
        What to simulate.
    seed : int
        Seed of the noise; the same seed gives bit-identical output.
    hr_noise : float
        Standard deviation of the white noise the HR input already has, input units per
        HR pixel; the read noise added is reduced so the total LR noise meets the spec.

    Returns
    -------
    DegradedPair

    Raises
    ------
    srgan_sci.degrade.matching.MatchingError
        If ``spec.hr_psf`` cannot be matched to ``spec.psf``, or the HR noise alone exceeds
        the read-noise variance it replaces.
    """
    if not (np.isfinite(hr_noise) and hr_noise >= 0):
        raise SpecError(f"hr_noise must be a non-negative sigma per HR pixel, got {hr_noise}")
    hr = _check_input(da.asarray(hr).astype(np.float32), spec.scale)
    scale = spec.scale
    psf = blur_kernel(spec)
    radius = psf.shape[0] // 2
    spatial = tuple(_canonical_chunks(n, TILE_LR * scale, radius) for n in hr.shape[-2:])
    hr = hr.rechunk((1,) * (hr.ndim - 2) + spatial)

    missing = da.isnan(hr)
    filled = da.where(missing, np.float32(0), hr)
    if all(min(chunks) > radius for chunks in spatial):
        depth = {axis: 0 for axis in range(hr.ndim - 2)}
        depth |= {hr.ndim - 2: radius, hr.ndim - 1: radius}
        boundary = {axis: "none" for axis in range(hr.ndim - 2)}
        boundary |= {hr.ndim - 2: "reflect", hr.ndim - 1: "reflect"}
        haloed = da.overlap.overlap(filled, depth=depth, boundary=boundary)
        blurred = haloed.map_blocks(_convolve_valid, psf, chunks=filled.chunks, dtype=np.float32)
    else:
        blurred = filled.map_blocks(_pad_and_convolve, psf, dtype=np.float32)

    lr_chunks = hr.chunks[:-2] + tuple(tuple(c // scale for c in ch) for ch in hr.chunks[-2:])
    binned = blurred.map_blocks(bin_pixels, scale, spec.binning, chunks=lr_chunks, dtype=np.float32)
    lr_missing = missing.map_blocks(_any_in_block, scale, chunks=lr_chunks, dtype=bool)

    factor = _photon_factor(hr, spec)
    inherited = (hr_noise * factor) ** 2 * inherited_variance(psf, scale, spec.binning)
    read_noise = reduced_read_noise(spec.read_noise, inherited)
    lr = da.map_blocks(
        _detect_tile,
        binned,
        lr_missing,
        dtype=np.float32,
        chunks=lr_chunks,
        factor=factor,
        spec=spec,
        read_noise=read_noise,
        seed=seed,
    )
    hr_adu = hr * np.float32(factor / spec.gain)
    return DegradedPair(
        hr=hr_adu,
        lr=lr,
        electrons_per_adu=spec.gain,
        photon_factor=factor,
        kernel_fwhm=kernel_fwhm(psf),
        inherited_variance=inherited / spec.gain**2,
        read_noise=read_noise,
    )


def degrade(
    hr: np.ndarray, spec: DegradationSpec, seed: int = 0, *, hr_noise: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Degrade an in-memory image; same result as :func:`degrade_lazy`, computed at once.

    Returns
    -------
    hr_adu, lr : numpy.ndarray
        See :class:`DegradedPair`.
    """
    pair = degrade_lazy(da.from_array(np.asarray(hr, np.float32)), spec, seed, hr_noise=hr_noise)
    hr_adu, lr = dask.compute(pair.hr, pair.lr, scheduler="synchronous")
    return hr_adu, lr


def _check_input(hr: da.Array, scale: int) -> da.Array:
    """Raise :class:`SpecError` unless the (y, x) shape is a multiple of ``scale``."""
    if hr.ndim < 2:
        raise SpecError(f"image must have at least 2 axes (y, x), got shape {hr.shape}")
    height, width = hr.shape[-2:]
    if height % scale or width % scale:
        raise SpecError(
            f"image of {height}x{width} pixels is not divisible by scale {scale}; crop it to "
            f"{height - height % scale}x{width - width % scale} first"
        )
    return hr


def _photon_factor(hr: da.Array, spec: DegradationSpec) -> float:
    """e- per input unit, from one pass over the whole array (never per tile)."""
    if spec.photons is None:
        return float(spec.electrons_per_unit)
    mean_hr = float(da.nanmean(hr).compute())
    per_lr_pixel = mean_hr * (spec.scale**2 if spec.binning == "sum" else 1.0)
    return photon_scale(per_lr_pixel, spec.photons)


def _canonical_chunks(size: int, tile: int, radius: int) -> tuple[int, ...]:
    """Tiles of ``tile`` pixels along an axis, the remainder merged if it is within the halo.

    Every chunk is then larger than the PSF radius, as an overlap with reflection needs;
    an axis shorter than the radius stays one chunk.
    """
    chunks = [tile] * (size // tile)
    remainder = size % tile
    if remainder and chunks and remainder <= radius:
        chunks[-1] += remainder
    elif remainder:
        chunks.append(remainder)
    return tuple(chunks)


def _pad_and_convolve(block: np.ndarray, psf: np.ndarray) -> np.ndarray:
    """Convolve a whole (un-chunked) plane stack with mirror-symmetric edges."""
    radius = psf.shape[0] // 2
    pad = [(0, 0)] * (block.ndim - 2) + [(radius, radius)] * 2
    return _convolve_valid(np.pad(block, pad, mode="symmetric"), psf)


def _convolve_valid(block: np.ndarray, psf: np.ndarray) -> np.ndarray:
    """Convolve each plane of a haloed block and keep the part without the halo."""
    planes = block.reshape(-1, *block.shape[-2:]).astype(np.float64)
    out = np.stack([fftconvolve(plane, psf, mode="valid") for plane in planes])
    return out.reshape(*block.shape[:-2], *out.shape[-2:]).astype(np.float32)


def _any_in_block(mask: np.ndarray, factor: int) -> np.ndarray:
    """True where any pixel of a ``factor`` x ``factor`` block is set."""
    *lead, height, width = mask.shape
    blocks = mask.reshape(*lead, height // factor, factor, width // factor, factor)
    return blocks.any(axis=(-3, -1))


def _detect_tile(
    binned: np.ndarray,
    missing: np.ndarray,
    *,
    factor: float,
    spec: DegradationSpec,
    read_noise: float,
    seed: int,
    block_id: tuple[int, ...] = (),
) -> np.ndarray:
    """Photon budget, detector noise and calibration of one canonical tile."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=tuple(block_id)))
    electrons = np.clip(binned.astype(np.float64) * factor, 0.0, None)
    electrons[missing] = np.nan
    return readout(electrons, spec, rng, read_noise=read_noise)


def readout(
    electrons: np.ndarray,
    spec: DegradationSpec,
    rng: np.random.Generator,
    *,
    read_noise: float | None = None,
) -> np.ndarray:
    """Detector readout of signal ``electrons`` per LR pixel, calibrated as the spec says.

    :func:`~srgan_sci.degrade.camera.detect` with the spec's sky, gain, offset, saturation
    and noise (``read_noise`` overrides the spec's), minus the bias and sky the spec
    subtracts; float32 ADU.
    """
    adu = detect(
        electrons,
        rng,
        sky=spec.sky,
        read_noise=spec.read_noise if read_noise is None else read_noise,
        gain=spec.gain,
        offset=spec.offset,
        saturation=spec.saturation,
        poisson=spec.poisson,
    )
    calibration = (spec.offset if spec.subtract_offset else 0.0) + (
        spec.sky / spec.gain if spec.subtract_sky else 0.0
    )
    return (adu - np.float32(calibration)).astype(np.float32)
