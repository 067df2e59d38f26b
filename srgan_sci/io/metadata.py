"""Metadata that travels with an image from reader to writer."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import dask.array as da

SPATIAL_AXES = "yx"
"""The last two axes of every array are (y, x); leading axes are batches of planes."""


@dataclass(frozen=True)
class PixelSize:
    """Physical size of one pixel along one axis.

    Parameters
    ----------
    value : float
        Size of one pixel in ``unit``.
    unit : str or None
        Unit string as found in the file (``"micrometer"``, ``"um"``, ``"deg"``...).
    """

    value: float
    unit: str | None = None


@dataclass(frozen=True)
class ImageMetadata:
    """Format-independent description of an image plus the format-specific extras.

    Parameters
    ----------
    source : str
        Path (and HDU selector, if any) the image was read from.
    format : str
        One of ``"fits"``, ``"tiff"``, ``"zarr"``.
    axes : str
        One lower-case letter per array axis, ending in ``"yx"`` (e.g. ``"tczyx"``).
    dtype_on_disk : str
        The dtype stored in the file before conversion to float32.
    units : str or None
        Physical unit of pixel values (FITS ``BUNIT``...), if known.
    pixel_sizes : dict
        Axis letter -> :class:`PixelSize` for the axes whose spacing is known.
    fits_header : astropy.io.fits.Header or None
        Full header of the FITS HDU that was read (WCS, BUNIT, provenance...).
    extra : dict
        Anything else a writer needs to reproduce the file (OME XML, NGFF attributes...).
    """

    source: str
    format: str
    axes: str
    dtype_on_disk: str
    units: str | None = None
    pixel_sizes: dict[str, PixelSize] = field(default_factory=dict)
    fits_header: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    def with_updates(self, **changes: Any) -> ImageMetadata:
        """Return a copy with some fields replaced."""
        return replace(self, **changes)


@dataclass(frozen=True)
class LazyImage:
    """A lazy float32 dask array and its metadata.

    Parameters
    ----------
    data : dask.array.Array
        Image data, float32, last two axes (y, x); non-finite and blank pixels are NaN.
    meta : ImageMetadata
        Where the data came from and what it means.
    """

    data: da.Array
    meta: ImageMetadata
