"""NGFF (OME-Zarr) metadata: axes, units and coordinate transformations, read and written."""

from __future__ import annotations

from typing import Any

import numpy as np
from ome_zarr.axes import KNOWN_SPATIAL_UNITS, KNOWN_TEMPORAL_UNITS

from srgan_sci.errors import CorruptFileError
from srgan_sci.io.metadata import ImageMetadata, PixelSize
from srgan_sci.io.validate import default_axes

NGFF_AXIS_ORDER = "tczyx"


_TYPE_LETTERS = {"time": "t", "channel": "c", "space": "z"}


_FREE_LETTER_ORDER = "zct"


_NGFF_UNITS = {
    **{unit: unit for unit in (*KNOWN_SPATIAL_UNITS, *KNOWN_TEMPORAL_UNITS)},
    **dict.fromkeys(("µm", "μm", "um", "micron", "microns", "micrometre"), "micrometer"),
    **dict.fromkeys(("nm", "nanometre"), "nanometer"),
    **dict.fromkeys(("mm", "millimetre"), "millimeter"),
    **dict.fromkeys(("cm", "centimetre"), "centimeter"),
    **dict.fromkeys(("m", "metre"), "meter"),
    **dict.fromkeys(("km", "kilometre"), "kilometer"),
    **dict.fromkeys(("pm", "picometre"), "picometer"),
    **dict.fromkeys(("å",), "angstrom"),
    **dict.fromkeys(("in",), "inch"),
    **dict.fromkeys(("pc",), "parsec"),
    **dict.fromkeys(("s", "sec", "seconds"), "second"),
    **dict.fromkeys(("ms", "milliseconds"), "millisecond"),
    **dict.fromkeys(("µs", "μs", "us", "microseconds"), "microsecond"),
    **dict.fromkeys(("ns", "nanoseconds"), "nanosecond"),
    **dict.fromkeys(("min", "minutes"), "minute"),
    **dict.fromkeys(("h", "hr", "hours"), "hour"),
    **dict.fromkeys(("d", "days"), "day"),
}


def ngff_unit(unit: str | None) -> str | None:
    """NGFF (UDUNITS-2) name of a length or time unit, or None if NGFF has none.

    Examples
    --------
    >>> ngff_unit("µm"), ngff_unit("micron"), ngff_unit("s"), ngff_unit("deg")
    ('micrometer', 'micrometer', 'second', None)
    """
    if unit is None:
        return None
    unit = unit.strip()
    return _NGFF_UNITS.get(unit, _NGFF_UNITS.get(unit.lower()))


def ngff_axis_units(pixel_sizes: dict[str, PixelSize], axes: str) -> dict[str, str]:
    """Axis letter -> NGFF unit name, for the axes whose unit NGFF knows.

    Space axes take only length units and the t axis only time units; channel axes none.
    """
    units = {}
    for axis, size in pixel_sizes.items():
        unit = ngff_unit(size.unit)
        if axis not in axes or axis == "c" or unit is None:
            continue
        if (unit in KNOWN_TEMPORAL_UNITS) == (axis == "t"):
            units[axis] = unit
    return units


def ngff_axis_order(axes: str, ndim: int) -> list[int]:
    """Permutation that puts the leading axes in NGFF order (t, c, z) before (y, x).

    Raises
    ------
    ValueError
        If ``axes`` is not ``ndim`` distinct letters of ``"tczyx"`` ending in ``"yx"``.

    Examples
    --------
    >>> ngff_axis_order("tzcyx", 5)
    [0, 2, 1, 3, 4]
    """
    if (
        len(axes) != ndim
        or not axes.endswith("yx")
        or len(set(axes)) != len(axes)
        or not set(axes) <= set(NGFF_AXIS_ORDER)
    ):
        raise ValueError(
            f"metadata axes {axes!r} do not describe a {ndim}-D array of distinct "
            "letters from 'tczyx' ending in 'yx'; fix ImageMetadata.axes"
        )
    return sorted(range(ndim), key=lambda i: NGFF_AXIS_ORDER.index(axes[i]))


