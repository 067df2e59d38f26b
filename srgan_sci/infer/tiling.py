"""Exact tiled inference of super-resolution models over lazy (dask) arrays.

The whole image is (conceptually) padded by ``halo`` pixels with mirror-symmetric edges
(``numpy.pad(mode="symmetric")``, which is dask's ``boundary="reflect"``); each chunk is
cut out of that padded image with its halo, upscaled, and the ``halo * scale`` border of
the result is cropped.  With ``halo >= model.receptive_field_radius`` no kept output
pixel sees a tile edge, so the tiled result equals :func:`upscale_plane_numpy` on the
whole plane, whatever the chunking (up to float32 rounding of different conv sizes).

A haloed block larger than ``max_tile_pixels`` is run in overlapping sub-tiles that
carry the same halo (:mod:`srgan_sci.infer.subtiles`); :mod:`srgan_sci.infer.tta` adds
8-fold dihedral test-time augmentation with a per-pixel spread.

Store the result with :func:`srgan_sci.streaming.store_in_bands` to bound memory.

:class:`BicubicModel` and :class:`LanczosModel` are interpolation baselines with the
generators' interface (``scale``, ``receptive_field_radius``), so they run through the
same pipeline.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import dask
import dask.array as da
import numpy as np
import torch
from torch import nn

from srgan_sci.infer.subtiles import choose_tile_pixels, run_cropped
from srgan_sci.normalize import Normalizer

__all__ = [
    "BicubicModel",
    "LanczosModel",
    "choose_tile_pixels",
    "upscale_lazy",
    "upscale_plane_numpy",
]


# --------------------------------------------------------------------------- baselines


def keys_cubic(x: np.ndarray, a: float = -0.5) -> np.ndarray:
    """Keys' cubic convolution kernel (support 2; ``a = -0.5`` is Catmull-Rom-like bicubic)."""
    x = np.abs(x)
    near = (a + 2) * x**3 - (a + 3) * x**2 + 1
    far = a * x**3 - 5 * a * x**2 + 8 * a * x - 4 * a
    return np.where(x <= 1, near, np.where(x < 2, far, 0.0))


def lanczos(x: np.ndarray, lobes: int = 3) -> np.ndarray:
    """Lanczos kernel ``sinc(x) sinc(x / lobes)`` on ``|x| < lobes``, 0 outside."""
    x = np.asarray(x, dtype=np.float64)
    return np.where(np.abs(x) < lobes, np.sinc(x) * np.sinc(x / lobes), 0.0)


def phase_weights(kernel: Any, scale: int, radius: int) -> np.ndarray:
    """Interpolation weights for each output phase, shape ``(scale, 2 * radius + 1)``.

    Output pixel ``p = q * scale + r`` (pixel centres at half-integers) sits at input
    coordinate ``q + d_r`` with ``d_r = (r + 0.5) / scale - 0.5``; its weight on input
    pixel ``q + k`` is ``kernel(k - d_r)``, normalised to sum to one per phase.
    """
    taps = np.arange(-radius, radius + 1, dtype=np.float64)
    shifts = (np.arange(scale) + 0.5) / scale - 0.5
    weights = kernel(taps[None, :] - shifts[:, None])
    return weights / weights.sum(axis=1, keepdims=True)


