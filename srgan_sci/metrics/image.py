"""Full-reference image-quality metrics for float science images: PSNR, SSIM, NRMSE, MAE.

Shared conventions (also of :mod:`~srgan_sci.metrics.streaming` and
:mod:`~srgan_sci.metrics.torch_metrics`): inputs are 2-D arrays of one shape, computed in
float64; ``data_range`` is always explicit, never guessed from the dtype (meaningless for
float data with negative sky or a high dynamic range), :func:`default_data_range` being
the project's default; ``crop`` removes that many pixels at every border first; a pixel
NaN (or infinite) in ``truth`` or ``pred`` is excluded, and SSIM also excludes every pixel
whose 11x11 window touches one, and (as scikit-image) the border strip of
:data:`WINDOW_RADIUS` pixels.  On NaN-free input the metrics equal scikit-image's
``peak_signal_noise_ratio``, ``normalized_root_mse`` and ``structural_similarity(
gaussian_weights=True, sigma=1.5, use_sample_covariance=False)`` (Wang et al. 2004).
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
from scipy import ndimage

from srgan_sci.errors import SrsciError

# Gaussian SSIM window: sigma and truncation (in sigmas) of scikit-image / Wang et al.
WINDOW_SIGMA, WINDOW_TRUNCATE = 1.5, 3.5
WINDOW_RADIUS = int(WINDOW_TRUNCATE * WINDOW_SIGMA + 0.5)  # 5, as scipy.ndimage computes it
WINDOW_SIZE = 2 * WINDOW_RADIUS + 1
SSIM_K1, SSIM_K2 = 0.01, 0.03
NRMSE_NORMALIZATIONS = ("euclidean", "min-max", "mean")


class MetricError(SrsciError, ValueError):
    """A metric cannot be computed from the given images or arguments."""


def default_data_range(truth: np.ndarray, percentiles: tuple[float, float] = (0.1, 99.9)) -> float:
    """The project's default ``data_range``: a robust spread of the finite truth values.

    The difference of two percentiles is robust to hot pixels and cosmic rays (unlike
    ``max - min``) and correct for negative sky values (unlike a dtype range).

    Parameters
    ----------
    truth : numpy.ndarray
        Reference image, any shape; NaN and inf are ignored.
    percentiles : tuple of float, optional
        Low and high percentiles, ``0 <= low < high <= 100``.

    Returns
    -------
    float
        ``percentile(high) - percentile(low)``; :class:`MetricError` if not > 0, if no
        value is finite or the percentiles are invalid.

    Examples
    --------
    >>> default_data_range(np.arange(1001.0), (0, 100))
    1000.0
    """
    low, high = (float(p) for p in percentiles)
    if not 0 <= low < high <= 100:
        raise MetricError(f"percentiles must satisfy 0 <= low < high <= 100, got {percentiles}")
    values = np.asarray(truth, dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        raise MetricError("truth has no finite value; cannot derive a data range from it")
    lo, hi = np.percentile(values, [low, high])
    if not hi > lo:
        raise MetricError(
            f"the {low:g}th and {high:g}th percentiles of truth are both {lo:g}; pass "
            "data_range explicitly or widen the percentiles"
        )
    return float(hi - lo)


def check_data_range(data_range: Any) -> float:
    """Return ``data_range`` as a float, raising :class:`MetricError` unless finite and > 0."""
    try:
        value = float(data_range)
    except (TypeError, ValueError) as error:
        raise MetricError(f"data_range must be a number, got {data_range!r}") from error
    if not (np.isfinite(value) and value > 0):
        raise MetricError(f"data_range must be finite and > 0, got {data_range!r}")
    return value


def check_shapes(
    truth_shape: tuple[int, ...], pred_shape: tuple[int, ...], crop: int, min_size: int = 1
) -> None:
    """Raise :class:`MetricError` unless both shapes are equal, 2-D and big enough after crop."""
    if len(truth_shape) != 2 or tuple(truth_shape) != tuple(pred_shape):
        raise MetricError(
            f"truth {tuple(truth_shape)} and pred {tuple(pred_shape)} must be 2-D arrays of the "
            "same shape; select one channel or plane first"
        )
    if isinstance(crop, bool) or not isinstance(crop, int | np.integer) or crop < 0:
        raise MetricError(f"crop must be an integer >= 0, got {crop!r}")
    if min(truth_shape) - 2 * crop < min_size:
        raise MetricError(
            f"image {tuple(truth_shape)} cropped by {crop} px per border is smaller than "
            f"{min_size} px; reduce crop or use a larger image"
        )


def crop_border(image: Any, crop: int) -> Any:
    """Remove ``crop`` pixels at every border of a 2-D numpy or dask array."""
    return image[crop : image.shape[0] - crop, crop : image.shape[1] - crop]


def _prepare(
    truth: np.ndarray, pred: np.ndarray, crop: int, min_size: int = 1
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cropped float64 ``truth`` and ``pred`` and their joint finite mask."""
    check_shapes(np.shape(truth), np.shape(pred), crop, min_size)
    t = crop_border(np.asarray(truth, dtype=np.float64), crop)
    p = crop_border(np.asarray(pred, dtype=np.float64), crop)
    valid = np.isfinite(t) & np.isfinite(p)
    if not valid.any():
        raise MetricError("no pixel is finite in both truth and pred (after crop)")
    return t, p, valid


