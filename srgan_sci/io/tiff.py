"""TIFF, multi-page TIFF, ImageJ hyperstacks and OME-TIFF, read lazily with tifffile.

Axes
----
tifffile names the axes of series 0 with upper-case codes; they become the package's
lower-case letters from ``"tczyx"``:

* ``T`` -> ``t``, ``Z`` -> ``z``, ``C`` -> ``c``, ``Y`` -> ``y``, ``X`` -> ``x``;
* ``S`` (samples per pixel, e.g. RGB) -> ``c``; when samples come last (``YXS``) the
  channel axis is moved to the front with a lazy transpose, so that arrays end in (y, x);
* every other code (``I`` image sequence, ``Q`` unnamed, ``E``, ``R``...) and any letter
  already taken takes a free letter, filled from the right in the order ``z``, ``c``,
  ``t``: an unnamed multi-page stack ``IYX`` reads as ``zyx``, exactly what
  :func:`srgan_sci.io.validate.default_axes` gives arrays without axis names.

Pixel sizes
-----------
Read and written by :mod:`srgan_sci.io.tiff_pixels` (OME-XML, ImageJ metadata, resolution
tags).  Units are kept as the file spells them (``"micron"``, ``"µm"``...).
"""

from __future__ import annotations

import struct
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
import tifffile
import zarr
from dask.base import tokenize

from srgan_sci.errors import CorruptFileError, InvalidImageError
from srgan_sci.io.metadata import ImageMetadata, LazyImage
from srgan_sci.io.tiff_pixels import ome_physical_sizes, tiff_pixel_sizes
from srgan_sci.io.validate import as_float32, check_image_shape

_AXIS_CODES = {"T": "t", "C": "c", "S": "c", "Z": "z", "Y": "y", "X": "x"}
_FREE_LETTER_ORDER = "zct"
_TARGET_CHUNK = 1024
_PARSE_ERRORS = (tifffile.TiffFileError, ValueError, OSError, IndexError, KeyError, struct.error)


def read_tiff(path: Path, *, chunks: int | tuple[int, ...] | None = None) -> LazyImage:
    """Open series 0 (full resolution) of a TIFF file as a lazy float32 dask array.

    Parameters
    ----------
    path : pathlib.Path
        Plain or multi-page TIFF, ImageJ hyperstack or OME-TIFF.
    chunks : int or tuple of int, optional
        Chunk size of the (y, x) axes (an int for both, a pair, or one entry per axis);
        leading axes get chunk 1.  Default: whole multiples of the file's own strips or
        tiles, about 1024 pixels a side.

    Returns
    -------
    LazyImage
        Float32 data (non-finite values as NaN) with axes ending in ``"yx"``; nothing is
        read until the data are computed.

    Raises
    ------
    CorruptFileError
        If the file is not a readable TIFF.
    InvalidImageError
        If series 0 is not a real-valued image of 2 to 5 axes.
    """
    path = Path(path)
    source = str(path)
    try:
        tif = tifffile.TiffFile(path)
    except _PARSE_ERRORS as exc:
        raise CorruptFileError(
            f"{source}: not a readable TIFF file ({exc}); check the file is complete and "
            "really a TIFF"
        ) from exc
    try:
        if not tif.series:
            raise InvalidImageError(f"{source}: the TIFF file holds no image series")
        series = tif.series[0]
        check_image_shape(series.shape, series.dtype, source)
        _check_data_complete(series, path.stat().st_size, source)
        letters = tiff_axes_to_letters(series.axes)
        store = zarr.open(series.aszarr(level=0), mode="r")
        pixel_sizes = tiff_pixel_sizes(tif, letters)
        extra = _extra_metadata(tif)
        dtype_on_disk = str(series.dtype)
    except (InvalidImageError, CorruptFileError):
        tif.close()
        raise
    except _PARSE_ERRORS as exc:
        tif.close()
        raise CorruptFileError(f"{source}: cannot parse the TIFF structure ({exc})") from exc

    reader = _TiffSeriesArray(path, store, tif)
    wanted = _dask_chunks(letters, store.shape, store.chunks, chunks)
    name = f"read-tiff-{tokenize(source, path.stat().st_mtime_ns, path.stat().st_size)}"
    data = da.from_array(reader, chunks=wanted, name=name, asarray=False, fancy=False, lock=False)
    order = _yx_last_order(letters)
    data = data.transpose(order)
    axes = "".join(letters[i] for i in order)
    meta = ImageMetadata(
        source=source,
        format="tiff",
        axes=axes,
        dtype_on_disk=dtype_on_disk,
        pixel_sizes=pixel_sizes,
        extra=extra,
    )
    return LazyImage(as_float32(data), meta)


