"""FITS images: lazy memory-mapped reading, writing, and headers for an upscaled grid.

Reading never loads pixels.  Headers are parsed with :mod:`astropy.io.fits`; the data of
an uncompressed image HDU is then read chunk by chunk straight from a memory map of the
file, with ``BSCALE``/``BZERO``/``BLANK`` applied per chunk, so a file of any size opens
in milliseconds and only the chunks a computation touches are ever read.  Each chunk
maps the file anew, so the dask graph holds a path and an offset, not an open file, and
pickles cheaply to distributed workers.

Tile-compressed images (``.fits.fz``) are read tile by tile through astropy's
``section``; files compressed as a whole (``.fits.gz``) cannot be read in pieces and are
decompressed in one task the first time any chunk is computed.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
from astropy.io import fits
from astropy.io.fits.verify import VerifyError
from astropy.wcs import WCS
from astropy.wcs.utils import proj_plane_pixel_scales
from dask.base import tokenize

from srgan_sci.errors import CorruptFileError, InputNotFoundError, InvalidImageError
from srgan_sci.io.fits_blocks import (
    DISK_DTYPES,
    CompressedImage,
    MappedImage,
    StreamedImage,
    header_scaling,
    physical_dtype,
)
from srgan_sci.io.fits_header import SPATIAL_FITS_AXES, upscale_header
from srgan_sci.io.fits_write import write_fits
from srgan_sci.io.metadata import ImageMetadata, LazyImage, PixelSize
from srgan_sci.io.validate import as_float32, check_image_shape, default_axes

__all__ = ["read_fits", "upscale_header", "write_fits"]

DEFAULT_CHUNK = 1024
"""Chunk length of the y and x axes when the caller gives none."""
FITS_BLOCK = 2880
"""FITS files are made of 2880-byte blocks."""

_TRUNCATION_HINT = "truncated"
_CORRUPTION_HINT = "corrupt"


@dataclass(frozen=True)
class _HduInfo:
    """What the HDU list says about one HDU, read from its header only."""

    index: int
    name: str
    ver: int
    kind: str  # "image", "compressed", "binary table", "ASCII table", "random groups"...
    shape: tuple[int, ...]

    def describe(self) -> str:
        """Short description for error messages: ``1 SCI,1: image (64, 80)``."""
        if self.kind in ("image", "compressed"):
            what = f"image {self.shape}" if self.shape else "no data"
        else:
            what = self.kind
        label = self.name if self.index == 0 else f"{self.name or '(no EXTNAME)'},{self.ver}"
        return f"{self.index} {label}: {what}"


# --------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------


def read_fits(
    path: Path, *, hdu: str | None = None, chunks: int | tuple[int, ...] | None = None
) -> LazyImage:
    """Open one image HDU of a FITS file as a lazy float32 dask array.

    Parameters
    ----------
    path : pathlib.Path
        FITS file (plain, tile-compressed ``.fits.fz``, or whole-file ``.gz``/``.bz2``).
    hdu : str or None
        HDU to read: an index (``"2"``), an ``EXTNAME`` (``"SCI"``, case-insensitive) or
        ``EXTNAME,EXTVER`` (``"SCI,2"``).  ``None`` picks the first HDU holding image data.
    chunks : int or tuple of int or None
        Chunk length of the y and x axes (an int applies to both), or the full chunk
        shape as a tuple of one int per axis.  Leading axes get chunk 1.  Default 1024.

    Returns
    -------
    LazyImage
        float32 data, NaN where the file has BLANK or non-finite values; nothing is read
        until the array is computed.  ``meta.fits_header`` is a copy of the HDU header.

    Raises
    ------
    InputNotFoundError
        If the file, or the HDU named by ``hdu``, does not exist.
    InvalidImageError
        If the HDU is a table, holds no image, or has an unusable shape or type.
    CorruptFileError
        If the file is not FITS, or is shorter than its headers say (truncated).

    Examples
    --------
    >>> image = read_fits(Path("j94f05bgq_flt.fits"), hdu="SCI,1")  # doctest: +SKIP
    >>> image.data.chunksize, image.meta.pixel_sizes["x"]  # doctest: +SKIP
    ((1024, 1024), PixelSize(value=1.3927e-05, unit='deg'))
    """
    path = Path(path)
    if not path.is_file():
        raise InputNotFoundError(f"{path}: no such file; check the path")
    source = str(path) if hdu is None else f"{path}[{hdu}]"
    with _open_hdu_list(path) as (hdul, problems):
        infos = [_hdu_info(index, item) for index, item in enumerate(hdul)]
        try:
            index = _select_hdu(infos, hdu, path)
        except (InputNotFoundError, InvalidImageError) as exc:
            if problems:  # the HDU may be missing because the file is damaged
                raise CorruptFileError(f"{path}: {problems[0]}; {exc}") from exc
            raise
        selected = hdul[index]
        info = infos[index]
        header = selected.header.copy()
        offset = selected.fileinfo()["datLoc"]
    bitpix = int(header["BITPIX"])
    disk_dtype = np.dtype(DISK_DTYPES.get(bitpix, "V1"))
    check_image_shape(info.shape, disk_dtype, source)
    scaling = header_scaling(header)
    if info.kind == "image" and _is_plain_fits(path):
        array_like = MappedImage(str(path), offset, info.shape, disk_dtype.str, scaling)
        data = _lazy_array(array_like, path, index, _chunk_shape(info.shape, chunks))
    elif info.kind == "compressed":
        array_like = CompressedImage(str(path), index, info.shape)
        data = _lazy_array(array_like, path, index, _chunk_shape(info.shape, chunks))
    else:  # a whole-file compressed stream: one task reads it all
        array_like = StreamedImage(str(path), index, info.shape, scaling)
        data = _lazy_array(array_like, path, index, info.shape)
        data = data.rechunk(_chunk_shape(info.shape, chunks))
    meta = ImageMetadata(
        source=source,
        format="fits",
        axes=default_axes(len(info.shape)),
        dtype_on_disk=str(physical_dtype(bitpix, scaling)),
        units=_header_units(header),
        pixel_sizes=_celestial_pixel_sizes(header),
        fits_header=header,
        extra={"hdu_index": index, "extname": info.name},
    )
    return LazyImage(data=as_float32(data), meta=meta)


@contextmanager
def _open_hdu_list(path: Path) -> Iterator[tuple[fits.HDUList, list[str]]]:
    """Open ``path`` read-only with every header parsed and no data read.

    Yields the HDU list and astropy's complaints about the file structure (extra bytes,
    bad header sizes) that do not by themselves stop the file from being read.
    Unreadable and truncated files raise :class:`CorruptFileError`.
    """
    plain = _is_plain_fits(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            hdul = fits.open(path, mode="readonly", memmap=True, do_not_scale_image_data=True)
        except (PermissionError, IsADirectoryError):
            raise
        except (OSError, ValueError, EOFError, VerifyError) as exc:
            raise CorruptFileError(
                f"{path}: not a readable FITS file ({_one_line(exc)}); "
                "check that it is a complete FITS file"
            ) from exc
        try:
            hdul.readall()
            if plain:  # sizes are comparable only when the file is not compressed as a whole
                _check_complete(path, hdul)
        except (OSError, ValueError, EOFError, VerifyError) as exc:
            hdul.close()
            if isinstance(exc, CorruptFileError):
                raise
            raise CorruptFileError(
                f"{path}: damaged FITS file ({_one_line(exc)}); re-download or re-create it"
            ) from exc
    messages = [_one_line(item.message) for item in caught]
    truncated = [text for text in messages if _TRUNCATION_HINT in text.lower()]
    if truncated and not plain:
        hdul.close()
        raise CorruptFileError(
            f"{path}: {truncated[0]}; the file is incomplete, re-download or re-create it"
        )
    problems = [text for text in messages if _CORRUPTION_HINT in text.lower()]
    for item, text in zip(caught, messages, strict=True):
        if text not in problems and text not in truncated:
            warnings.warn_explicit(item.message, item.category, item.filename, item.lineno)
    try:
        yield hdul, problems
    finally:
        hdul.close()


def _check_complete(path: Path, hdul: fits.HDUList) -> None:
    """Raise :class:`CorruptFileError` if an uncompressed file ends before its headers say.

    A missing final padding block is tolerated (some writers omit it); a data block cut
    short, or a header cut off after the last complete HDU, is not.
    """
    size = path.stat().st_size
    end = 0
    for index, hdu in enumerate(hdul):
        info = hdu.fileinfo()
        end = info["datLoc"] + info["datSpan"]
        if size >= end:
            continue
        if isinstance(hdu, fits.CompImageHDU):  # the table header is not public
            needed = end - FITS_BLOCK + 1
        else:
            needed = info["datLoc"] + _data_nbytes(hdu.header)
        if size < needed:
            raise CorruptFileError(
                f"{path}: file is truncated in HDU {index} ({size} bytes, its header needs "
                f"{needed}); the file is incomplete, re-download or re-create it"
            )
    if size > end:
        with path.open("rb") as file:
            file.seek(end)
            if file.read(8) == b"XTENSION":
                raise CorruptFileError(
                    f"{path}: file is truncated: the header of HDU {len(hdul)} is cut off; "
                    "the file is incomplete, re-download or re-create it"
                )


def _data_nbytes(header: fits.Header) -> int:
    """Size of an HDU's data block without padding, from its (raw) header."""
    naxis = int(header.get("NAXIS", 0))
    if naxis == 0:
        return 0
    lengths = [int(header.get(f"NAXIS{axis}", 0)) for axis in range(1, naxis + 1)]
    if header.get("GROUPS") is True and lengths[0] == 0:  # random groups
        lengths = lengths[1:]
    count = int(header.get("GCOUNT", 1)) * (int(header.get("PCOUNT", 0)) + math.prod(lengths))
    return abs(int(header["BITPIX"])) // 8 * count