def find_multiscales(attrs: Any) -> dict[str, Any] | None:
    """First NGFF multiscales entry of group attributes (v0.5 or v0.4 layout), or None."""
    ome = attrs.get("ome")
    entries = ome.get("multiscales") if isinstance(ome, dict) else None
    entries = entries or attrs.get("multiscales")
    if not entries or not isinstance(entries, list) or not isinstance(entries[0], dict):
        return None
    return entries[0]


def ngff_axis_letters(multiscales: dict[str, Any] | None, ndim: int, source: str) -> str:
    """One distinct ``"tczyx"`` letter per axis from NGFF axes, else the default axes."""
    axes = (multiscales or {}).get("axes")
    if not axes:
        return default_axes(ndim)
    if len(axes) != ndim:
        raise CorruptFileError(
            f"{source}: NGFF metadata names {len(axes)} axes but the array has {ndim}"
        )
    letters: list[str | None] = []
    for axis in axes:
        name = str(axis.get("name", "") if isinstance(axis, dict) else axis).lower()
        kind = axis.get("type") if isinstance(axis, dict) else None
        letter = name if len(name) == 1 and name in NGFF_AXIS_ORDER else _TYPE_LETTERS.get(kind)
        letters.append(letter if letter not in letters else None)
    free = [letter for letter in _FREE_LETTER_ORDER if letter not in letters]
    for i in reversed(range(ndim)):
        if letters[i] is None and free:
            letters[i] = free.pop(0)
    if None in letters or "y" not in letters or "x" not in letters:
        return default_axes(ndim)
    return "".join(letter for letter in letters if letter is not None)


def ngff_pixel_sizes(
    multiscales: dict[str, Any] | None,
    level: int,
    letters: str,
    fallback_units: dict[str, str],
) -> dict[str, PixelSize]:
    """Pixel sizes of one NGFF level: its scale times the global scale, with axis units."""
    if multiscales is None:
        return {}
    try:
        scale = np.asarray(_scale(multiscales["datasets"][level]), dtype=float)
        scale = scale * np.asarray(_scale(multiscales), dtype=float)
    except (KeyError, IndexError, TypeError, ValueError):
        return {}
    if scale.shape not in ((), (len(letters),)):
        return {}
    scale = np.broadcast_to(scale, (len(letters),))
    axes = multiscales.get("axes") or [{} for _ in letters]
    sizes = {}
    for letter, value, axis in zip(letters, scale, axes, strict=True):
        unit = axis.get("unit") if isinstance(axis, dict) else None
        if letter != "c" and np.isfinite(value) and value > 0:
            sizes[letter] = PixelSize(float(value), unit or fallback_units.get(letter))
    return sizes


def _scale(entry: dict[str, Any]) -> list[float] | float:
    """Return the ``scale`` of an entry's ``coordinateTransformations`` (1.0 when absent)."""
    for transform in entry.get("coordinateTransformations") or []:
        if transform.get("type") == "scale" and "scale" in transform:
            return list(transform["scale"])
    return 1.0


def ngff_transforms(meta: ImageMetadata, axes: str, level: int) -> list[dict[str, Any]]:
    """NGFF scale (and, below level 0, half-pixel translation) of one pyramid level."""
    factor = 2**level
    base = [
        float(meta.pixel_sizes[a].value) if a in meta.pixel_sizes and a != "c" else 1.0
        for a in axes
    ]
    scale = [size * factor if a in "yx" else size for a, size in zip(axes, base, strict=True)]
    transforms: list[dict[str, Any]] = [{"type": "scale", "scale": scale}]
    if level > 0:
        shift = [
            (factor - 1) / 2 * size if a in "yx" else 0.0
            for a, size in zip(axes, base, strict=True)
        ]
        transforms.append({"type": "translation", "translation": shift})
    return transforms
