"""Zarr arrays and OME-Zarr (NGFF) images: lazy reading and chunk-by-chunk writing.

Reading
-------
``path`` may be a Zarr array (v2 or v3) or a group.  A group with NGFF ``multiscales``
metadata (v0.4 ``attrs["multiscales"]``, v0.5 ``attrs["ome"]["multiscales"]``) gives its
full-resolution level (``datasets[0]``): axis names, pixel sizes (level-0 ``scale`` times
the multiscale-wide ``scale``, if any) and axis units.  An array inside an NGFF group
(``image.zarr/0``) takes the group's axes and that level's scale.  A group without NGFF
metadata is read if it holds exactly one array.  Axis names outside ``"tczyx"`` get a
letter from their NGFF ``type`` (time -> t, channel -> c, space -> z), or a free one.

Writing
-------
An NGFF v0.5 image group (Zarr v3) with levels ``"0"``, ``"1"``...: level 0 holds the
data as float32, each further level the 2x2 mean of the one before (read back from disk,
so the input is computed once), with the y, x scale doubled and the matching
half-pixel translation.  Leading axes are put in NGFF order (t, c, z) with a lazy
transpose.  Units are written under their NGFF names (``"µm"`` -> ``"micrometer"``);
units NGFF does not know (``"deg"``, FITS ``CUNIT`` values...) are left out of the NGFF
axes and kept in ``attrs["srgan_sci"]["pixel_units"]``, so :func:`read_zarr` still
recovers them.  ``attrs["srgan_sci"]`` also keeps the pixel-value unit, the source and,
for FITS input, the full header (WCS included).
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
import zarr
from astropy.io import fits
from ome_zarr.format import FormatV05

with warnings.catch_warnings():
    # ome-zarr 0.18 builds a deprecated Scaler() as a default argument at import time.
    warnings.filterwarnings("ignore", "Call to deprecated class Scaler", DeprecationWarning)
    from ome_zarr.writer import write_multiscales_metadata

from srgan_sci.errors import CorruptFileError, InvalidImageError, UnsupportedFormatError
from srgan_sci.io.metadata import ImageMetadata, LazyImage
from srgan_sci.io.ngff import (
    find_multiscales,
    ngff_axis_letters,
    ngff_axis_order,
    ngff_axis_units,
    ngff_pixel_sizes,
    ngff_transforms,
)
from srgan_sci.io.validate import as_float32, check_image_shape
from srgan_sci.streaming import DEFAULT_BAND_BYTES, store_in_bands


def read_zarr(path: Path, *, chunks: int | tuple[int, ...] | None = None) -> LazyImage:
    """Open a Zarr array or OME-Zarr image as a lazy float32 dask array.

    Parameters
    ----------
    path : pathlib.Path
        A Zarr v2/v3 array, an NGFF image group (level 0 is read), or a group holding a
        single array.
    chunks : int or tuple of int, optional
        Chunk size of the (y, x) axes (an int for both, a pair, or one entry per axis);
        leading axes get chunk 1.  Default: the store's own chunks (shards if sharded).

    Returns
    -------
    LazyImage
        Float32 data (non-finite values as NaN), axes ending in ``"yx"``; ``meta.extra``
        holds ``"ngff"`` (the multiscales dict) when the image has NGFF metadata.

    Raises
    ------
    UnsupportedFormatError
        If ``path`` is not a Zarr store.
    CorruptFileError
        If the Zarr or NGFF metadata cannot be parsed.
    InvalidImageError
        If the data are not a real-valued 2- to 5-D image, or a group holds several
        arrays and no NGFF metadata says which one is the image.
    """
    path = Path(path)
    source = str(path)
    node = _open_node(path)
    if isinstance(node, zarr.Array):
        array, group, multiscales, level = node, *_parent_ngff(path)
    else:
        array, group, multiscales, level = _image_in_group(node, source)
    check_image_shape(array.shape, array.dtype, source)
    srgan = dict(group.attrs.get("srgan_sci", {})) if group is not None else {}
    letters = ngff_axis_letters(multiscales, array.ndim, source)
    pixel_sizes = ngff_pixel_sizes(multiscales, level, letters, srgan.get("pixel_units", {}))
    order = [i for i, letter in enumerate(letters) if letter not in "yx"]
    order += [letters.index("y"), letters.index("x")]
    data = da.from_zarr(array, chunks=_dask_chunks(letters, array, chunks))
    data = data.transpose(order)
    header_text = srgan.pop("fits_header", None)
    extra: dict[str, Any] = {"zarr_format": array.metadata.zarr_format}
    if multiscales is not None:
        extra["ngff"] = multiscales
    if srgan:
        extra["srgan_sci"] = srgan
    meta = ImageMetadata(
        source=source,
        format="zarr",
        axes="".join(letters[i] for i in order),
        dtype_on_disk=str(array.dtype),
        units=srgan.get("units"),
        pixel_sizes=pixel_sizes,
        fits_header=fits.Header.fromstring(header_text, sep="\n") if header_text else None,
        extra=extra,
    )
    return LazyImage(as_float32(data), meta)


def write_zarr(
    path: Path,
    data: da.Array,
    meta: ImageMetadata,
    *,
    pyramid_levels: int = 0,
    chunks: int | None = None,
    progress: bool = False,
    resume: bool = False,
    band_bytes: int | None = None,
) -> None:
    """Write ``data`` as an OME-Zarr (NGFF v0.5, Zarr v3) image group, chunk by chunk.

    Parameters
    ----------
    path : pathlib.Path
        Output directory (created; must not hold a store already).
    data : dask.array.Array
        Image with axes ``meta.axes`` (ending in ``"yx"``); computed chunk by chunk, never
        as a whole.
    meta : ImageMetadata
        Axes, pixel sizes (already divided by any upscale factor), units and FITS header.
    pyramid_levels : int
        Number of 2x-downsampled levels to add below full resolution.
    chunks : int, optional
        On-disk chunk size of y and x (leading axes get chunk 1).  Default: the largest
        dask chunk of ``data`` along y and x.
    progress : bool
        Show a progress bar over the bands of full-resolution chunk rows being written.
    resume : bool
        Continue writing into an existing group at ``path``: bands of chunk rows that a
        previous run finished (journal in ``path/.srsci-bands``) are skipped.
    band_bytes : int, optional
        Bytes computed per band (default :data:`srgan_sci.streaming.DEFAULT_BAND_BYTES`);
        1 makes every chunk row its own band, the finest resume granularity.

    Raises
    ------
    ValueError
        If ``meta.axes`` does not describe ``data``, or the image is too small for
        ``pyramid_levels`` levels.
    """
    data = da.asarray(data)
    check_image_shape(data.shape, data.dtype, str(path))
    order = ngff_axis_order(meta.axes, data.ndim)
    axes = "".join(meta.axes[i] for i in order)
    data = data.transpose(order).astype(np.float32)
    _check_pyramid(data.shape[-2:], pyramid_levels)
    tile = (chunks, chunks) if chunks is not None else data.chunksize[-2:]
    if min(tile) < 1:
        raise ValueError(f"chunks must be positive, got {chunks!r}")

    existing = resume and (Path(path) / "zarr.json").exists()
    group = zarr.open_group(str(path), mode="r+" if existing else "w-", zarr_format=3)
    writing = {"progress": progress, "band_bytes": band_bytes, "journal": None}
    datasets = []
    for level in range(pyramid_levels + 1):
        if level > 0:
            data = downsample_mean2(da.from_zarr(group[str(level - 1)]))
        if resume:
            writing["journal"] = Path(path) / ".srsci-bands" / str(level)
        _store_level(
            group, str(level), data, axes, tile, writing | {"progress": progress and not level}
        )
        datasets.append(
            {"path": str(level), "coordinateTransformations": ngff_transforms(meta, axes, level)}
        )
    write_multiscales_metadata(
        group,
        datasets,
        fmt=FormatV05(),
        axes=list(axes),
        axes_units=ngff_axis_units(meta.pixel_sizes, axes),
        name=Path(meta.source).name or "image",
    )
    group.attrs["srgan_sci"] = _srgan_attrs(meta, axes)
    shutil.rmtree(Path(path) / ".srsci-bands", ignore_errors=True)


def downsample_mean2(data: da.Array) -> da.Array:
    """Halve y and x by 2x2 block means (an odd last row/column is dropped).

    NaN propagates into the blocks that contain it.

    Parameters
    ----------
    data : dask.array.Array
        Array whose last two axes are (y, x), each at least 2 long.

    Returns
    -------
    dask.array.Array
        Same dtype, shape ``(..., ny // 2, nx // 2)``.
    """
    ny, nx = data.shape[-2:]
    data = data[..., : ny - ny % 2, : nx - nx % 2]
    yaxis, xaxis = data.ndim - 2, data.ndim - 1
    cy, cx = (size + size % 2 for size in data.chunksize[-2:])
    data = data.rechunk({yaxis: cy, xaxis: cx})
    return da.coarsen(np.mean, data, {yaxis: 2, xaxis: 2}).astype(data.dtype)


def _open_node(path: Path) -> zarr.Array | zarr.Group:
    """Open ``path`` read-only as a Zarr array or group, with srgan_sci errors."""
    try:
        return zarr.open(str(path), mode="r")
    except FileNotFoundError as exc:
        raise UnsupportedFormatError(
            f"{path}: not a Zarr store (no zarr.json, .zarray or .zgroup); point at a Zarr "
            "array or an OME-Zarr image group"
        ) from exc
    except (ValueError, TypeError, KeyError, json.JSONDecodeError) as exc:
        raise CorruptFileError(f"{path}: cannot parse the Zarr metadata ({exc})") from exc


def _image_in_group(
    group: zarr.Group, source: str
) -> tuple[zarr.Array, zarr.Group, dict[str, Any] | None, int]:
    """Find the image array of a group: NGFF level 0, bioformats2raw image 0, or its only array."""
    multiscales = find_multiscales(group.attrs)
    if multiscales is not None:
        try:
            level_path = multiscales["datasets"][0]["path"]
            array = group[level_path]
        except (KeyError, IndexError, TypeError) as exc:
            raise CorruptFileError(
                f"{source}: NGFF multiscales metadata names no readable level 0 ({exc})"
            ) from exc
        if not isinstance(array, zarr.Array):
            raise CorruptFileError(f"{source}: NGFF level 0 {level_path!r} is not an array")
        return array, group, multiscales, 0
    names = sorted(group.array_keys())
    if not names and "bioformats2raw.layout" in group.attrs and "0" in group:
        return _image_in_group(group["0"], f"{source}/0")
    if len(names) == 1:
        return group[names[0]], group, None, 0
    if not names:
        subgroups = ", ".join(sorted(group.group_keys())) or "none"
        raise InvalidImageError(
            f"{source}: Zarr group holds no arrays (subgroups: {subgroups}); point at the "
            f"array or image group to read, e.g. {source}/<name>"
        )
    raise InvalidImageError(
        f"{source}: Zarr group holds several arrays ({', '.join(names)}) and no OME-Zarr "
        f"metadata says which is the image; point at one, e.g. {source}/{names[0]}"
    )


def _parent_ngff(path: Path) -> tuple[zarr.Group | None, dict[str, Any] | None, int]:
    """NGFF context of an array opened directly: its group, multiscales and level index."""
    try:
        parent = zarr.open_group(str(path.parent), mode="r")
    except (FileNotFoundError, ValueError, TypeError, KeyError):
        return None, None, 0
    multiscales = find_multiscales(parent.attrs)
    paths = [d.get("path") for d in (multiscales or {}).get("datasets", []) if isinstance(d, dict)]
    if path.name not in paths:
        return None, None, 0
    return parent, multiscales, paths.index(path.name)


def _dask_chunks(
    letters: str, array: zarr.Array, chunks: int | tuple[int, ...] | None
) -> tuple[int, ...]:
    """Dask chunks in store axis order: the store's, or 1 for leading axes and (y, x) given."""
    if chunks is None:
        return tuple(getattr(array, "shards", None) or array.chunks)
    if isinstance(chunks, int):
        yx = (chunks, chunks)
    elif len(chunks) in (2, array.ndim):
        yx = (int(chunks[-2]), int(chunks[-1]))
    else:
        raise ValueError(f"chunks {chunks!r}: give an int, a (y, x) pair or one size per axis")
    if min(yx) < 1:
        raise ValueError(f"chunks must be positive, got {chunks!r}")
    sizes = dict(zip("yx", yx, strict=True))
    return tuple(
        min(int(sizes.get(letter, 1)), n) for letter, n in zip(letters, array.shape, strict=True)
    )


def _check_pyramid(shape_yx: tuple[int, ...], levels: int) -> None:
    """Raise ValueError unless ``levels`` halvings leave at least one pixel along y and x."""
    possible = int(np.floor(np.log2(min(shape_yx))))
    if levels < 0 or levels > possible:
        raise ValueError(
            f"pyramid_levels={levels} does not fit a {shape_yx[0]}x{shape_yx[1]} image; "
            f"use 0 to {possible}"
        )


def _store_level(
    group: zarr.Group,
    name: str,
    data: da.Array,
    axes: str,
    tile: tuple[int, ...],
    writing: dict[str, Any],
) -> None:
    """Create array ``name`` in ``group`` and store ``data`` into it chunk by chunk."""
    chunks = (1,) * (data.ndim - 2) + tuple(
        min(int(t), n) for t, n in zip(tile, data.shape[-2:], strict=True)
    )
    if name in group:
        array = group[name]
        if array.shape != data.shape or array.chunks != chunks:
            raise ValueError(f"{name}: existing array {array.shape} does not match {data.shape}")
    else:
        array = group.create_array(
            name=name,
            shape=data.shape,
            chunks=chunks,
            dtype=np.float32,
            fill_value=np.nan,
            dimension_names=list(axes),
        )
    # band by band: graphs with halos (tiled inference) keep bounded memory that way
    band_bytes = writing["band_bytes"] or DEFAULT_BAND_BYTES
    store_in_bands(
        [data.rechunk(chunks)],
        [array],
        band_bytes=band_bytes,
        progress=writing["progress"],
        description="writing",
        journal=writing["journal"],
    )


def _srgan_attrs(meta: ImageMetadata, axes: str) -> dict[str, Any]:
    """Build the ``srgan_sci`` group attribute: value unit, source, axes, pixel units, header."""
    attrs: dict[str, Any] = {"units": meta.units, "source": meta.source, "axes": axes}
    pixel_units = {a: s.unit for a, s in meta.pixel_sizes.items() if a in axes and s.unit}
    if pixel_units:
        attrs["pixel_units"] = pixel_units
    if meta.fits_header is not None:
        attrs["fits_header"] = meta.fits_header.tostring(sep="\n", padding=False)
    return attrs
