"""Sub-tiling of one haloed block so that each model call fits in device memory.

A block arrives with ``halo`` pixels of context on every side.  Its interior is cut into
square cores of ``core = isqrt(max_tile_pixels) - 2 * halo`` pixels; each core is run with
``halo`` pixels around it taken from the block (real neighbouring context inside the
block, the block's own halo at its edges), the ``halo * scale`` border of each output is
cropped and the cores are stitched.  The last core along an axis is shifted back so that
all sub-tiles share one shape (they overlap; the overlap is computed twice and agrees).
With ``halo >= model.receptive_field_radius`` the result equals running the block whole
and cropping, up to float32 rounding of different convolution sizes.

On a CUDA out-of-memory error the sub-tile pixel budget is halved and the block retried,
down to a core of :data:`MIN_CORE` pixels (each block retries on its own).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

__all__ = ["ACTIVATION_FACTOR", "MIN_CORE", "choose_tile_pixels", "run_cropped"]

#: Smallest sub-tile core side (input pixels) tried after out-of-memory errors.
MIN_CORE = 8

#: Live float32 feature maps per channel and output pixel assumed by
#: :func:`choose_tile_pixels` (input, residual branches, upsampling stages, workspace).
ACTIVATION_FACTOR = 8


def choose_tile_pixels(model: nn.Module, device: Any, *, fraction: float = 0.5) -> int | None:
    """Input pixels per forward pass that should fit in the free memory of ``device``.

    The estimate is conservative: ``channels * 4 bytes * scale**2 * ACTIVATION_FACTOR``
    bytes per input pixel (``channels`` is ``model.channels``, 64 if absent), applied to
    ``fraction`` of the free memory reported by :func:`torch.cuda.mem_get_info`.

    Parameters
    ----------
    model : torch.nn.Module
        Has ``scale``; ``channels`` (feature width) if known.
    device : str or torch.device
        Where the model will run.
    fraction : float, optional
        Share of the currently free device memory to plan for.

    Returns
    -------
    int or None
        The pixel budget on CUDA; ``None`` (no sub-tiling) on other devices, where the
        block size set by the dask chunks already bounds memory.
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction!r}")
    device = torch.device(device)
    if device.type != "cuda":
        return None
    free, _total = torch.cuda.mem_get_info(device)
    channels = int(getattr(model, "channels", 64))
    bytes_per_pixel = channels * 4 * int(model.scale) ** 2 * ACTIVATION_FACTOR
    return max(int(fraction * free) // bytes_per_pixel, 1)


def _starts(size: int, core: int) -> list[int]:
    """Start offsets of cores of length ``core`` covering ``size`` (last one shifted back)."""
    if size <= core:
        return [0]
    starts = list(range(0, size - core, core))
    return [*starts, size - core]


def _forward(model: nn.Module, planes: np.ndarray, device: Any, batch: int) -> np.ndarray:
    """Run ``model`` on ``(N, H, W)`` float32 planes in batches; return ``(N, sH, sW)``."""
    outputs = []
    with torch.no_grad():
        for start in range(0, len(planes), batch):
            x = torch.from_numpy(np.ascontiguousarray(planes[start : start + batch]))
            y = model(x[:, None].to(device=device, dtype=torch.float32))
            outputs.append(y[:, 0].float().cpu().numpy())
    return np.concatenate(outputs)


def _run_subtiled(
    model: nn.Module, planes: np.ndarray, halo: int, device: Any, batch: int, core: int
) -> np.ndarray:
    """Run square sub-tiles with interior side ``core``; return the cropped stitched output."""
    n, height, width = planes.shape
    inner_h, inner_w = height - 2 * halo, width - 2 * halo
    core_h, core_w = min(core, inner_h), min(core, inner_w)
    s = int(model.scale)
    origins = [(y, x) for y in _starts(inner_h, core_h) for x in _starts(inner_w, core_w)]
    tiles = np.stack(
        [planes[:, y : y + core_h + 2 * halo, x : x + core_w + 2 * halo] for y, x in origins],
        axis=1,
    ).reshape(-1, core_h + 2 * halo, core_w + 2 * halo)
    out = _forward(model, tiles, device, batch)
    out = out[:, halo * s : out.shape[1] - halo * s, halo * s : out.shape[2] - halo * s]
    out = out.reshape(n, len(origins), core_h * s, core_w * s)
    result = np.empty((n, inner_h * s, inner_w * s), dtype=np.float32)
    for i, (y, x) in enumerate(origins):
        result[:, y * s : (y + core_h) * s, x * s : (x + core_w) * s] = out[:, i]
    return result


def run_cropped(
    model: nn.Module,
    planes: np.ndarray,
    halo: int,
    device: Any,
    batch: int,
    max_tile_pixels: int | None = None,
) -> np.ndarray:
    """Upscale haloed ``(N, H, W)`` planes and crop the halo: ``(N, s(H-2h), s(W-2h))``.

    Parameters
    ----------
    model : torch.nn.Module
        Maps ``(N, 1, H, W)`` to ``(N, 1, sH, sW)``; has ``scale``.
    planes : numpy.ndarray
        ``(N, H, W)`` float32 planes carrying ``halo`` pixels of context on each side.
    halo : int
        Context pixels on each side; each sub-tile carries as many.
    device : str or torch.device
        Where the model runs.
    batch : int
        Sub-tiles per forward pass.
    max_tile_pixels : int, optional
        Input pixels per sub-tile (halo included, batch excluded).  ``None``: run each
        plane whole unless the device runs out of memory.

    Returns
    -------
    numpy.ndarray
        float32 output with the ``halo * scale`` border removed.

    Raises
    ------
    ValueError
        If ``max_tile_pixels`` leaves no room for a core beside the halo.
    RuntimeError
        If the device runs out of memory even with cores of :data:`MIN_CORE` pixels.
    """
    model.eval().to(device)
    _, height, width = planes.shape
    inner = max(height, width) - 2 * halo
    if max_tile_pixels is None:
        core = inner
    else:
        core = math.isqrt(max_tile_pixels) - 2 * halo
        if core < 1:
            raise ValueError(
                f"max_tile_pixels={max_tile_pixels} leaves no room for a core inside a "
                f"halo of {halo}; use at least {(2 * halo + 1) ** 2}"
            )
    while True:
        try:
            return _run_subtiled(model, planes, halo, device, batch, min(core, inner))
        except torch.cuda.OutOfMemoryError as error:
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            core = min(core, inner)
            side = core + 2 * halo
            smaller = max(math.isqrt(side * side // 2) - 2 * halo, MIN_CORE)
            if smaller >= core:
                raise RuntimeError(
                    f"out of device memory even with {side}x{side}-pixel sub-tiles "
                    f"(batch {batch}); use a smaller batch, a smaller model or another device"
                ) from error
            core = smaller
