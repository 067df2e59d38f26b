"""Physical pixel sizes of TIFF files: OME-XML, ImageJ metadata and resolution tags.

Read: :func:`tiff_pixel_sizes` takes the OME-XML ``PhysicalSizeX/Y/Z`` (unit default
``"µm"``) and ``TimeIncrement`` (default ``"s"``); else ImageJ metadata (``unit``,
``spacing``, ``finterval``) with the X/YResolution tags; else X/YResolution with a
ResolutionUnit of inch, cm, mm or µm.  Write: :func:`ome_physical_sizes` gives the OME
entries of tifffile's ``metadata`` argument.
"""

from __future__ import annotations

import warnings
from typing import Any
from xml.etree import ElementTree

import numpy as np
import tifffile

from srgan_sci.io.metadata import PixelSize

__all__ = ["ome_physical_sizes", "ome_xml_pixel_sizes", "tiff_pixel_sizes"]

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


def tiff_pixel_sizes(tif: tifffile.TiffFile, letters: str) -> dict[str, PixelSize]:
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
