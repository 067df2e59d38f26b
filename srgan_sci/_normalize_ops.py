"""Elementwise kernels and input checks shared by the normalisers of :mod:`srgan_sci.normalize`.

Private: the kernels take numpy arrays (computed in float64, returned in the output dtype)
or torch-like tensors (in their own dtype); :func:`apply` maps them over dask chunks.
"""

from __future__ import annotations

from typing import Any

import dask.array as da
import numpy as np

from srgan_sci.errors import NormalizationError


def check_values(values: np.ndarray, data: Any, max_samples: int, method: str) -> None:
    """Raise :class:`NormalizationError` if ``values`` cannot define ``method`` statistics."""
    size = int(np.prod(np.shape(data)))
    if size == 0:
        raise NormalizationError(f"data is empty (shape {np.shape(data)}); nothing to normalise")
    if values.size == 0:
        if size > max_samples:
            raise NormalizationError(
                f"all sampled values are NaN or infinite ({max_samples} of {size} values "
                "sampled); increase max_samples or crop the array to its valid region"
            )
        raise NormalizationError(
            f"all values are NaN or infinite ({size} values); check the input file, HDU or "
            "channel, or mask fewer pixels"
        )
    lowest, highest = values.min(), values.max()
    if lowest == highest:
        raise NormalizationError(
            f"data is constant (value {lowest:g}); {method} normalisation needs a range of "
            "values: check the input, or build the normaliser by hand with chosen statistics"
        )


def output_dtype(dtype: np.dtype) -> np.dtype:
    """float64 stays float64; every other dtype is normalised to float32."""
    return np.dtype(np.float64) if np.dtype(dtype) == np.float64 else np.dtype(np.float32)


def is_tensor(x: Any) -> bool:
    """Return True for torch-like tensors (they carry ``asinh`` and ``sinh`` methods)."""
    return not isinstance(x, np.ndarray | da.Array) and hasattr(x, "asinh") and hasattr(x, "sinh")


def apply(x: Any, kernel: Any, **params: float) -> Any:
    """Apply the numpy ``kernel`` to a numpy or dask array, or directly to a tensor."""
    if isinstance(x, da.Array):
        return x.map_blocks(kernel, dtype=output_dtype(x.dtype), **params)
    if is_tensor(x):
        return kernel(x, **params)
    return kernel(np.asarray(x), **params)


def linear(x: Any, *, offset: float, scale: float) -> Any:
    """``(x - offset) / scale``; in float64 for numpy input, cast back to the output dtype."""
    if is_tensor(x):
        return (x - offset) / scale
    return ((np.asarray(x, dtype=np.float64) - offset) / scale).astype(output_dtype(x.dtype))


def linear_inverse(y: Any, *, offset: float, scale: float) -> Any:
    """``y * scale + offset``; the inverse of :func:`linear`."""
    if is_tensor(y):
        return y * scale + offset
    return (np.asarray(y, dtype=np.float64) * scale + offset).astype(output_dtype(y.dtype))


def asinh(x: Any, *, sky: float, softening: float, asinh_scale: float) -> Any:
    """``asinh((x - sky) / softening) / asinh_scale``."""
    if is_tensor(x):
        return ((x - sky) / softening).asinh() / asinh_scale
    x64 = np.asarray(x, dtype=np.float64)
    return (np.arcsinh((x64 - sky) / softening) / asinh_scale).astype(output_dtype(x.dtype))


def asinh_inverse(y: Any, *, sky: float, softening: float, asinh_scale: float) -> Any:
    """``sky + softening * sinh(y * asinh_scale)``; the inverse of :func:`asinh`."""
    if is_tensor(y):
        return (y * asinh_scale).sinh() * softening + sky
    y64 = np.asarray(y, dtype=np.float64)
    return (np.sinh(y64 * asinh_scale) * softening + sky).astype(output_dtype(y.dtype))


def require(condition: bool, message: str) -> None:
    if not condition:
        raise NormalizationError(message)


def as_float(value: Any, name: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError) as error:
        raise NormalizationError(f"{name} must be a number, got {value!r}") from error
