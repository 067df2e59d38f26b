"""Chunk readers of FITS image data: memory-mapped, tile-compressed and streamed.

Each reader is a small picklable object with ``shape``, ``dtype`` and ``__getitem__`` that
returns float32 physical values (``BSCALE``/``BZERO`` applied, ``BLANK`` as NaN) for one
chunk, so :func:`dask.array.from_array` can wrap it without loading anything.
"""

from __future__ import annotations

import math
import mmap
from dataclasses import dataclass

import numpy as np
from astropy.io import fits

DISK_DTYPES = {8: ">u1", 16: ">i2", 32: ">i4", 64: ">i8", -32: ">f4", -64: ">f8"}
"""numpy dtype of each FITS BITPIX as stored on disk (big-endian)."""


@dataclass(frozen=True)
class Scaling:
    """Linear scaling from stored to physical values: ``raw * bscale + bzero``, BLANK -> NaN."""

    bscale: float = 1.0
    bzero: float = 0.0
    blank: int | None = None

    @property
    def is_identity(self) -> bool:
        """Whether stored values are the physical values."""
        return self.bscale == 1 and self.bzero == 0 and self.blank is None


def header_scaling(header: fits.Header) -> Scaling:
    """``BSCALE``/``BZERO``/``BLANK`` of an image header (BLANK only counts for integers)."""
    blank = header.get("BLANK")
    usable_blank = (
        int(header["BITPIX"]) > 0 and isinstance(blank, int) and not isinstance(blank, bool)
    )
    return Scaling(
        bscale=float(header.get("BSCALE", 1.0)),
        bzero=float(header.get("BZERO", 0.0)),
        blank=blank if usable_blank else None,
    )


def physical_dtype(bitpix: int, scaling: Scaling) -> np.dtype:
    """Return the dtype astropy gives the scaled data: what the file holds, physically.

    Follows astropy's rules: the unsigned-integer convention (``BZERO = 2**(n-1)``) gives
    ``uintN`` (``int8`` for ``BZERO = -128`` on bytes); other scaled or blanked integers
    give float32 (8 and 16 bit) or float64 (32 and 64 bit).
    """
    stored = np.dtype(DISK_DTYPES[bitpix]).newbyteorder("=")
    if bitpix < 0:
        return stored
    if scaling.bscale == 1 and bitpix == 8 and scaling.bzero == -128:
        return np.dtype(np.int8)
    if scaling.bscale == 1 and bitpix > 8 and scaling.bzero == 2 ** (bitpix - 1):
        return np.dtype(f"uint{bitpix}")
    if scaling.is_identity:
        return stored
    return np.dtype(np.float64 if bitpix > 16 else np.float32)


def physical_values(raw: np.ndarray, scaling: Scaling) -> np.ndarray:
    """Native-endian float32 physical values of a block of stored values (a copy)."""
    if scaling.is_identity:
        with np.errstate(over="ignore"):  # float64 beyond float32 range -> inf -> NaN later
            return raw.astype(np.float32)
    values = raw.astype(np.float64)
    if scaling.bscale != 1:
        values *= scaling.bscale
    if scaling.bzero != 0:
        values += scaling.bzero
    if scaling.blank is not None:
        values[raw == scaling.blank] = np.nan
    with np.errstate(over="ignore"):
        return values.astype(np.float32)


class Float32Blocks:
    """What dask needs of an array-like besides ``__getitem__``: float32 of ``shape``."""

    shape: tuple[int, ...]
    dtype = np.dtype(np.float32)

    @property
    def ndim(self) -> int:
        """Number of axes."""
        return len(self.shape)


@dataclass(frozen=True)
class MappedImage(Float32Blocks):
    """Uncompressed FITS data block as an array-like; every read maps the file anew.

    Holding a path rather than an open map keeps no file open between reads and lets the
    dask graph pickle to other processes.
    """

    path: str
    offset: int
    shape: tuple[int, ...]
    disk_dtype: str
    scaling: Scaling

    def __getitem__(self, key: tuple[slice, ...]) -> np.ndarray:
        with open(self.path, "rb") as file:
            mapped = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
        if _reads_part_of_rows(key, self.shape[-1]) and hasattr(mmap, "MADV_RANDOM"):
            # Each row of a block is a short run of bytes far from the next one: without
            # this hint the kernel reads ahead and maps ~16x the block (slow, RSS peaks).
            mapped.madvise(mmap.MADV_RANDOM)
        raw = np.frombuffer(
            mapped, dtype=self.disk_dtype, count=math.prod(self.shape), offset=self.offset
        ).reshape(self.shape)
        return physical_values(raw[key], self.scaling)  # a copy; the map closes with `raw`


def _reads_part_of_rows(key: object, row_length: int) -> bool:
    """Whether indexing with ``key`` reads less than whole rows (the last axis)."""
    if not isinstance(key, tuple):
        key = (key,)
    last = key[-1] if key else slice(None)
    if not isinstance(last, slice):
        return True
    return len(range(*last.indices(row_length))) < row_length


@dataclass(frozen=True)
class CompressedImage(Float32Blocks):
    """Tile-compressed image HDU as an array-like; reads only the tiles a block needs."""

    path: str
    index: int
    shape: tuple[int, ...]

    def __getitem__(self, key: tuple[slice, ...]) -> np.ndarray:
        with fits.open(self.path, mode="readonly") as hdul:
            block = hdul[self.index].section[key]  # astropy applies scaling and BLANK
        return np.asarray(block).astype(np.float32)


@dataclass(frozen=True)
class StreamedImage(Float32Blocks):
    """Image in a whole-file compressed FITS (gzip, bzip2...): decompressed on each read."""

    path: str
    index: int
    shape: tuple[int, ...]
    scaling: Scaling

    def __getitem__(self, key: tuple[slice, ...]) -> np.ndarray:
        with fits.open(self.path, mode="readonly", do_not_scale_image_data=True) as hdul:
            raw = hdul[self.index].data[key]
            return physical_values(raw, self.scaling)