class _SeparableUpsampler(nn.Module):
    """Separable convolution upsampling by an integer ``scale``, one filter per phase."""

    def __init__(self, scale: int, weights: np.ndarray) -> None:
        super().__init__()
        if not isinstance(scale, int) or scale < 1:
            raise ValueError(f"scale must be a positive integer, got {scale!r}")
        self.scale = scale
        self.radius = (weights.shape[1] - 1) // 2
        self.register_buffer("weights", torch.as_tensor(weights, dtype=torch.float32))

    @property
    def receptive_field_radius(self) -> int:
        """Half-width, in input pixels, of the input region one output pixel sees."""
        return self.radius

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Upscale ``(N, 1, H, W)`` to ``(N, 1, s*H, s*W)`` (zero padding at the edges)."""
        if x.ndim != 4 or x.shape[1] != 1:
            raise ValueError(f"expected an (N, 1, H, W) tensor, got shape {tuple(x.shape)}")
        n, _, height, width = x.shape
        s, r = self.scale, self.radius
        w = self.weights.to(dtype=x.dtype)
        along_x = nn.functional.conv2d(x, w[:, None, None, :], padding=(0, r))
        x = along_x.permute(0, 2, 3, 1).reshape(n, 1, height, width * s)
        along_y = nn.functional.conv2d(x, w[:, None, :, None], padding=(r, 0))
        return along_y.permute(0, 2, 1, 3).reshape(n, 1, height * s, width * s)


class BicubicModel(_SeparableUpsampler):
    """Bicubic (Keys, ``a = -0.5``) upsampling by an integer ``scale``; radius 2."""

    def __init__(self, scale: int) -> None:
        super().__init__(scale, phase_weights(keys_cubic, scale, 2))


class LanczosModel(_SeparableUpsampler):
    """Lanczos-3 upsampling (weights summing to one) by an integer ``scale``; radius 3."""

    def __init__(self, scale: int) -> None:
        super().__init__(scale, phase_weights(lanczos, scale, 3))


# --------------------------------------------------------------------------- kernels


def _crop(x: np.ndarray, margin: int) -> np.ndarray:
    """Remove ``margin`` pixels from each side of the last two axes."""
    if margin == 0:
        return x
    return x[..., margin:-margin, margin:-margin]


def _upscale_haloed(
    model: nn.Module,
    haloed: np.ndarray,
    normalizer: Normalizer | None,
    halo: int,
    device: Any,
    batch: int,
    max_tile_pixels: int | None = None,
) -> np.ndarray:
    """Upscale ``(..., h + 2 halo, w + 2 halo)`` to ``(..., s h, s w)`` in input units.

    Normalise, fill NaN with 0, run the model (in sub-tiles of at most ``max_tile_pixels``),
    crop ``halo * s``, undo the normalisation and set NaN where the source pixel is NaN.
    """
    planes, missing = _prepare_planes(haloed, normalizer, halo)
    y = run_cropped(model, planes, halo, device, batch, max_tile_pixels)
    y = y.reshape(*haloed.shape[:-2], *y.shape[-2:])
    y = np.asarray(y if normalizer is None else normalizer.inverse(y), dtype=np.float32)
    return _mask_missing(y, missing, model.scale)


def _prepare_planes(
    haloed: np.ndarray, normalizer: Normalizer | None, halo: int
) -> tuple[np.ndarray, np.ndarray]:
    """Normalised ``(N, H, W)`` float32 planes with NaN as 0, and the interior NaN mask."""
    missing = np.isnan(_crop(haloed, halo))
    x = haloed if normalizer is None else normalizer.forward(haloed)
    x = np.asarray(x, dtype=np.float32)
    x = np.where(np.isnan(x), np.float32(0), x)
    return x.reshape(-1, *x.shape[-2:]), missing


def _mask_missing(y: np.ndarray, missing: np.ndarray, scale: int) -> np.ndarray:
    """Set NaN in ``y`` over the ``scale x scale`` block of every missing source pixel."""
    y[..., missing.repeat(scale, axis=-2).repeat(scale, axis=-1)] = np.nan
    return y


def run_block(
    block: np.ndarray,
    model: nn.Module,
    normalizer: Normalizer | None,
    *,
    haloed: Any = None,
    halo: int,
    pad: tuple[int, int],
    device: Any,
    batch: int,
    max_tile_pixels: int | None = None,
) -> Any:
    """Run ``haloed`` (default :func:`_upscale_haloed`) on one dask block.

    Axes dask did not overlap (a single chunk) are padded here first; ``haloed`` takes
    ``(model, block, normalizer, halo, device, batch, max_tile_pixels)``.
    """
    haloed = haloed or _upscale_haloed
    block = _pad_single(block, pad)
    return haloed(model, block, normalizer, halo, device, batch, max_tile_pixels)


def _pad_single(block: np.ndarray, pad: tuple[int, int]) -> np.ndarray:
    """Symmetric-pad the last two axes of ``block`` by ``pad`` (axes dask did not overlap)."""
    if not any(pad):
        return block
    widths = [(0, 0)] * (block.ndim - 2) + [(pad[0],) * 2, (pad[1],) * 2]
    return np.pad(block, widths, mode="symmetric")


# --------------------------------------------------------------------------- public API


def _resolve_halo(model: nn.Module, halo: int | None) -> int:
    """Default the halo to the model's receptive field radius; check it is usable."""
    halo = int(model.receptive_field_radius) if halo is None else halo
    if not isinstance(halo, int) or halo < 0:
        raise ValueError(f"halo must be a non-negative integer, got {halo!r}")
    return halo


