"""Invertible intensity normalisers whose statistics are computed once per array.

Two normalisers map raw intensities to the range a network trains on and back:

* :class:`PercentileNormalizer` (CARE style, microscopy):
  ``y = (x - low) / (high - low)`` with ``low``/``high`` two percentiles of the data.
* :class:`AsinhNormalizer` (astronomy):
  ``y = asinh((x - sky) / softening) / asinh(scale)``, linear within a few noise sigmas
  of the sky and logarithmic for bright sources.

Statistics are fitted on the *whole* array (or on a deterministic sample of whole chunks
of a large dask array, see :func:`sample_finite_values`), never per tile, so every tile of
an image is normalised identically.  Both normalisers are frozen dataclasses that
round-trip through JSON with :meth:`~PercentileNormalizer.to_dict` and
:func:`normalizer_from_dict`.

``forward`` and ``inverse`` accept numpy arrays, dask arrays (mapped lazily over chunks)
and torch tensors (duck-typed; this module never imports torch).  NaN maps to NaN.  numpy
and dask inputs are computed in float64 and returned as float64 for float64 input and as
float32 for every other dtype; tensors are computed in their own dtype.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar, TypeAlias, TypeVar

import numpy as np
from astropy.stats import sigma_clipped_stats

from srgan_sci import _normalize_ops as ops
from srgan_sci.errors import NormalizationError
from srgan_sci.sampling import DEFAULT_MAX_SAMPLES, sample_finite_values

__all__ = [
    "DEFAULT_MAX_SAMPLES",
    "AsinhNormalizer",
    "Normalizer",
    "PercentileNormalizer",
    "fit_asinh",
    "fit_percentile",
    "normalizer_from_dict",
    "sample_finite_values",
]


ArrayT = TypeVar("ArrayT")
_FLOAT32_EPS = float(np.finfo(np.float32).eps)


# --------------------------------------------------------------------------- normalisers


@dataclass(frozen=True)
class PercentileNormalizer:
    """Linear normaliser ``y = (x - low) / (high - low)``, CARE style.

    ``low`` maps to 0 and ``high`` to 1; values outside are not clipped, so
    :meth:`inverse` is exact.  Build it with :func:`fit_percentile`.

    Parameters
    ----------
    low, high : float
        Intensities mapped to 0 and 1; finite, ``high > low``.
    p_low, p_high : float, optional
        Percentiles ``low`` and ``high`` were taken at (kept as a record).

    Examples
    --------
    >>> import numpy as np
    >>> norm = PercentileNormalizer(low=10.0, high=20.0)
    >>> norm.forward(np.array([10.0, 15.0, np.nan]))
    array([0. , 0.5, nan])
    >>> norm.inverse(norm.forward(np.array([12.0])))
    array([12.])
    """

    kind: ClassVar[str] = "percentile"

    low: float
    high: float
    p_low: float = 1.0
    p_high: float = 99.8

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            object.__setattr__(
                self, field.name, ops.as_float(getattr(self, field.name), field.name)
            )
        ops.require(
            np.isfinite(self.low) and np.isfinite(self.high),
            f"low and high must be finite, got low={self.low}, high={self.high}",
        )
        ops.require(
            self.high > self.low,
            f"high ({self.high:g}) must be greater than low ({self.low:g}); "
            "percentile normalisation needs a range",
        )

    def forward(self, x: ArrayT) -> ArrayT:
        """Normalise ``x``: ``(x - low) / (high - low)``.

        Parameters
        ----------
        x : numpy.ndarray, dask.array.Array or torch.Tensor
            Raw intensities.

        Returns
        -------
        Same type as ``x``
            Normalised values; NaN stays NaN.
        """
        return ops.apply(x, ops.linear, offset=self.low, scale=self.high - self.low)

    def inverse(self, y: ArrayT) -> ArrayT:
        """Undo :meth:`forward`: ``y * (high - low) + low``.

        Parameters
        ----------
        y : numpy.ndarray, dask.array.Array or torch.Tensor
            Normalised values.

        Returns
        -------
        Same type as ``y``
            Intensities in the units of the fitted data; NaN stays NaN.
        """
        return ops.apply(y, ops.linear_inverse, offset=self.low, scale=self.high - self.low)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict; :func:`normalizer_from_dict` restores it."""
        return {"kind": self.kind, **dataclasses.asdict(self)}


