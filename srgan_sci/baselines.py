"""Classical baselines a super-resolution model is evaluated against.

* ``"bicubic"`` and ``"lanczos"``: interpolation through the project's own tiled pipeline
  (:class:`~srgan_sci.infer.tiling.BicubicModel` / :class:`~srgan_sci.infer.tiling.LanczosModel`
  with :func:`~srgan_sci.infer.tiling.upscale_plane_numpy`), so the result is the one
  ``srsci upscale --model bicubic`` writes (with the same, affine, normaliser or none).
* ``"richardson-lucy"``: Richardson-Lucy deconvolution of the LR image by the PSF as the
  LR grid sees it (:func:`lr_psf`), then bicubic upscaling.  It needs the degradation spec.

Every output is in the LR image's units per HR pixel position, like a model's.
"""

from __future__ import annotations

from typing import Any

import dask
import dask.array as da
import numpy as np
from scipy.signal import convolve
from skimage.restoration import richardson_lucy as _skimage_rl

from srgan_sci.degrade.chain import blur_kernel
from srgan_sci.degrade.spec import DegradationSpec
from srgan_sci.errors import SrsciError
from srgan_sci.infer.tiling import BicubicModel, LanczosModel, upscale_lazy, upscale_plane_numpy
from srgan_sci.normalize import Normalizer

__all__ = [
    "BASELINES",
    "BaselineError",
    "lr_psf",
    "richardson_lucy",
    "upscale_baseline",
    "upscale_baseline_lazy",
]

BASELINES = ("bicubic", "lanczos", "richardson-lucy")
RL_DEPTH_RADII = 3
"""Halo of a chunked Richardson-Lucy run, in LR PSF radii (see :func:`upscale_baseline_lazy`)."""


class BaselineError(SrsciError, ValueError):
    """A baseline is unknown or lacks what it needs."""


def lr_psf(spec: DegradationSpec) -> np.ndarray:
    """The PSF as the LR grid sees it: HR PSF * ``s x s`` pixel box, sampled every ``s``.

    The box is the LR pixel integrated over HR pixels: ``s`` ones for odd ``s``; for even
    ``s`` the box edges cut the outer HR pixels in half, so the weights are
    ``[1/2, 1, ..., 1, 1/2]`` (``s + 1`` taps), which keeps the kernel centred.

    Parameters
    ----------
    spec : DegradationSpec
        Supplies the HR PSF and the scale ``s``.

    Returns
    -------
    numpy.ndarray
        Odd, square, non-negative float64 kernel with unit sum, centred on its middle pixel.

    Examples
    --------
    >>> from srgan_sci.degrade.spec import preset
    >>> lr_psf(preset("confocal")).shape
    (5, 5)
    """
    s = spec.scale
    taps = np.ones(s + 1 - s % 2)
    if s % 2 == 0:
        taps[[0, -1]] = 0.5
    box = np.outer(taps, taps) / taps.sum() ** 2
    smeared = convolve(blur_kernel(spec), box, mode="full", method="direct")
    centre = smeared.shape[0] // 2
    reach = centre // s
    sampled = smeared[centre - reach * s : centre + reach * s + 1 : s, :]
    sampled = np.clip(sampled[:, centre - reach * s : centre + reach * s + 1 : s], 0.0, None)
    return sampled / sampled.sum()


def _rl_constants(low: float, high: float, mean: float) -> tuple[float, float]:
    """``(shift, fill)`` from the data's finite min, max and mean (once per whole image)."""
    if not np.isfinite(mean):
        raise BaselineError("the LR image has no finite pixel; nothing to deconvolve")
    floor = 1e-3 * (high - low) if high > low else 1.0
    return max(0.0, -low) + floor, mean


def _rl_core(
    padded: np.ndarray, psf: np.ndarray, iterations: int, shift: float, fill: float
) -> np.ndarray:
    """Richardson-Lucy on an edge-padded block; same shape out, NaN where NaN came in."""
    missing = np.isnan(padded)
    data = np.where(missing, fill, padded).astype(np.float64) + shift
    result = _skimage_rl(data, psf, num_iter=iterations, clip=False) - shift
    result[missing] = np.nan
    return result.astype(np.float32)


def _check_rl(lr: Any, iterations: int) -> None:
    if lr.ndim != 2:
        raise ValueError(f"Richardson-Lucy takes one (y, x) plane, got shape {lr.shape}")
    if not isinstance(iterations, int) or iterations < 1:
        raise ValueError(f"iterations must be a positive integer, got {iterations!r}")