def upscale_plane_numpy(
    model: nn.Module,
    image: np.ndarray,
    *,
    device: Any = "cpu",
    halo: int | None = None,
    normalizer: Normalizer | None = None,
    max_tile_pixels: int | None = None,
) -> np.ndarray:
    """Upscale a whole plane at once: the untiled reference of :func:`upscale_lazy`.

    Parameters
    ----------
    model : torch.nn.Module
        Maps ``(N, 1, H, W)`` to ``(N, 1, sH, sW)``; has ``scale`` and
        ``receptive_field_radius``.
    image : numpy.ndarray
        ``(H, W)`` plane; NaN marks missing pixels.
    device : str or torch.device, optional
        Where the model runs.
    halo : int, optional
        Mirror-symmetric padding (input pixels) before the model, cropped after;
        defaults to ``model.receptive_field_radius``.
    normalizer : Normalizer, optional
        Applied before the model and undone after; ``None`` means identity.
    max_tile_pixels : int, optional
        Input pixels per forward pass (see :func:`upscale_lazy`); ``None``: all at once.

    Returns
    -------
    numpy.ndarray
        ``(sH, sW)`` float32; NaN where the source pixel is NaN.
    """
    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 2:
        raise ValueError(f"expected an (H, W) plane, got shape {image.shape}")
    halo = _resolve_halo(model, halo)
    padded = np.pad(image, halo, mode="symmetric")
    return _upscale_haloed(model, padded, normalizer, halo, device, 1, max_tile_pixels)


