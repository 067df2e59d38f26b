"""Test-time augmentation (TTA): the mean and spread over the 8 dihedral transforms.

Each haloed tile is rotated by 0-3 quarter turns, with and without a left-right flip,
upscaled, and the output transformed back.  The 8 outputs are mapped back to input units
(the normaliser is undone on each, so a non-linear normaliser such as asinh is handled
exactly) and reduced to a per-pixel mean and standard deviation (``ddof=0``): the spread
is an uncertainty layer, zero for a model that is exactly equivariant.

A dihedral transform of a tile padded symmetrically by the same ``halo`` on all sides is
itself such a tile, and the ``halo * scale`` crop commutes with the transform, so the
tiled TTA result equals the whole-image reference :func:`upscale_plane_numpy_tta`.
"""

from __future__ import annotations

import uuid
from typing import Any

import dask.array as da
import numpy as np
from torch import nn

from srgan_sci.infer.subtiles import run_cropped
from srgan_sci.infer.tiling import (
    _mask_missing,
    _prepare_planes,
    _resolve_halo,
    _tiling,
    model_dependency,
    run_block,
)
from srgan_sci.normalize import Normalizer

__all__ = [
    "DIHEDRAL",
    "dihedral",
    "inverse_dihedral",
    "upscale_lazy_tta",
    "upscale_plane_numpy_tta",
]

#: The 8 elements of the dihedral group as ``(quarter_turns, flip)``.
DIHEDRAL = tuple((k, flip) for flip in (False, True) for k in range(4))


def dihedral(x: np.ndarray, quarter_turns: int, flip: bool) -> np.ndarray:
    """Flip the last axis (if ``flip``), then rotate the last two axes by quarter turns."""
    if flip:
        x = x[..., ::-1]
    return np.rot90(x, quarter_turns, axes=(-2, -1))


def inverse_dihedral(x: np.ndarray, quarter_turns: int, flip: bool) -> np.ndarray:
    """Undo :func:`dihedral` with the same arguments."""
    x = np.rot90(x, -quarter_turns, axes=(-2, -1))
    return x[..., ::-1] if flip else x


def _tta_haloed(
    model: nn.Module,
    haloed: np.ndarray,
    normalizer: Normalizer | None,
    halo: int,
    device: Any,
    batch: int,
    max_tile_pixels: int | None,
) -> np.ndarray:
    """``(2, ..., s h, s w)``: TTA mean and spread of a haloed block, in input units."""
    planes, missing = _prepare_planes(haloed, normalizer, halo)
    outputs = []
    for quarter_turns, flip in DIHEDRAL:
        x = dihedral(planes, quarter_turns, flip)
        y = run_cropped(model, x, halo, device, batch, max_tile_pixels)
        y = inverse_dihedral(y, quarter_turns, flip)
        outputs.append(y if normalizer is None else normalizer.inverse(y))
    stack = np.stack(outputs).astype(np.float64)
    result = np.stack([stack.mean(axis=0), stack.std(axis=0)]).astype(np.float32)
    result = result.reshape(2, *haloed.shape[:-2], *result.shape[-2:])
    return _mask_missing(result, missing, model.scale)


def upscale_plane_numpy_tta(
    model: nn.Module,
    image: np.ndarray,
    *,
    device: Any = "cpu",
    halo: int | None = None,
    normalizer: Normalizer | None = None,
    max_tile_pixels: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """TTA of a whole plane at once: the untiled reference of :func:`upscale_lazy_tta`.

    Parameters are those of :func:`srgan_sci.infer.tiling.upscale_plane_numpy`.

    Returns
    -------
    mean, spread : numpy.ndarray
        ``(sH, sW)`` float32 in input units; NaN where the source pixel is NaN.
    """
    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 2:
        raise ValueError(f"expected an (H, W) plane, got shape {image.shape}")
    halo = _resolve_halo(model, halo)
    padded = np.pad(image, halo, mode="symmetric")
    mean, spread = _tta_haloed(model, padded, normalizer, halo, device, 1, max_tile_pixels)
    return mean, spread


def upscale_lazy_tta(
    model: nn.Module,
    data: da.Array,
    normalizer: Normalizer | None,
    *,
    halo: int | None = None,
    device: Any = "cpu",
    batch_tiles: int = 4,
    max_tile_pixels: int | str | None = "auto",
) -> tuple[da.Array, da.Array]:
    """Upscale a lazy array with 8-fold dihedral TTA; return the mean and the spread.

    Parameters are those of :func:`srgan_sci.infer.tiling.upscale_lazy`.  The model runs
    8 times per tile.

    Returns
    -------
    mean, spread : dask.array.Array
        ``(..., s*y, s*x)`` float32 in input units: the per-pixel mean and standard
        deviation (``ddof=0``) of the 8 back-transformed, de-normalised outputs; NaN where
        the source pixel is NaN.  Both come from one graph: compute them together
        (``dask.compute(mean, spread)``) to run the model once per tile.
    """
    tiling = _tiling(model, data, halo, device, batch_tiles, max_tile_pixels)
    both = tiling.haloed.map_blocks(
        run_block,
        model_dependency(model),
        normalizer=normalizer,
        haloed=_tta_haloed,
        **tiling.kwargs,
        new_axis=0,
        chunks=((2,), *tiling.out_chunks),
        dtype=np.float32,
        meta=np.empty((0,) * (data.ndim + 1), dtype=np.float32),
        name=f"upscale-tta-{uuid.uuid4().hex}",
    )
    return both[0], both[1]