def psnr(truth: np.ndarray, pred: np.ndarray, *, data_range: float, crop: int = 0) -> float:
    """Peak signal-to-noise ratio ``10 log10(data_range**2 / MSE)`` in dB.

    Parameters
    ----------
    truth, pred : numpy.ndarray
        2-D images of the same shape.
    data_range : float
        Intensity range of the data, e.g. :func:`default_data_range` of ``truth``.
    crop : int, optional
        Pixels removed at every border first.

    Returns
    -------
    float
        PSNR over the pixels finite in both images; ``inf`` if they are identical.

    Examples
    --------
    >>> round(psnr(np.zeros((4, 4)), np.full((4, 4), 0.1), data_range=1.0), 6)
    20.0
    """
    data_range = check_data_range(data_range)
    t, p, valid = _prepare(truth, pred, crop)
    mse = np.mean((t[valid] - p[valid]) ** 2)
    return float(10 * np.log10(data_range**2 / mse)) if mse > 0 else float("inf")


def nrmse(
    truth: np.ndarray, pred: np.ndarray, *, normalization: str = "euclidean", crop: int = 0
) -> float:
    """Root-mean-square error normalised by ``truth``: ``RMSE / norm(truth)``.

    Parameters
    ----------
    truth, pred : numpy.ndarray
        2-D images of the same shape.
    normalization : {"euclidean", "min-max", "mean"}, optional
        ``sqrt(mean(truth**2))``, ``max(truth) - min(truth)`` or ``mean(truth)``, over
        the pixels finite in both images.
    crop : int, optional
        Pixels removed at every border first.

    Returns
    -------
    float
        :class:`MetricError` if the norm of ``truth`` is 0.
    """
    norm = normalization.lower()
    if norm not in NRMSE_NORMALIZATIONS:
        raise MetricError(f"unknown normalization {normalization!r}; use {NRMSE_NORMALIZATIONS}")
    t, p, valid = _prepare(truth, pred, crop)
    t, p = t[valid], p[valid]
    if norm == "euclidean":
        denominator = np.sqrt(np.mean(t * t))
    else:
        denominator = t.max() - t.min() if norm == "min-max" else t.mean()
    if denominator == 0:
        raise MetricError(f"the {normalization} norm of truth is 0; use another normalization")
    return float(np.sqrt(np.mean((t - p) ** 2)) / denominator)


def mae(truth: np.ndarray, pred: np.ndarray, *, crop: int = 0) -> float:
    """Mean absolute error over the pixels finite in both 2-D images (after ``crop``)."""
    t, p, valid = _prepare(truth, pred, crop)
    return float(np.mean(np.abs(t[valid] - p[valid])))