def canonical_chunks(size: int, tile: int, halo: int) -> tuple[int, ...]:
    """Tiles of ``tile`` pixels along an axis, a remainder shorter than ``halo`` merged.

    Every chunk of a multi-chunk axis is then at least ``halo`` long, as dask's overlap
    with reflection needs.
    """
    chunks = [tile] * (size // tile)
    remainder = size % tile
    if remainder and chunks and remainder < halo:
        chunks[-1] += remainder
    elif remainder:
        chunks.append(remainder)
    return tuple(chunks)


def upscale_lazy(
    model: nn.Module,
    data: da.Array,
    normalizer: Normalizer | None,
    *,
    halo: int | None = None,
    device: Any = "cpu",
    batch_tiles: int = 4,
    max_tile_pixels: int | str | None = "auto",
) -> da.Array:
    """Upscale a lazy array chunk by chunk, exactly as the whole image at once.

    Parameters
    ----------
    model : torch.nn.Module
        Maps ``(N, 1, H, W)`` to ``(N, 1, sH, sW)``; has ``scale`` and
        ``receptive_field_radius``.  Put in eval mode and moved to ``device``.
    data : dask.array.Array
        ``(..., y, x)``; leading axes are independent planes.  The spatial chunk size
        (the largest chunk of each axis) sets the tiling.
    normalizer : Normalizer or None
        Fitted once on the whole array by the caller (never per tile); applied before the
        model and undone after, so the output is in input units.  ``None``: identity.
    halo : int, optional
        Input pixels of context around each tile; defaults to
        ``model.receptive_field_radius``.  Smaller halos give tiling-dependent results.
    device : str or torch.device, optional
        Where the model runs.
    batch_tiles : int, optional
        Planes of the last leading axis per block, run through the model as one batch
        (all other leading axes have chunk 1); also the sub-tiles per forward pass.
    max_tile_pixels : int, None or "auto", optional
        Input pixels (halo included, batch excluded) per forward pass.  A larger haloed
        block is split into overlapping sub-tiles that each carry ``halo`` pixels of
        context (:func:`srgan_sci.infer.subtiles.run_cropped`); the result is unchanged.
        ``"auto"`` asks :func:`choose_tile_pixels` (a budget from free CUDA memory,
        ``None`` on CPU); ``None`` runs whole blocks.  On a CUDA out-of-memory error the
        sub-tile is halved and retried either way.

    Returns
    -------
    dask.array.Array
        ``(..., s*y, s*x)`` float32, chunks of the spatial tiling times ``s``; NaN where
        the source pixel is NaN.  Nothing is computed.

    Raises
    ------
    ValueError
        If a spatial axis with several chunks has chunks shorter than ``2 * halo``, or
        ``data`` has fewer than two axes.
    """
    tiling = _tiling(model, data, halo, device, batch_tiles, max_tile_pixels)
    return tiling.haloed.map_blocks(
        run_block,
        model_dependency(model),
        normalizer=normalizer,
        **tiling.kwargs,
        chunks=tiling.out_chunks,
        dtype=np.float32,
        meta=np.empty((0,) * data.ndim, dtype=np.float32),
        name=f"upscale-{uuid.uuid4().hex}",
    )


def model_dependency(model: nn.Module) -> Any:
    """``model`` as one key of the dask graph, so every task refers to it by key.

    A distributed scheduler then ships the model to each worker once (and keeps it
    there) instead of serialising it into every task.
    """
    return dask.delayed(model, name=f"srsci-model-{uuid.uuid4().hex}")


@dataclass(frozen=True)
class _Tiling:
    """Haloed blocks of a lazy array, their output chunks and the block-kernel arguments."""

    haloed: da.Array
    out_chunks: tuple[tuple[int, ...], ...]
    kwargs: dict[str, Any]


def _tiling(
    model: nn.Module,
    data: da.Array,
    halo: int | None,
    device: Any,
    batch_tiles: int,
    max_tile_pixels: int | str | None,
) -> _Tiling:
    """Check the arguments, rechunk ``data`` canonically and overlap it by the halo."""
    if data.ndim < 2:
        raise ValueError(f"expected at least 2 axes (y, x), got shape {data.shape}")
    if not isinstance(batch_tiles, int) or batch_tiles < 1:
        raise ValueError(f"batch_tiles must be a positive integer, got {batch_tiles!r}")
    if max_tile_pixels == "auto":
        max_tile_pixels = choose_tile_pixels(model, device)
    elif max_tile_pixels is not None and (
        not isinstance(max_tile_pixels, int) or max_tile_pixels < 1
    ):
        raise ValueError(f"max_tile_pixels must be a positive integer, got {max_tile_pixels!r}")
    halo = _resolve_halo(model, halo)
    scale = model.scale
    spatial = []
    for size, chunks in zip(data.shape[-2:], data.chunks[-2:], strict=True):
        tile = max(chunks)
        if len(chunks) > 1 and tile < 2 * halo:
            raise ValueError(
                f"chunk size {tile} is smaller than 2 x halo {halo}; use --chunk >= {2 * halo}"
            )
        spatial.append(canonical_chunks(size, tile, halo))
    lead = data.ndim - 2
    lead_chunks = (1,) * max(lead - 1, 0) + ((min(batch_tiles, data.shape[-3]),) if lead else ())
    data = data.astype(np.float32).rechunk(lead_chunks + tuple(spatial))

    single = [len(chunks) == 1 for chunks in spatial]
    depth = {axis: 0 for axis in range(lead)}
    depth |= {lead + i: 0 if single[i] else halo for i in range(2)}
    boundary = {axis: "none" for axis in range(data.ndim)}
    boundary |= {lead: "reflect", lead + 1: "reflect"}
    kwargs = {
        "halo": halo,
        "pad": (halo * single[0], halo * single[1]),
        "device": device,
        "batch": batch_tiles,
        "max_tile_pixels": max_tile_pixels,
    }
    return _Tiling(
        haloed=da.overlap.overlap(data, depth=depth, boundary=boundary),
        out_chunks=data.chunks[:-2] + tuple(tuple(c * scale for c in ch) for ch in spatial),
        kwargs=kwargs,
    )