def write_tiff(
    path: Path,
    data: da.Array,
    meta: ImageMetadata,
    *,
    compression: str | None = "zlib",
) -> None:
    """Write ``data`` as a float32 OME-TIFF, one (y, x) plane in memory at a time.

    Parameters
    ----------
    path : pathlib.Path
        Output file; written as OME-TIFF whatever its suffix.
    data : dask.array.Array
        Image with axes ``meta.axes`` (ending in ``"yx"``).
    meta : ImageMetadata
        Axes and pixel sizes of ``data`` (already divided by any upscale factor).  Pixel
        sizes whose unit has no OME equivalent (e.g. ``"deg"``) are left out with a
        warning; sizes without a unit are left out silently.
    compression : str or None
        tifffile compression name (``"zlib"``, ``"zstd"``...), or None for none.

    Raises
    ------
    ValueError
        If ``meta.axes`` does not describe ``data``.
    """
    data = da.asarray(data)
    check_image_shape(data.shape, data.dtype, str(path))
    _check_axes(meta.axes, data.ndim)
    metadata: dict[str, Any] = {"axes": meta.axes.upper(), "Name": Path(meta.source).name}
    metadata.update(ome_physical_sizes(meta.pixel_sizes, meta.axes))
    tifffile.imwrite(
        path,
        data=_iter_planes(data.astype(np.float32)),
        shape=data.shape,
        dtype=np.float32,
        ome=True,
        photometric="minisblack",
        compression=compression,
        metadata=metadata,
    )


def tiff_axes_to_letters(codes: str) -> str:
    """Map tifffile axis codes (``"TZCYX"``, ``"YXS"``, ``"IYX"``...) to ``"tczyx"`` letters.

    Parameters
    ----------
    codes : str
        tifffile's ``series.axes``: one upper-case code per axis.

    Returns
    -------
    str
        One distinct lower-case letter per axis, in the same order (not yet transposed).

    Raises
    ------
    InvalidImageError
        If the codes name no Y and X axis, or more axes than letters exist.

    Examples
    --------
    >>> tiff_axes_to_letters("TZCYX")
    'tzcyx'
    >>> tiff_axes_to_letters("YXS")
    'yxc'
    >>> tiff_axes_to_letters("QQYX")
    'czyx'
    """
    letters: list[str | None] = []
    for code in codes.upper():
        letter = _AXIS_CODES.get(code)
        letters.append(letter if letter not in letters else None)
    if "y" not in letters or "x" not in letters:
        raise InvalidImageError(
            f"TIFF axes {codes!r} have no Y and X axis; cannot read as an image"
        )
    free = [letter for letter in _FREE_LETTER_ORDER if letter not in letters]
    for i in reversed(range(len(letters))):
        if letters[i] is None:
            if not free:
                raise InvalidImageError(f"TIFF axes {codes!r}: too many axes for (t, c, z, y, x)")
            letters[i] = free.pop(0)
    return "".join(letter for letter in letters if letter is not None)


class _TiffSeriesArray:
    """Series 0, level 0 of a TIFF as an array-like that dask can slice and pickle.

    Holds tifffile's zarr store of the open file; the file is closed when this object is
    garbage collected.  Pickling keeps only the path and the store is reopened on the
    other side, so dask graphs built on it can go to distributed workers.
    """

    def __init__(self, path: Path, store: Any, tif: tifffile.TiffFile) -> None:
        self.path = Path(path)
        self._attach(store, tif)

    def _attach(self, store: Any, tif: tifffile.TiffFile) -> None:
        self._store = store
        self.shape = tuple(store.shape)
        self.dtype = np.dtype(store.dtype)
        self.ndim = len(self.shape)
        weakref.finalize(self, tif.close)

    def __getitem__(self, key: Any) -> np.ndarray:
        return np.asarray(self._store[key])

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.path = state["path"]
        tif = tifffile.TiffFile(self.path)
        self._attach(zarr.open(tif.series[0].aszarr(level=0), mode="r"), tif)