@dataclass(frozen=True)
class AsinhNormalizer:
    """Asinh stretch for astronomy: ``y = asinh((x - sky) / softening) / asinh(scale)``.

    The sky maps to 0 and ``sky + scale * softening`` (the bright reference, by default
    the 99.9th percentile) maps to 1.  Within about ``softening`` of the sky the map is
    linear, so the noise keeps its Gaussian shape; far above it the map is logarithmic, so
    bright sources are compressed.  Negative residuals are mapped symmetrically.  The
    inverse, ``x = sky + softening * sinh(y * asinh(scale))``, is exact.  Build it with
    :func:`fit_asinh`.

    Parameters
    ----------
    sky : float
        Background level (sigma-clipped median), mapped to 0.
    noise : float
        Background noise (sigma-clipped standard deviation); kept as a record, the map
        uses ``softening``.
    softening : float
        Width of the linear core in intensity units, ``softening_sigmas * noise``; > 0.
    scale : float
        Bright reference level in units of ``softening`` above the sky; > 0.

    Examples
    --------
    >>> import numpy as np
    >>> norm = AsinhNormalizer(sky=100.0, noise=2.0, softening=6.0, scale=1000.0)
    >>> y = norm.forward(np.array([100.0, 6100.0]))
    >>> y.round(6)
    array([0., 1.])
    >>> norm.inverse(y).round(3)
    array([ 100., 6100.])
    """

    kind: ClassVar[str] = "asinh"

    sky: float
    noise: float
    softening: float
    scale: float

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            object.__setattr__(
                self, field.name, ops.as_float(getattr(self, field.name), field.name)
            )
        ops.require(bool(np.isfinite(self.sky)), f"sky must be finite, got {self.sky}")
        for name in ("noise", "softening", "scale"):
            value = getattr(self, name)
            ops.require(
                bool(np.isfinite(value)) and value > 0,
                f"{name} must be a finite number > 0, got {value}",
            )

    def _params(self) -> dict[str, float]:
        return {
            "sky": self.sky,
            "softening": self.softening,
            "asinh_scale": float(np.arcsinh(self.scale)),
        }

    def forward(self, x: ArrayT) -> ArrayT:
        """Normalise ``x``: ``asinh((x - sky) / softening) / asinh(scale)``.

        Parameters
        ----------
        x : numpy.ndarray, dask.array.Array or torch.Tensor
            Raw intensities.

        Returns
        -------
        Same type as ``x``
            Stretched values; NaN stays NaN.
        """
        return ops.apply(x, ops.asinh, **self._params())

    def inverse(self, y: ArrayT) -> ArrayT:
        """Undo :meth:`forward`: ``sky + softening * sinh(y * asinh(scale))``.

        Parameters
        ----------
        y : numpy.ndarray, dask.array.Array or torch.Tensor
            Stretched values.

        Returns
        -------
        Same type as ``y``
            Intensities in the units of the fitted data; NaN stays NaN.
        """
        return ops.apply(y, ops.asinh_inverse, **self._params())

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict; :func:`normalizer_from_dict` restores it."""
        return {"kind": self.kind, **dataclasses.asdict(self)}


Normalizer: TypeAlias = PercentileNormalizer | AsinhNormalizer

_KINDS: dict[str, type[PercentileNormalizer] | type[AsinhNormalizer]] = {
    PercentileNormalizer.kind: PercentileNormalizer,
    AsinhNormalizer.kind: AsinhNormalizer,
}


def normalizer_from_dict(d: dict[str, Any]) -> Normalizer:
    """Rebuild a normaliser from the output of its ``to_dict``.

    Parameters
    ----------
    d : dict
        ``{"kind": "percentile" | "asinh", <statistics>...}``, e.g. read back from JSON.

    Returns
    -------
    PercentileNormalizer or AsinhNormalizer
        The normaliser ``d`` describes.

    Raises
    ------
    NormalizationError
        If the kind is unknown or a statistic is missing, extra or invalid.

    Examples
    --------
    >>> normalizer_from_dict({"kind": "percentile", "low": 0.0, "high": 2.0})
    PercentileNormalizer(low=0.0, high=2.0, p_low=1.0, p_high=99.8)
    """
    if not isinstance(d, dict) or "kind" not in d:
        raise NormalizationError(
            f"normaliser description must be a dict with a 'kind' key, got {d!r}"
        )
    kind = d["kind"]
    if kind not in _KINDS:
        expected = ", ".join(repr(k) for k in sorted(_KINDS))
        raise NormalizationError(f"unknown normaliser kind {kind!r}; expected one of {expected}")
    cls = _KINDS[kind]
    fields = {field.name: field for field in dataclasses.fields(cls)}
    params = {key: value for key, value in d.items() if key != "kind"}
    unknown = sorted(set(params) - set(fields))
    missing = sorted(
        name
        for name, field in fields.items()
        if name not in params and field.default is dataclasses.MISSING
    )
    if unknown or missing:
        raise NormalizationError(
            f"{kind} normaliser description has unknown keys {unknown} and missing keys "
            f"{missing}; expected keys {sorted(fields)}"
        )
    return cls(**params)


# --------------------------------------------------------------------------- fitting


def fit_percentile(
    data: Any,
    p_low: float = 1.0,
    p_high: float = 99.8,
    *,
    max_samples: int = DEFAULT_MAX_SAMPLES,
    seed: int = 0,
) -> PercentileNormalizer:
    """Fit a :class:`PercentileNormalizer` to the finite values of ``data``.

    Parameters
    ----------
    data : numpy.ndarray or dask.array.Array
        The whole image (not a tile); NaN and inf are ignored.
    p_low, p_high : float, optional
        Percentiles (0-100) mapped to 0 and 1.
    max_samples : int, optional
        Above this many elements the percentiles are estimated from a deterministic
        sample, see :func:`sample_finite_values`.
    seed : int, optional
        Seed of the sample.

    Returns
    -------
    PercentileNormalizer
        With ``low``/``high`` the ``p_low``/``p_high`` percentiles.

    Raises
    ------
    NormalizationError
        If the percentiles are out of order, the data has no finite value, is constant,
        the two percentiles coincide, or their range is below float32 resolution of the
        full data range (outliers would normalise to meaningless huge values).

    Examples
    --------
    >>> import numpy as np
    >>> fit_percentile(np.arange(101.0), 0, 100)
    PercentileNormalizer(low=0.0, high=100.0, p_low=0.0, p_high=100.0)
    """
    if not 0 <= p_low < p_high <= 100:
        raise NormalizationError(
            f"percentiles must satisfy 0 <= p_low < p_high <= 100, got p_low={p_low}, "
            f"p_high={p_high}"
        )
    values = sample_finite_values(data, max_samples, seed)
    ops.check_values(values, data, max_samples, "percentile")
    low, high = (float(v) for v in np.percentile(values, [p_low, p_high]))
    if not high > low:
        raise NormalizationError(
            f"the {p_low:g}th and {p_high:g}th percentiles are both {low:g} (most values are "
            "equal); widen the percentiles, e.g. p_low=0, p_high=100"
        )
    full_range = float(values.max() - values.min())
    if high - low < _FLOAT32_EPS * full_range:
        raise NormalizationError(
            f"the {p_low:g}th-{p_high:g}th percentile range ({high - low:g}) is below float32 "
            f"resolution of the full data range ({full_range:g}), so outliers would normalise "
            "to huge values; widen the percentiles or clip the outliers first"
        )
    return PercentileNormalizer(low=low, high=high, p_low=p_low, p_high=p_high)


def fit_asinh(
    data: Any,
    *,
    softening_sigmas: float = 3.0,
    p_high: float = 99.9,
    max_samples: int = DEFAULT_MAX_SAMPLES,
    seed: int = 0,
) -> AsinhNormalizer:
    """Fit an :class:`AsinhNormalizer` to the finite values of ``data``.

    ``sky`` and ``noise`` are the median and standard deviation from
    :func:`astropy.stats.sigma_clipped_stats` (``sigma=3``, ``maxiters=5``);
    ``softening = softening_sigmas * noise``; ``scale = (high - sky) / softening`` with
    ``high`` the ``p_high`` percentile, so ``high`` maps to 1.

    Parameters
    ----------
    data : numpy.ndarray or dask.array.Array
        The whole image (not a tile); NaN and inf are ignored.
    softening_sigmas : float, optional
        Width of the linear core of the stretch, in noise sigmas.
    p_high : float, optional
        Percentile (0-100) of the bright reference mapped to 1.
    max_samples : int, optional
        Above this many elements the statistics are estimated from a deterministic
        sample, see :func:`sample_finite_values`.
    seed : int, optional
        Seed of the sample.

    Returns
    -------
    AsinhNormalizer

    Raises
    ------
    NormalizationError
        If the data has no finite value, is constant, has zero clipped noise, or its
        ``p_high`` percentile is not above the sky by at least float32 resolution of the
        softening (``scale < 1.2e-7``).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> image = rng.normal(100.0, 2.0, (64, 64))
    >>> image[30:34, 30:34] += 5000.0
    >>> norm = fit_asinh(image)
    >>> round(norm.sky), round(norm.noise)
    (100, 2)
    """
    if not softening_sigmas > 0:
        raise NormalizationError(f"softening_sigmas must be > 0, got {softening_sigmas}")
    if not 0 < p_high <= 100:
        raise NormalizationError(f"p_high must be in (0, 100], got {p_high}")
    values = sample_finite_values(data, max_samples, seed)
    ops.check_values(values, data, max_samples, "asinh")
    _, sky, noise = (float(v) for v in sigma_clipped_stats(values, sigma=3.0, maxiters=5))
    if not noise > 0:
        raise NormalizationError(
            f"the sigma-clipped noise is 0 (most values equal the sky, {sky:g}); asinh "
            "normalisation needs a noisy background: use fit_percentile instead"
        )
    softening = softening_sigmas * noise
    high = float(np.percentile(values, p_high))
    scale = (high - sky) / softening
    if not scale >= _FLOAT32_EPS:
        raise NormalizationError(
            f"the {p_high:g}th percentile ({high:g}) is not above the sky ({sky:g}) by a "
            f"resolvable fraction of the softening ({softening:g}); the data has (almost) no "
            "values above the background: raise p_high or use fit_percentile instead"
        )
    return AsinhNormalizer(sky=sky, noise=noise, softening=softening, scale=scale)
