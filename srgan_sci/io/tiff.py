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
From the OME-XML ``PhysicalSizeX/Y/Z`` (unit default ``"µm"``) and ``TimeIncrement``
(default ``"s"``); else from ImageJ metadata (``unit``, ``spacing``, ``finterval``) with
the X/YResolution tags; else from X/YResolution with a ResolutionUnit of inch, cm, mm or
µm.  Units are kept as the file spells them (``"micron"``, ``"µm"``...).
"""

from __future__ import annotations

import struct
import warnings
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import dask.array as da
import numpy as np
import tifffile
import zarr
from dask.base import tokenize

from srgan_sci.errors import CorruptFileError, InvalidImageError
from srgan_sci.io.metadata import ImageMetadata, LazyImage, PixelSize
from srgan_sci.io.validate import as_float32, check_image_shape

_AXIS_CODES = {"T": "t", "C": "c", "S": "c", "Z": "z", "Y": "y", "X": "x"}
_FREE_LETTER_ORDER = "zct"
_TARGET_CHUNK = 1024
_PARSE_ERRORS = (tifffile.TiffFileError, ValueError, OSError, IndexError, KeyError, struct.error)
_RESOLUTION_UNITS = {2: "in", 3: "cm", 4: "mm", 5: "µm"}

_OME_LENGTH_UNITS = {
    **dict.fromkeys(("µm", "μm", "um", "micron", "microns", "micrometer", "micrometre"), "µm"),
    **dict.fromkeys(("nm", "nanometer", "nanometre"), "nm"),
    **dict.fromkeys(("mm", "millimeter", "millimetre"), "mm"),
    **dict.fromkeys(("cm", "centimeter", "centimetre"), "cm"),
    **dict.fromkeys(("m", "meter", "metre"), "m"),
    **dict.fromkeys(("km", "kilometer", "kilometre"), "km"),
    **dict.fromkeys(("pm", "picometer", "picometre"), "pm"),
    **dict.fromkeys(("å", "angstrom"), "Å"),
    **dict.fromkeys(("in", "inch"), "in"),
    **dict.fromkeys(("pc", "parsec"), "pc"),
}
_OME_TIME_UNITS = {
    **dict.fromkeys(("s", "sec", "second", "seconds"), "s"),
    **dict.fromkeys(("ms", "millisecond", "milliseconds"), "ms"),
    **dict.fromkeys(("µs", "μs", "us", "microsecond", "microseconds"), "µs"),
    **dict.fromkeys(("ns", "nanosecond", "nanoseconds"), "ns"),
    **dict.fromkeys(("min", "minute", "minutes"), "min"),
    **dict.fromkeys(("h", "hr", "hour", "hours"), "h"),
    **dict.fromkeys(("d", "day", "days"), "d"),
}


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
        pixel_sizes = _pixel_sizes(tif, letters)
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


def ome_physical_sizes(pixel_sizes: dict[str, PixelSize], axes: str) -> dict[str, Any]:
    """OME ``PhysicalSize*``/``TimeIncrement`` entries for tifffile's ``metadata`` argument.

    Parameters
    ----------
    pixel_sizes : dict
        Axis letter -> :class:`PixelSize`.
    axes : str
        Axis letters of the image; sizes of absent axes are ignored.

    Returns
    -------
    dict
        E.g. ``{"PhysicalSizeX": 0.1, "PhysicalSizeXUnit": "µm"}``.

    Examples
    --------
    >>> ome_physical_sizes({"x": PixelSize(0.5, "micron")}, "yx")
    {'PhysicalSizeX': 0.5, 'PhysicalSizeXUnit': 'µm'}
    """
    entries: dict[str, Any] = {}
    for axis, size in pixel_sizes.items():
        if axis not in axes or axis == "c" or size.unit is None:
            continue
        table = _OME_TIME_UNITS if axis == "t" else _OME_LENGTH_UNITS
        unit = table.get(size.unit.strip().lower(), table.get(size.unit.strip()))
        if unit is None:
            warnings.warn(
                f"pixel size of axis {axis!r} is in {size.unit!r}, which OME-TIFF cannot "
                "store; it is not written",
                UserWarning,
                stacklevel=3,
            )
            continue
        key = "TimeIncrement" if axis == "t" else f"PhysicalSize{axis.upper()}"
        entries[key] = float(size.value)
        entries[f"{key}Unit"] = unit
    return entries


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


def _pixel_sizes(tif: tifffile.TiffFile, letters: str) -> dict[str, PixelSize]:
    """Physical pixel sizes from OME-XML, else ImageJ metadata, else resolution tags."""
    if tif.is_ome and tif.ome_metadata:
        sizes = ome_xml_pixel_sizes(tif.ome_metadata)
    elif tif.is_imagej and tif.imagej_metadata is not None:
        sizes = _imagej_pixel_sizes(tif.imagej_metadata, tif.pages.first)
    else:
        sizes = _resolution_pixel_sizes(tif.pages.first, None)
    return {axis: size for axis, size in sizes.items() if axis in letters}


def ome_xml_pixel_sizes(xml: str) -> dict[str, PixelSize]:
    """Pixel sizes of the first ``Image`` in an OME-XML document.

    Parameters
    ----------
    xml : str
        OME-XML text.

    Returns
    -------
    dict
        Axis letter -> :class:`PixelSize` for x, y, z (``PhysicalSize*``, unit default
        ``"µm"``) and t (``TimeIncrement``, unit default ``"s"``); empty if the XML cannot
        be parsed.
    """
    try:
        root = ElementTree.fromstring(xml)
    except ElementTree.ParseError:
        return {}
    pixels = root.find("{*}Image/{*}Pixels")
    if pixels is None:
        return {}
    sizes = {}
    for axis in "xyz":
        key = f"PhysicalSize{axis.upper()}"
        size = _positive_float(pixels.get(key))
        if size is not None:
            sizes[axis] = PixelSize(size, pixels.get(f"{key}Unit", "µm"))
    increment = _positive_float(pixels.get("TimeIncrement"))
    if increment is not None:
        sizes["t"] = PixelSize(increment, pixels.get("TimeIncrementUnit", "s"))
    return sizes


def _imagej_pixel_sizes(imagej: dict[str, Any], page: Any) -> dict[str, PixelSize]:
    """Pixel sizes from ImageJ ``unit``/``spacing``/``finterval`` and the resolution tags."""
    unit = imagej.get("unit")
    sizes: dict[str, PixelSize] = {}
    if isinstance(unit, str) and unit.strip() and unit.strip().lower() not in ("pixel", "pixels"):
        unit = unit.strip().replace("\\u00B5", "µ").replace("\\u00b5", "µ")
        sizes.update(_resolution_pixel_sizes(page, unit))
        spacing = _positive_float(imagej.get("spacing"))
        if spacing is not None:
            sizes["z"] = PixelSize(spacing, unit)
    interval = _positive_float(imagej.get("finterval"))
    if interval is not None:
        sizes["t"] = PixelSize(interval, imagej.get("tunit", "s"))
    return sizes


def _resolution_pixel_sizes(page: Any, unit: str | None) -> dict[str, PixelSize]:
    """x, y pixel sizes from X/YResolution (pixels per unit) in ``unit`` or ResolutionUnit."""
    if unit is None:
        tag = page.tags.get("ResolutionUnit")
        unit = _RESOLUTION_UNITS.get(int(tag.value)) if tag is not None else None
        if unit is None:
            return {}
    sizes = {}
    for axis in "xy":
        tag = page.tags.get(f"{axis.upper()}Resolution")
        if tag is None:
            continue
        numerator, denominator = tag.value
        if numerator > 0 and denominator > 0:
            sizes[axis] = PixelSize(denominator / numerator, unit)
    return sizes


def _positive_float(value: Any) -> float | None:
    """``float(value)`` if it is a positive finite number, else None."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if np.isfinite(number) and number > 0 else None


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