def richardson_lucy(
    lr: np.ndarray,
    psf_lr: np.ndarray,
    *,
    iterations: int = 20,
    depth: int | None = None,
) -> np.ndarray:
    """Richardson-Lucy deconvolution of an LR plane, for data with negative values or NaN.

    Richardson-Lucy assumes non-negative data.  Sky-subtracted or bias-subtracted frames
    hold negative pixels, so the plane is shifted by ``max(0, -min) + 1e-3 (max - min)``
    before and shifted back after (a constant passes a unit-sum PSF unchanged, so the
    shift is a flat background the iterations leave alone).  NaN pixels are filled with
    the mean of the finite pixels and set back to NaN after.  The plane is padded
    mirror-symmetrically by ``depth`` pixels (cropped after) so that scikit-image's
    zero-padded convolutions do not darken the edges.

    Parameters
    ----------
    lr : numpy.ndarray
        ``(H, W)`` LR plane.
    psf_lr : numpy.ndarray
        Odd, unit-sum kernel at the LR pitch (:func:`lr_psf`).
    iterations : int
        Number of iterations; more sharpen more and amplify noise more.
    depth : int, optional
        Edge padding; default ``RL_DEPTH_RADII`` PSF radii.

    Returns
    -------
    numpy.ndarray
        ``(H, W)`` float32 in the units of ``lr``; NaN where ``lr`` is NaN.
    """
    lr = np.asarray(lr, dtype=np.float64)
    _check_rl(lr, iterations)
    depth = RL_DEPTH_RADII * (psf_lr.shape[0] // 2) if depth is None else depth
    finite = lr[np.isfinite(lr)]
    if finite.size == 0:
        raise BaselineError("the LR image has no finite pixel; nothing to deconvolve")
    shift, fill = _rl_constants(float(finite.min()), float(finite.max()), float(finite.mean()))
    padded = np.pad(lr, depth, mode="symmetric")
    out = _rl_core(padded, psf_lr, iterations, shift, fill)
    return out[depth : depth + lr.shape[0], depth : depth + lr.shape[1]]


def _model(name: str, scale: int, spec: DegradationSpec | None) -> BicubicModel | LanczosModel:
    """Interpolator of a baseline, after checking the name and what it needs."""
    if name not in BASELINES:
        raise BaselineError(f"unknown baseline {name!r}; choose one of {', '.join(BASELINES)}")
    if name == "richardson-lucy":
        if spec is None:
            raise BaselineError(
                "the richardson-lucy baseline needs a degradation spec for its PSF; "
                "give a model bundle (which records it) or --preset"
            )
        if spec.scale != scale:
            raise BaselineError(
                f"scale {scale} does not match the degradation spec's scale {spec.scale}"
            )
    return LanczosModel(scale) if name == "lanczos" else BicubicModel(scale)


def upscale_baseline(
    name: str,
    lr: np.ndarray,
    scale: int,
    spec: DegradationSpec | None = None,
    *,
    iterations: int = 20,
    normalizer: Normalizer | None = None,
) -> np.ndarray:
    """Upscale an LR plane with a classical baseline.

    Parameters
    ----------
    name : {"bicubic", "lanczos", "richardson-lucy"}
        The baseline; ``"richardson-lucy"`` deconvolves (:func:`richardson_lucy` with
        :func:`lr_psf`) and then upscales bicubically.
    lr : numpy.ndarray
        ``(H, W)`` plane; NaN marks missing pixels.
    scale : int
        Upscale factor.
    spec : DegradationSpec, optional
        Required by ``"richardson-lucy"``.
    iterations : int
        Richardson-Lucy iterations.
    normalizer : Normalizer, optional
        Passed to the interpolation pipeline, as ``srsci upscale`` does.

    Returns
    -------
    numpy.ndarray
        ``(scale H, scale W)`` float32; NaN over the block of every NaN LR pixel.

    Raises
    ------
    BaselineError
        Unknown name, or ``"richardson-lucy"`` without a matching spec.
    """
    model = _model(name, scale, spec)
    if name == "richardson-lucy":
        lr = richardson_lucy(lr, lr_psf(spec), iterations=iterations)
    return upscale_plane_numpy(model, lr, normalizer=normalizer)


def upscale_baseline_lazy(
    name: str,
    lr: da.Array,
    scale: int,
    spec: DegradationSpec | None = None,
    *,
    iterations: int = 20,
    normalizer: Normalizer | None = None,
) -> da.Array:
    """Lazy, chunked :func:`upscale_baseline` for images larger than memory.

    Interpolation goes through :func:`~srgan_sci.infer.tiling.upscale_lazy` and is exact.
    Richardson-Lucy is not local: every iteration widens the region a pixel depends on
    by one PSF radius.  Chunks are deconvolved with a mirror-reflected halo of
    ``RL_DEPTH_RADII`` PSF radii (``map_overlap``), which is where the influence of
    distant pixels has died down; the result then matches the in-memory one to about
    1e-3 relative, not bit for bit.  The shift and NaN fill are computed once on the
    whole image (one pass over it, now), never per chunk.

    Parameters
    ----------
    name, scale, spec, iterations, normalizer
        As in :func:`upscale_baseline`.
    lr : dask.array.Array
        ``(..., y, x)``; Richardson-Lucy takes a single ``(y, x)`` plane.

    Returns
    -------
    dask.array.Array
        ``(..., scale y, scale x)`` float32.
    """
    model = _model(name, scale, spec)
    lr = da.asarray(lr)
    if name == "richardson-lucy":
        _check_rl(lr, iterations)
        psf = lr_psf(spec)
        # dask's reflect boundary needs depth < the array side: small images get less
        depth = min(RL_DEPTH_RADII * (psf.shape[0] // 2), min(lr.shape[-2:]) - 1)
        stats = dask.compute(da.nanmin(lr), da.nanmax(lr), da.nanmean(lr))
        shift, fill = _rl_constants(*(float(v) for v in stats))
        lr = lr.astype(np.float64).map_overlap(
            _rl_core,
            depth=depth,
            boundary="reflect",
            dtype=np.float32,
            psf=psf,
            iterations=iterations,
            shift=shift,
            fill=fill,
        )
    return upscale_lazy(model, lr, normalizer, device="cpu", max_tile_pixels=None)
