"""Write an image as the float32 primary HDU of a new FITS file (:func:`write_fits`)."""

from __future__ import annotations

import re
from pathlib import Path

import dask.array as da
import numpy as np
from astropy.io import fits

from srgan_sci.io.metadata import ImageMetadata
from srgan_sci.io.validate import check_image_shape

__all__ = ["write_fits"]

_STRUCTURAL_KEYWORDS = frozenset(
    {"SIMPLE", "BITPIX", "NAXIS", "EXTEND", "XTENSION", "PCOUNT", "GCOUNT"}
    | {"BSCALE", "BZERO", "BLANK", "INHERIT", "DATASUM", "CHECKSUM"}
)
_NAXIS_N = re.compile(r"^NAXIS\d+$")


def write_fits(path: Path, data: da.Array, meta: ImageMetadata) -> None:
    """Write ``data`` as the float32 primary HDU of a new FITS file.

    The data is computed into memory.  The header is ``meta.fits_header`` without the
    keywords astropy sets from the data (``SIMPLE``, ``BITPIX``, ``NAXISn``, ``EXTEND``,
    ``BSCALE``/``BZERO``/``BLANK``...) nor stale checksums; without a header a minimal one
    is written.  ``meta.units``, when set, is written as ``BUNIT``.

    Parameters
    ----------
    path : pathlib.Path
        File to create; any name (the suffix is not looked at).  Must not exist.
    data : dask.array.Array
        Image, last two axes (y, x), at most 5 axes; NaN is written as NaN.
    meta : ImageMetadata
        Metadata describing ``data`` (already updated for any upscale).

    Raises
    ------
    InvalidImageError
        If ``data`` has fewer than 2 or more than 5 axes, or a zero-size axis.
    """
    check_image_shape(tuple(data.shape), np.dtype(np.float32), str(path))
    array = np.asarray(da.asarray(data).astype(np.float32).compute())
    hdu = fits.PrimaryHDU(data=array, header=_output_header(meta))
    hdu.writeto(Path(path), output_verify="silentfix+exception")


def _output_header(meta: ImageMetadata) -> fits.Header:
    """Cards of ``meta.fits_header`` that do not describe the stored data layout."""
    header = fits.Header() if meta.fits_header is None else meta.fits_header.copy()
    for index in reversed(range(len(header))):
        keyword = header.cards[index].keyword
        if keyword in _STRUCTURAL_KEYWORDS or _NAXIS_N.match(keyword):
            del header[index]
    if meta.units:
        header["BUNIT"] = meta.units
    return header