def _ssim_map(truth: np.ndarray, pred: np.ndarray, data_range: float) -> np.ndarray:
    """SSIM map without input checks (also the kernel of the dask version)."""
    t, p = (np.asarray(x, dtype=np.float64) for x in (truth, pred))
    invalid = ~(np.isfinite(t) & np.isfinite(p))
    t, p = np.where(invalid, 0.0, t), np.where(invalid, 0.0, p)
    gauss = partial(ndimage.gaussian_filter, sigma=WINDOW_SIGMA, truncate=WINDOW_TRUNCATE)
    mu_t, mu_p = gauss(t), gauss(p)
    var_t, var_p = gauss(t * t) - mu_t * mu_t, gauss(p * p) - mu_p * mu_p
    cov = gauss(t * p) - mu_t * mu_p
    c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
    a1, a2 = 2 * mu_t * mu_p + c1, 2 * cov + c2
    b1, b2 = mu_t**2 + mu_p**2 + c1, var_t + var_p + c2
    ssim = (a1 * a2) / (b1 * b2)
    # A pixel is kept only if its whole window is valid and inside the image.
    excluded = ndimage.maximum_filter(invalid, size=WINDOW_SIZE, mode="constant", cval=False)
    r = WINDOW_RADIUS
    excluded[:r] = excluded[-r:] = True
    excluded[:, :r] = excluded[:, -r:] = True
    ssim[excluded] = np.nan
    return ssim


def ssim_map(truth: np.ndarray, pred: np.ndarray, *, data_range: float) -> np.ndarray:
    """Local structural similarity (Wang et al. 2004) with an 11x11 Gaussian window.

    Parameters
    ----------
    truth, pred : numpy.ndarray
        2-D images of the same shape, at least 11x11.
    data_range : float
        Intensity range of the data; sets ``C1 = (0.01 R)**2`` and ``C2 = (0.03 R)**2``.

    Returns
    -------
    numpy.ndarray
        float64 map of the input's shape.  NaN marks pixels that do not count: the
        border strip of :data:`WINDOW_RADIUS` pixels and every pixel whose window
        touches a pixel non-finite in ``truth`` or ``pred``.  (scikit-image's ``full``
        map holds reflected-border values there instead.)
    """
    data_range = check_data_range(data_range)
    check_shapes(np.shape(truth), np.shape(pred), 0, WINDOW_SIZE)
    return _ssim_map(truth, pred, data_range)


def ssim(truth: np.ndarray, pred: np.ndarray, *, data_range: float, crop: int = 0) -> float:
    """Mean structural similarity: the mean of the finite values of :func:`ssim_map`.

    Parameters
    ----------
    truth, pred : numpy.ndarray
        2-D images of the same shape, at least 11x11 after ``crop``.
    data_range : float
        Intensity range of the data, e.g. :func:`default_data_range` of ``truth``.
    crop : int, optional
        Pixels removed at every border first (then the SSIM border strip is excluded).

    Returns
    -------
    float
        Mean SSIM, 1 for identical images.
    """
    data_range = check_data_range(data_range)
    t, p, _ = _prepare(truth, pred, crop, WINDOW_SIZE)
    local = _ssim_map(t, p, data_range)
    kept = ~np.isnan(local)
    if not kept.any():
        raise MetricError("no pixel has an 11x11 SSIM window free of NaN; mask fewer pixels")
    return float(local[kept].mean())


def metrics_table(
    truth: np.ndarray, pred: np.ndarray, *, data_range: float, crop: int = 0
) -> dict[str, float]:
    """PSNR, SSIM, NRMSE (euclidean) and MAE of ``pred`` against ``truth``.

    Returns a dict with keys ``"psnr"``, ``"ssim"``, ``"nrmse"``, ``"mae"``; see the
    single metrics for the arguments.
    """
    return {
        "psnr": psnr(truth, pred, data_range=data_range, crop=crop),
        "ssim": ssim(truth, pred, data_range=data_range, crop=crop),
        "nrmse": nrmse(truth, pred, crop=crop),
        "mae": mae(truth, pred, crop=crop),
    }
