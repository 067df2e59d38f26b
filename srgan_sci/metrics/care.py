"""CARE-style normalised metrics (Weigert et al. 2018, CSBDeep).

A restoration network may reproduce structure yet return intensities in other units
(an offset or gain).  CARE evaluates it after removing that freedom: the truth is
percentile-normalised (:func:`percentile_normalize`), the prediction is mapped onto it by
the least-squares affine transform (:func:`affine_fit`), and the usual metrics are
computed with ``data_range=1``.  A prediction that is an exact affine transform of the
truth therefore scores perfectly.
"""

from __future__ import annotations

import numpy as np

from srgan_sci.metrics.image import (
    WINDOW_SIZE,
    MetricError,
    _prepare,
    check_shapes,
    crop_border,
    psnr,
    ssim,
)

__all__ = ["affine_fit", "care_metrics", "percentile_normalize"]


def percentile_normalize(x: np.ndarray, pmin: float = 0.1, pmax: float = 99.9) -> np.ndarray:
    """Map the ``pmin`` and ``pmax`` percentiles of the finite values of ``x`` to 0 and 1.

    Parameters
    ----------
    x : numpy.ndarray
        Image of any shape; NaN and inf are ignored by the percentiles and kept.
    pmin, pmax : float, optional
        Percentiles, ``0 <= pmin < pmax <= 100``.  Values outside are not clipped.

    Returns
    -------
    numpy.ndarray
        float64 ``(x - low) / (high - low)``.

    Raises
    ------
    MetricError
        If the percentiles are invalid, ``x`` has no finite value or ``low == high``.

    Examples
    --------
    >>> percentile_normalize(np.array([0.0, 5.0, 10.0, np.nan]), 0, 100)
    array([0. , 0.5, 1. , nan])
    """
    if not 0 <= pmin < pmax <= 100:
        raise MetricError(f"percentiles must satisfy 0 <= pmin < pmax <= 100, got {pmin}, {pmax}")
    x = np.asarray(x, dtype=np.float64)
    finite = x[np.isfinite(x)]
    if finite.size == 0:
        raise MetricError("image has no finite value; cannot normalise it")
    low, high = np.percentile(finite, [pmin, pmax])
    if not high > low:
        raise MetricError(f"the {pmin:g}th and {pmax:g}th percentiles are both {low:g}; widen them")
    return (x - low) / (high - low)


def affine_fit(truth_normalized: np.ndarray, pred: np.ndarray) -> tuple[float, float]:
    """Least-squares ``scale`` and ``offset`` minimising ``||scale*pred + offset - truth||²``.

    Parameters
    ----------
    truth_normalized, pred : numpy.ndarray
        Arrays of the same shape; only pixels finite in both are used.

    Returns
    -------
    scale, offset : float
        ``scale = cov(pred, truth) / var(pred)`` and
        ``offset = mean(truth) - scale * mean(pred)``.  A constant ``pred`` gets
        ``scale = 0`` and ``offset = mean(truth)`` (the least-squares solution).

    Examples
    --------
    >>> affine_fit(np.array([1.0, 3.0, 5.0]), np.array([0.0, 1.0, 2.0]))
    (2.0, 1.0)
    """
    t = np.asarray(truth_normalized, dtype=np.float64)
    p = np.asarray(pred, dtype=np.float64)
    if t.shape != p.shape:
        raise MetricError(f"truth {t.shape} and pred {p.shape} must have the same shape")
    valid = np.isfinite(t) & np.isfinite(p)
    if not valid.any():
        raise MetricError("no pixel is finite in both truth and pred")
    t, p = t[valid], p[valid]
    p_centred = p - p.mean()
    variance = np.mean(p_centred * p_centred)
    scale = float(np.mean(p_centred * (t - t.mean())) / variance) if variance > 0 else 0.0
    return scale, float(t.mean() - scale * p.mean())


def care_metrics(truth: np.ndarray, pred: np.ndarray, *, crop: int = 0) -> dict[str, float]:
    """CARE metrics: normalised truth against the affinely fitted prediction.

    After ``crop``, ``truth`` is normalised with :func:`percentile_normalize` (0.1 and
    99.9 percentiles) and ``pred`` is replaced by ``scale * pred + offset`` from
    :func:`affine_fit`; metrics use ``data_range=1``.

    Parameters
    ----------
    truth, pred : numpy.ndarray
        2-D images of the same shape, at least 11x11 after ``crop``.
    crop : int, optional
        Pixels removed at every border first.

    Returns
    -------
    dict
        ``"care_nrmse"`` (root-mean-square error of the normalised images, i.e. in
        units of the truth's percentile range), ``"care_psnr"``, ``"care_ssim"``,
        ``"care_scale"`` and ``"care_offset"``.
    """
    check_shapes(np.shape(truth), np.shape(pred), crop, WINDOW_SIZE)
    truth_n = percentile_normalize(crop_border(np.asarray(truth), crop))
    pred = crop_border(np.asarray(pred, dtype=np.float64), crop)
    scale, offset = affine_fit(truth_n, pred)
    fitted = scale * pred + offset
    t, p, valid = _prepare(truth_n, fitted, 0)
    return {
        "care_nrmse": float(np.sqrt(np.mean((t[valid] - p[valid]) ** 2))),
        "care_psnr": psnr(truth_n, fitted, data_range=1.0),
        "care_ssim": ssim(truth_n, fitted, data_range=1.0),
        "care_scale": scale,
        "care_offset": offset,
    }