def _one_line(message: object) -> str:
    """Collapse a (possibly multi-line) message into one line."""
    return " ".join(str(message).split())


def _hdu_info(index: int, hdu: Any) -> _HduInfo:
    """Describe one HDU (any astropy HDU class) from its header, without touching its data."""
    if isinstance(hdu, fits.GroupsHDU):
        kind = "random groups"
    elif isinstance(hdu, fits.CompImageHDU):
        kind = "compressed"
    elif isinstance(hdu, fits.BinTableHDU):
        kind = "binary table"
    elif isinstance(hdu, fits.TableHDU):
        kind = "ASCII table"
    elif isinstance(hdu, (fits.PrimaryHDU, fits.ImageHDU)):
        kind = "image"
    else:
        kind = type(hdu).__name__
    header = hdu.header
    shape = _header_shape(header) if kind in ("image", "compressed") else ()
    name = str(header.get("EXTNAME", "PRIMARY" if index == 0 else "")).strip()
    return _HduInfo(index, name, int(header.get("EXTVER", 1)), kind, shape)


def _header_shape(header: fits.Header) -> tuple[int, ...]:
    """Array shape (slowest axis first) from ``NAXIS``/``NAXISn``."""
    naxis = int(header.get("NAXIS", 0))
    return tuple(int(header.get(f"NAXIS{axis}", 0)) for axis in range(naxis, 0, -1))


