"""Out-of-core image metrics for dask arrays, equal to the in-memory ones.

:func:`lazy_image_metrics` reduces each pair of chunks to float64 sums (valid pixel
count, squared and absolute error, ``truth**2``, SSIM sum and count) and combines them,
so images larger than memory are evaluated chunk by chunk in a single
:func:`dask.compute`.  SSIM maps the in-memory SSIM kernel over chunks with
:func:`dask.array.map_overlap` and a halo of :data:`~srgan_sci.metrics.image.WINDOW_RADIUS`
pixels, without padding at the image border (``boundary="none"``): a chunk's border
strip is then either halo (trimmed) or the image border (excluded, as in memory), so the
result does not depend on the chunking.
"""

from __future__ import annotations

import itertools

import dask
import dask.array as da
import numpy as np

from srgan_sci.metrics.image import (
    WINDOW_RADIUS,
    WINDOW_SIZE,
    MetricError,
    _ssim_map,
    check_data_range,
    check_shapes,
    crop_border,
)

__all__ = ["lazy_image_metrics", "lazy_ssim_map"]


def lazy_ssim_map(truth: da.Array, pred: da.Array, *, data_range: float) -> da.Array:
    """Lazy :func:`~srgan_sci.metrics.image.ssim_map` of two 2-D dask arrays.

    Parameters
    ----------
    truth, pred : dask.array.Array
        2-D arrays of the same shape, at least 11x11; ``pred`` is rechunked like
        ``truth``.
    data_range : float
        Intensity range of the data.

    Returns
    -------
    dask.array.Array
        float64 SSIM map, chunked like ``truth`` (dask merges chunks smaller than the
        5-pixel halo); NaN where a pixel does not count.
    """
    data_range = check_data_range(data_range)
    check_shapes(truth.shape, pred.shape, 0, WINDOW_SIZE)
    return da.map_overlap(
        _ssim_map,
        truth,
        pred.rechunk(truth.chunks),
        depth=WINDOW_RADIUS,
        boundary="none",
        dtype=np.float64,
        data_range=data_range,
    )


BAND_PIXELS = 2**23
"""Pixels per band of rows in :func:`lazy_image_metrics` (bounds memory on huge images)."""


def lazy_image_metrics(
    truth: da.Array,
    pred: da.Array,
    *,
    data_range: float,
    crop: int = 0,
    band_pixels: int = BAND_PIXELS,
) -> dict[str, float]:
    """PSNR, SSIM, NRMSE (euclidean) and MAE of two dask arrays, computed chunk-wise.

    Gives :func:`~srgan_sci.metrics.image.metrics_table` of the computed arrays (to
    rounding).  The image is processed in bands of rows of about ``band_pixels`` pixels,
    each read with a 5-row halo so that SSIM windows across band edges are exact; sums
    are accumulated over bands, so memory is bounded by a band whatever the image size.

    Parameters
    ----------
    truth, pred : dask.array.Array
        2-D arrays of the same shape (numpy arrays are wrapped); any chunking.
    data_range : float
        Intensity range of the data, e.g. from
        :func:`~srgan_sci.metrics.image.default_data_range` of (a sample of) ``truth``.
    crop : int, optional
        Pixels removed at every border first.
    band_pixels : int, optional
        Approximate pixels per band of rows.

    Returns
    -------
    dict
        Keys ``"psnr"``, ``"ssim"``, ``"nrmse"``, ``"mae"``.

    Raises
    ------
    MetricError
        For mismatched shapes, an invalid ``data_range`` or ``crop``, or when no pixel
        (no SSIM window) is free of NaN.

    Examples
    --------
    >>> import dask.array as da
    >>> truth = da.from_array(np.arange(400.0).reshape(20, 20), chunks=7)
    >>> lazy_image_metrics(truth, truth + 1, data_range=400.0)["mae"]
    1.0
    """
    data_range = check_data_range(data_range)
    truth, pred = da.asarray(truth), da.asarray(pred)
    check_shapes(truth.shape, pred.shape, crop, WINDOW_SIZE)
    t = crop_border(truth, crop).astype(np.float64)
    p = crop_border(pred, crop).astype(np.float64).rechunk(t.chunks)
    height, width = t.shape
    rows = max(4 * WINDOW_SIZE, band_pixels // max(width, 1))
    edges = np.linspace(0, height, max(1, round(height / rows)) + 1).astype(int)
    totals = np.zeros(6)
    for start, stop in itertools.pairwise(edges):
        totals += _band_sums(t, p, int(start), int(stop), data_range)
    count, squared, absolute, truth_squared, ssim_sum, ssim_count = totals
    if count == 0:
        raise MetricError("no pixel is finite in both truth and pred (after crop)")
    if ssim_count == 0:
        raise MetricError("no pixel has an 11x11 SSIM window free of NaN; mask fewer pixels")
    if truth_squared == 0:
        raise MetricError("the euclidean norm of truth is 0; NRMSE is undefined")
    mse = squared / count
    return {
        "psnr": float(10 * np.log10(data_range**2 / mse)) if mse > 0 else float("inf"),
        "ssim": float(ssim_sum / ssim_count),
        "nrmse": float(np.sqrt(mse) / np.sqrt(truth_squared / count)),
        "mae": float(absolute / count),
    }


def _band_sums(t: da.Array, p: da.Array, start: int, stop: int, data_range: float) -> np.ndarray:
    """The six sums of rows ``[start, stop)``; SSIM from the rows with a 5-row halo.

    The SSIM map of the haloed band is NaN within 5 rows of the band's edges, i.e. on
    the halo rows (or on the image's own border rows), so the interior rows' values
    equal those of the whole image's map.
    """
    low, high = max(start - WINDOW_RADIUS, 0), min(stop + WINDOW_RADIUS, t.shape[0])
    inner = slice(start - low, stop - low)
    local_ssim = lazy_ssim_map(t[low:high], p[low:high], data_range=data_range)[inner]
    tb, pb = t[start:stop], p[start:stop]
    valid = da.isfinite(tb) & da.isfinite(pb)
    diff = da.where(valid, tb - pb, 0.0)
    sums = (
        da.sum(valid, dtype=np.int64),
        da.sum(diff * diff),
        da.sum(da.fabs(diff)),
        da.sum(da.where(valid, tb * tb, 0.0)),
        da.nansum(local_ssim),
        da.sum(~da.isnan(local_ssim), dtype=np.int64),
    )
    return np.array(dask.compute(*sums), dtype=np.float64)
