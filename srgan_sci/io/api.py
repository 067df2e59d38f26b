"""The front door of :mod:`srgan_sci.io`: format detection and dispatch."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import dask.array as da

from srgan_sci.errors import InputNotFoundError, OutputExistsError, UnsupportedFormatError
from srgan_sci.io import fits, tiff, zarr_io
from srgan_sci.io.metadata import ImageMetadata, LazyImage, PixelSize

_SUFFIXES = {
    ".fits": "fits",
    ".fit": "fits",
    ".fts": "fits",
    ".fits.gz": "fits",
    ".fits.fz": "fits",
    ".fz": "fits",
    ".tif": "tiff",
    ".tiff": "tiff",
    ".ome.tif": "tiff",
    ".ome.tiff": "tiff",
    ".zarr": "zarr",
    ".ome.zarr": "zarr",
}
T = TypeVar("T")
_HDU_SELECTOR = re.compile(r"^(?P<path>.+)\[(?P<hdu>[^\[\]]+)\]$")


def split_hdu_selector(path_spec: str | Path) -> tuple[Path, str | None]:
    """Split ``"file.fits[SCI]"`` into ``(Path("file.fits"), "SCI")``.

    A trailing ``[...]`` is only treated as a selector when the full string is not an
    existing path.
    """
    text = str(path_spec)
    match = _HDU_SELECTOR.match(text)
    if match and not Path(text).exists():
        return Path(match["path"]), match["hdu"]
    return Path(text), None


def detect_format(path: str | Path) -> str:
    """Return ``"fits"``, ``"tiff"`` or ``"zarr"`` for ``path``.

    The suffix decides; a directory holding ``zarr.json`` or ``.zgroup``/``.zarray`` is Zarr
    whatever its name.

    Raises
    ------
    UnsupportedFormatError
        If the format is not recognised.
    """
    path = Path(path)
    if path.is_dir() and any(
        (path / name).exists() for name in ("zarr.json", ".zgroup", ".zarray")
    ):
        return "zarr"
    name = path.name.lower()
    for suffix in sorted(_SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix):
            return _SUFFIXES[suffix]
    known = ", ".join(sorted(set(_SUFFIXES)))
    raise UnsupportedFormatError(
        f"{path}: unknown image format (suffix {path.suffix or 'none'!r}); use one of {known}"
    )


def open_array(path_spec: str | Path, *, chunks: int | tuple[int, ...] | None = None) -> LazyImage:
    """Open an image file as a lazy float32 dask array plus metadata.

    Parameters
    ----------
    path_spec : str or pathlib.Path
        Path to a FITS, TIFF/OME-TIFF or Zarr/OME-Zarr image.  FITS paths may end in an HDU
        selector: ``"image.fits[2]"`` or ``"image.fits[SCI]"``; without one, the first HDU
        holding image data is used.
    chunks : int or tuple of int, optional
        Chunk size of the (y, x) axes of the returned dask array (leading axes get chunk 1).
        Default: the file's own chunking where it has one, else 1024.

    Returns
    -------
    LazyImage
        ``data`` is float32 with NaN where the file had blank or non-finite values; nothing
        is read until it is computed.

    Raises
    ------
    InputNotFoundError, UnsupportedFormatError, InvalidImageError, CorruptFileError
        With a message that says how to fix the input.
    """
    path, hdu = split_hdu_selector(path_spec)
    if not path.exists():
        raise InputNotFoundError(f"{path}: no such file or directory")
    kind = detect_format(path)
    if kind == "fits":
        return fits.read_fits(path, hdu=hdu, chunks=chunks)
    if hdu is not None:
        raise UnsupportedFormatError(f"{path_spec}: an [HDU] selector only applies to FITS files")
    if kind == "tiff":
        return tiff.read_tiff(path, chunks=chunks)
    return zarr_io.read_zarr(path, chunks=chunks)


def upscaled_metadata(
    meta: ImageMetadata, scale: int, *, flux_conserving: bool = False, lookup: str = "drop"
) -> ImageMetadata:
    """Metadata for the same field of view sampled ``scale`` times more finely.

    Pixel sizes of y and x are divided by ``scale``; a FITS header gets its WCS, NAXIS and
    history updated (see :func:`srgan_sci.io.fits.upscale_header`).

    Parameters
    ----------
    meta : ImageMetadata
        Metadata of the input image.
    scale : int
        Integer upscale factor (>= 1).
    flux_conserving : bool
        Record that pixel values were divided by ``scale**2`` so that sums are conserved.
    lookup : {"drop", "refuse"}
        What to do with FITS lookup-table distortions (see
        :func:`srgan_sci.io.fits_header.upscale_header`).
    """
    if int(scale) != scale or scale < 1:
        raise ValueError(f"scale must be a positive integer, got {scale!r}")
    scale = int(scale)
    pixel_sizes = {
        axis: PixelSize(size.value / scale, size.unit) if axis in "yx" else size
        for axis, size in meta.pixel_sizes.items()
    }
    header = meta.fits_header
    if header is not None:
        header = fits.upscale_header(header, scale, flux_conserving=flux_conserving, lookup=lookup)
    return meta.with_updates(pixel_sizes=pixel_sizes, fits_header=header)


def write_array(
    path: str | Path,
    data: da.Array,
    meta: ImageMetadata,
    *,
    overwrite: bool = False,
    **options: object,
) -> Path:
    """Write ``data`` with ``meta`` to ``path``; the format follows the suffix.

    ``meta`` must already describe ``data`` (use :func:`upscaled_metadata` after an
    upscale).  The file appears under its final name only once it is complete: writers
    write to a temporary sibling and rename it.

    Parameters
    ----------
    path : str or pathlib.Path
        Output path (``.fits``, ``.tif``/``.ome.tif``, ``.zarr``/``.ome.zarr``).
    data : dask.array.Array
        Data to write, last two axes (y, x); computed chunk by chunk for Zarr.
    meta : ImageMetadata
        Metadata describing ``data``.
    overwrite : bool
        Replace an existing output.  Without it an existing path raises
        :class:`OutputExistsError`.
    **options
        Passed to the format's writer (e.g. ``pyramid_levels`` for OME-Zarr).

    Returns
    -------
    pathlib.Path
        The written path.
    """
    path = Path(path)
    kind = detect_format(path)
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path} exists; pass --overwrite to replace it")
    data = da.asarray(data)
    writers = {"fits": fits.write_fits, "tiff": tiff.write_tiff, "zarr": zarr_io.write_zarr}
    resume = bool(options.get("resume"))
    if resume and kind != "zarr":
        raise UnsupportedFormatError(f"{path}: resuming needs a Zarr/OME-Zarr output")
    replace_atomically(
        path, lambda partial: writers[kind](partial, data, meta, **options), resumable=resume
    )
    return path


def replace_atomically(path: Path, write: Callable[[Path], T], *, resumable: bool = False) -> T:
    """Run ``write(partial)`` on a temporary sibling of ``path``, then rename it to ``path``.

    An existing ``path`` is replaced only after the write succeeded; a failed or
    interrupted write leaves no partial output under the final name.  With ``resumable``
    the sibling has a fixed name (``.NAME.partial``) and is kept when the write fails,
    so a later resumable call continues it.

    Parameters
    ----------
    path : pathlib.Path
        Final output path (file or directory).
    write : callable
        Writes the complete output at the path it is given and returns a value.

    Returns
    -------
    object
        What ``write`` returned.
    """
    path = Path(path)
    if resumable:
        partial = partial_path(path)
    else:
        partial = path.with_name(f".{path.name}.partial-{os.getpid()}")
        _remove(partial)
    try:
        result = write(partial)
    except BaseException:
        if not resumable:
            _remove(partial)
        raise
    _remove(path)
    partial.rename(path)
    return result


def partial_path(path: Path) -> Path:
    """Where a resumable write of ``path`` keeps its unfinished output."""
    return Path(path).with_name(f".{Path(path).name}.partial")


def _remove(path: Path) -> None:
    """Delete a file or directory tree if it exists."""
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()