def _select_hdu(infos: list[_HduInfo], selector: str | None, path: Path) -> int:
    """Index of the HDU that ``selector`` names, or of the first image HDU.

    Raises
    ------
    InputNotFoundError
        If no HDU has that index or name.
    InvalidImageError
        If the HDU is not an image, or (no selector) no HDU holds an image.
    """
    listing = "; ".join(info.describe() for info in infos)
    if selector is None:
        for info in infos:
            if info.kind in ("image", "compressed") and info.shape:
                return info.index
        raise InvalidImageError(
            f"{path}: no HDU holds image data (HDUs: {listing}); give an image file"
        )
    text = selector.strip()
    if re.fullmatch(r"\d+", text):
        index = int(text)
        if index >= len(infos):
            raise InputNotFoundError(
                f"{path}: no HDU {index}, the file has {len(infos)} (HDUs: {listing}); "
                f"pick one with {path.name}[N] or {path.name}[EXTNAME]"
            )
    else:
        index = _find_named_hdu(infos, text, path, listing)
    info = infos[index]
    if info.kind not in ("image", "compressed"):
        raise InvalidImageError(
            f"{path}[{selector}]: HDU {index} is a {info.kind}, not an image "
            f"(HDUs: {listing}); pick an image HDU"
        )
    if not info.shape:
        raise InvalidImageError(
            f"{path}[{selector}]: HDU {index} holds no data (HDUs: {listing}); "
            "pick an HDU with an image"
        )
    return index


