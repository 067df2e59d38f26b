"""Multi-extension FITS (HST/JWST style): which HDU is what, and how each is upscaled.

A calibrated HST or JWST exposure holds an empty PRIMARY HDU and, per detector chip
(``EXTVER``), a science image ``SCI`` with companions of the same shape: ``ERR``
(1-sigma errors), ``DQ`` (integer bit flags) and variances ``VAR_POISSON``,
``VAR_RNOISE``, ``VAR_FLAT``...; other extensions (tables, ``AREA``, ``WCSCORR``...)
ride along.  :func:`mef_layout` gives each HDU a role; :func:`replicate` and
:func:`propagate_companion` compute the upscaled companions:

* ``DQ``: nearest-neighbour replication (``np.repeat``), same integer dtype, bits intact.
* ``ERR`` / ``VAR_*``: the *naive* ``SRERRMOD = 'naive-replicate'`` model: replicated,
  then multiplied by ``f`` (errors) or ``f**2`` (variances), with ``f = 1/s`` for
  per-pixel units and ``f = s`` for surface brightness
  (:meth:`~srgan_sci.io.units.UnitDecision.error_factor`): each input pixel's variance is
  split evenly over ``s**2`` *independent* output pixels.  The upscaled science pixels
  are in fact correlated (interpolation, the network's receptive field), so these errors
  describe no single output pixel exactly; sums over whole input pixels are right.

Headers of HST constant images (``NAXIS = 0`` with ``NPIX1``/``NPIX2``/``PIXVALUE``) are
rescaled the same way.  This module computes; the workflow decides which HDUs to write.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits

from srgan_sci.io.units import UnitDecision

__all__ = [
    "COPY",
    "ERROR",
    "LOOKUP_TABLE",
    "QUALITY",
    "SCIENCE",
    "VARIANCE",
    "MefHdu",
    "clean_image_header",
    "hdu_role",
    "mef_layout",
    "propagate_companion",
    "replicate",
]

SCIENCE, ERROR, VARIANCE, QUALITY, COPY, LOOKUP_TABLE = (
    "science",
    "error",
    "variance",
    "quality",
    "copy",
    "lookup-table",
)
COMPANIONS = (ERROR, VARIANCE, QUALITY)
_VARIANCE_NAME = re.compile(r"^VAR(_[A-Z0-9]+)?$")
_LOOKUP_TABLE_NAMES = frozenset({"WCSDVARR", "D2IMARR"})
_LAYOUT_KEYWORDS = frozenset(
    {"SIMPLE", "BITPIX", "NAXIS", "EXTEND", "XTENSION", "PCOUNT", "GCOUNT", "GROUPS"}
    | {"BSCALE", "BZERO", "BLANK", "DATASUM", "CHECKSUM", "ZIMAGE"}
)
_NAXIS_N = re.compile(r"^NAXIS\d+$")


@dataclass(frozen=True)
class MefHdu:
    """One HDU of a multi-extension file and its role in the upscale.

    Parameters
    ----------
    index : int
        Position in the file (0: PRIMARY).
    name, ver : str, int
        ``EXTNAME`` (upper case) and ``EXTVER``.
    role : str
        :data:`SCIENCE`, :data:`ERROR`, :data:`VARIANCE`, :data:`QUALITY`,
        :data:`LOOKUP_TABLE` or :data:`COPY`.
    shape : tuple of int
        Data shape (empty for no data or a table).
    """

    index: int
    name: str
    ver: int
    role: str
    shape: tuple[int, ...]

    @property
    def label(self) -> str:
        """``SCI,1`` style name."""
        return f"{self.name},{self.ver}" if self.index else "PRIMARY"


def hdu_role(name: str, *, is_image: bool) -> str:
    """Role of an HDU from its ``EXTNAME`` (before matching it with a science HDU)."""
    upper = name.strip().upper()
    if not is_image:
        return COPY
    if upper in _LOOKUP_TABLE_NAMES:
        return LOOKUP_TABLE
    if upper == "SCI":
        return SCIENCE
    if upper == "ERR":
        return ERROR
    if upper == "DQ":
        return QUALITY
    if _VARIANCE_NAME.match(upper):
        return VARIANCE
    return COPY


def mef_layout(path: Path) -> list[MefHdu] | None:
    """Roles of every HDU of ``path``, or None unless it has an image extension ``SCI``.

    A companion (``ERR``, ``DQ``, ``VAR_*``) is upscaled only when a ``SCI`` HDU of the
    same ``EXTVER`` has its shape (or it is an HST constant image); otherwise it is
    copied unchanged.  Headers only are read.

    Parameters
    ----------
    path : pathlib.Path
        A FITS file.

    Returns
    -------
    list of MefHdu or None
    """
    with fits.open(path, mode="readonly") as hdul:
        entries = []
        for index, hdu in enumerate(hdul):
            is_image = isinstance(hdu, (fits.PrimaryHDU, fits.ImageHDU, fits.CompImageHDU))
            header = hdu.header
            naxis = int(header.get("NAXIS", 0))
            shape = tuple(int(header.get(f"NAXIS{n}", 0)) for n in range(naxis, 0, -1))
            name = str(header.get("EXTNAME", "PRIMARY" if index == 0 else "")).strip().upper()
            constant = naxis == 0 and "NPIX1" in header and "NPIX2" in header
            role = hdu_role(name, is_image=is_image) if index else COPY
            entries.append((index, name, int(header.get("EXTVER", 1)), role, shape, constant))
    science = {ver: shape for _, _, ver, role, shape, _ in entries if role == SCIENCE and shape}
    if not science or len(entries) < 2:
        return None
    layout = []
    for index, name, ver, role, shape, constant in entries:
        if role == SCIENCE and not shape:
            role = COPY
        if role in COMPANIONS and not (constant or science.get(ver) == shape):
            role = COPY
        layout.append(MefHdu(index, name, ver, role, shape))
    return layout


def replicate(data: Any, scale: int) -> Any:
    """Nearest-neighbour upscale of the last two axes (NumPy or dask; dtype kept)."""
    return data.repeat(scale, axis=-2).repeat(scale, axis=-1)


def propagate_companion(
    data: np.ndarray | None,
    header: fits.Header,
    role: str,
    scale: int,
    units: UnitDecision,
) -> tuple[np.ndarray | None, fits.Header]:
    """Upscaled data of an ``ERR``, ``VAR_*`` or ``DQ`` HDU, and its header layout cards.

    Parameters
    ----------
    data : numpy.ndarray or None
        The HDU's (physical) data; None for an HST constant image.
    header : astropy.io.fits.Header
        Its header, already through ``upscale_header``; for a constant image
        ``NPIX1``/``NPIX2`` are multiplied by ``scale`` and ``PIXVALUE`` rescaled.
    role : {"error", "variance", "quality"}
        What the HDU holds.
    scale : int
        Upscale factor.
    units : UnitDecision
        Rule of the science values, which sets the error factor.

    Returns
    -------
    data, header
        Replicated data (quality: same dtype; errors: float32, float64 kept) and a copy
        of the header.
    """
    if role not in COMPANIONS:
        raise ValueError(f"role must be one of {COMPANIONS}, got {role!r}")
    factor = 1.0 if role == QUALITY else units.error_factor(scale)
    if role == VARIANCE:
        factor = factor**2
    header = header.copy()
    if data is None:
        for key in ("NPIX1", "NPIX2"):
            if key in header:
                header[key] = int(header[key]) * scale
        if "PIXVALUE" in header and role != QUALITY:
            header["PIXVALUE"] = float(header["PIXVALUE"]) * factor
        return None, header
    if role == QUALITY:
        return replicate(np.asarray(data), scale), header
    dtype = np.float64 if np.asarray(data).dtype == np.float64 else np.float32
    values = replicate(np.asarray(data, dtype=dtype), scale)
    return values * dtype(factor), header


def clean_image_header(header: fits.Header) -> fits.Header:
    """Copy of ``header`` without the cards astropy derives from the data it writes."""
    new = header.copy()
    for index in reversed(range(len(new))):
        keyword = new.cards[index].keyword
        if keyword in _LAYOUT_KEYWORDS or _NAXIS_N.match(keyword):
            del new[index]
    return new
