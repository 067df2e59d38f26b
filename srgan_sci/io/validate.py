"""Checks shared by every reader: shape, dtype and the float32 conversion."""

from __future__ import annotations

import dask.array as da
import numpy as np

from srgan_sci.errors import InvalidImageError

MAX_NDIM = 5


def check_image_shape(shape: tuple[int, ...], dtype: np.dtype, source: str) -> None:
    """Raise :class:`InvalidImageError` unless ``shape``/``dtype`` describe a usable image.

    Parameters
    ----------
    shape : tuple of int
        Array shape; the last two axes are (y, x).
    dtype : numpy.dtype
        Array dtype as stored.
    source : str
        Name used in the message.
    """
    dtype = np.dtype(dtype)
    if len(shape) < 2:
        raise InvalidImageError(
            f"{source}: data is {len(shape)}-D with shape {shape}; "
            "an image needs at least 2 axes (y, x)"
        )
    if len(shape) > MAX_NDIM:
        raise InvalidImageError(
            f"{source}: data is {len(shape)}-D; "
            f"at most {MAX_NDIM} axes (t, c, z, y, x) are supported"
        )
    if any(n == 0 for n in shape):
        raise InvalidImageError(
            f"{source}: data has a zero-size axis, shape {shape}; nothing to read"
        )
    if dtype.kind not in "biuf":
        raise InvalidImageError(
            f"{source}: data type {dtype} is not a real number type; convert it to float32 first"
        )


def as_float32(data: da.Array) -> da.Array:
    """Return ``data`` as float32 with every non-finite value replaced by NaN (lazily)."""
    data = data.astype(np.float32, copy=False)
    return da.where(da.isfinite(data), data, np.float32(np.nan))


def default_axes(ndim: int) -> str:
    """Axis letters for an array of ``ndim`` axes when the file names none: ``...zyx``."""
    return "tczyx"[-ndim:]