def _find_named_hdu(infos: list[_HduInfo], text: str, path: Path, listing: str) -> int:
    """Index of the HDU whose EXTNAME (and EXTVER, after a comma) match ``text``."""
    name, _, ver_text = text.partition(",")
    name = name.strip().upper()
    ver = int(ver_text) if ver_text.strip().isdigit() else None
    if ver_text and ver is None:
        raise InputNotFoundError(
            f"{path}: cannot read HDU selector [{text}]; use [N], [EXTNAME] or [EXTNAME,EXTVER]"
        )
    for info in infos:
        if info.name.upper() == name and (ver is None or info.ver == ver):
            return info.index
    raise InputNotFoundError(
        f"{path}: no HDU named {text!r} (HDUs: {listing}); "
        f"pick one with {path.name}[EXTNAME] or {path.name}[N]"
    )


def _is_plain_fits(path: Path) -> bool:
    """Whether ``path`` starts like an uncompressed FITS file (so it can be memory-mapped)."""
    with path.open("rb") as file:
        return file.read(6) == b"SIMPLE"


def _chunk_shape(shape: tuple[int, ...], chunks: int | tuple[int, ...] | None) -> tuple[int, ...]:
    """Dask chunk shape: 1 along leading axes, ``chunks`` (default 1024) along y and x."""
    if chunks is None:
        chunks = DEFAULT_CHUNK
    if isinstance(chunks, (int, np.integer)):
        chunks = (1,) * (len(shape) - 2) + (int(chunks), int(chunks))
    chunks = tuple(int(size) for size in chunks)
    if len(chunks) == 2 < len(shape):
        chunks = (1,) * (len(shape) - 2) + chunks
    if len(chunks) != len(shape) or any(size < 1 for size in chunks):
        raise ValueError(
            f"chunks={chunks} does not fit an image of shape {shape}; give one positive int "
            f"for y and x, or {len(shape)} positive ints"
        )
    return tuple(min(size, length) for size, length in zip(chunks, shape, strict=True))


def _lazy_array(array_like: object, path: Path, index: int, chunks: tuple[int, ...]) -> da.Array:
    """Wrap an array-like in dask with a name that changes when the file changes."""
    stat = path.stat()
    name = "fits-" + tokenize(str(path.resolve()), stat.st_size, stat.st_mtime_ns, index, chunks)
    ndim = len(chunks)
    return da.from_array(
        array_like,
        chunks=chunks,
        name=name,
        lock=False,
        asarray=True,
        meta=np.empty((0,) * ndim, dtype=np.float32),
    )


def _header_units(header: fits.Header) -> str | None:
    """``BUNIT`` without padding, or None when absent or blank."""
    unit = str(header.get("BUNIT", "")).strip()
    return unit or None


def _celestial_pixel_sizes(header: fits.Header) -> dict[str, PixelSize]:
    """Pixel sizes in degrees of x and y when axes 1 and 2 carry a celestial WCS."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # FITSFixedWarning and friends: metadata is best effort
        try:
            wcs = WCS(header, fix=False).sub(list(SPATIAL_FITS_AXES))
        except (ValueError, KeyError, TypeError, MemoryError):
            return {}
    if not wcs.has_celestial:
        return {}
    scale_x, scale_y = proj_plane_pixel_scales(wcs)
    return {"x": PixelSize(float(scale_x), "deg"), "y": PixelSize(float(scale_y), "deg")}