def _check_data_complete(series: Any, file_size: int, source: str) -> None:
    """Raise CorruptFileError if the first or last plane of ``series`` ends past its file.

    Cheap (two IFDs), and catches the usual damage: a copy or download cut short.
    """
    ends = []
    if series.dataoffset is not None:
        ends.append((series.dataoffset + series.nbytes, file_size))
    for page in (series.pages[0], series.pages[-1]):
        if page is not None and page.dataoffsets:
            size = page.parent.filehandle.size  # OME-TIFF planes may live in other files
            ends += [
                (o + n, size) for o, n in zip(page.dataoffsets, page.databytecounts, strict=True)
            ]
    for end, size in ends:
        if end > size:
            raise CorruptFileError(
                f"{source}: image data end at byte {end} but the file has {size} bytes; "
                "the file is truncated, copy it again"
            )


def _check_axes(axes: str, ndim: int) -> None:
    """Raise ValueError unless ``axes`` has ``ndim`` distinct letters ending in ``"yx"``."""
    if len(axes) != ndim or not axes.endswith("yx") or len(set(axes)) != len(axes):
        raise ValueError(
            f"metadata axes {axes!r} do not describe a {ndim}-D array ending in (y, x); "
            "fix ImageMetadata.axes"
        )


def _yx_last_order(letters: str) -> list[int]:
    """Axis permutation that keeps leading axes in order and puts y, x last."""
    leading = [i for i, letter in enumerate(letters) if letter not in "yx"]
    return [*leading, letters.index("y"), letters.index("x")]


def _dask_chunks(
    letters: str,
    shape: tuple[int, ...],
    store_chunks: tuple[int, ...],
    chunks: int | tuple[int, ...] | None,
) -> tuple[int, ...]:
    """Dask chunks in file axis order: 1 for leading axes, (y, x) requested or file-aligned."""
    if chunks is None:
        spatial = {
            letter: min(n, c * max(1, _TARGET_CHUNK // c))
            for letter, n, c in zip(letters, shape, store_chunks, strict=True)
            if letter in "yx"
        }
    else:
        spatial = dict(zip("yx", _requested_yx(chunks, len(shape)), strict=True))
    return tuple(min(spatial.get(letter, 1), n) for letter, n in zip(letters, shape, strict=True))


def _requested_yx(chunks: int | tuple[int, ...], ndim: int) -> tuple[int, int]:
    """(y, x) chunk sizes from an int, a (y, x) pair or one size per axis of the result."""
    if isinstance(chunks, int):
        sizes = (chunks, chunks)
    elif len(chunks) in (2, ndim):
        sizes = (int(chunks[-2]), int(chunks[-1]))
    else:
        raise ValueError(f"chunks {chunks!r}: give an int, a (y, x) pair or one size per axis")
    if min(sizes) < 1:
        raise ValueError(f"chunks must be positive, got {chunks!r}")
    return sizes


def _extra_metadata(tif: tifffile.TiffFile) -> dict[str, Any]:
    """Format-specific metadata worth keeping: OME-XML and the ImageJ dict."""
    extra: dict[str, Any] = {}
    if tif.is_ome and tif.ome_metadata:
        extra["ome_xml"] = tif.ome_metadata
    if tif.is_imagej and tif.imagej_metadata is not None:
        extra["imagej"] = dict(tif.imagej_metadata)
    return extra


def _iter_planes(data: da.Array) -> Iterator[np.ndarray]:
    """Compute and yield the (y, x) planes of ``data`` one at a time, in C order."""
    for index in np.ndindex(*data.shape[:-2]):
        yield np.ascontiguousarray(data[index].compute(), dtype=np.float32)
