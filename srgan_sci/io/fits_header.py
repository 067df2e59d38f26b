"""FITS headers for an upscaled pixel grid: linear WCS, alternates, SIP, provenance."""

from __future__ import annotations

import re
import warnings

from astropy.io import fits

from srgan_sci._version import __version__
from srgan_sci.errors import SrsciError

__all__ = [
    "LOOKUP_CHOICES",
    "LookupDistortionError",
    "lookup_distortion_keywords",
    "lookup_distortion_message",
    "upscale_header",
]

_SIP_COEFFICIENT = re.compile(r"^(A|B|AP|BP)_(\d+)_(\d+)$")
_WCS_KEYWORD = re.compile(r"^(CTYPE|CRVAL|CRPIX|CDELT|CUNIT|CROTA)(\d+)([A-Z]?)$")
_WCS_MATRIX = re.compile(r"^(CD|PC)(\d+)_(\d+)([A-Z]?)$")
_LOOKUP_DISTORTION = re.compile(
    r"^(CPDIS|CPERR|DP|DQ|D2IMDIS|D2IMERR|D2IM)\d+$|^(D2IMEXT|NPOLEXT|AXISCORR)$"
)
SPATIAL_FITS_AXES = (1, 2)  # FITS axis numbers of x (NAXIS1) and y (NAXIS2)
LOOKUP_CHOICES = ("refuse", "drop")
"""What :func:`upscale_header` does with lookup-table distortions."""


class LookupDistortionError(SrsciError, ValueError):
    """A header has lookup-table distortions, which an upscaled grid cannot carry."""


def lookup_distortion_keywords(header: fits.Header) -> list[str]:
    """Lookup-table distortion keywords of ``header`` (``CPDISn``, ``D2IMDISn``, ``DPn``...).

    Parameters
    ----------
    header : astropy.io.fits.Header
        Any header.

    Returns
    -------
    list of str
        Sorted distinct keywords; empty when there is no lookup-table distortion.
    """
    return sorted(
        {card.rawkeyword for card in header.cards if _LOOKUP_DISTORTION.match(card.rawkeyword)}
    )


def lookup_distortion_message(keywords: list[str], source: str = "header") -> str:
    """The one-line refusal for a header with the lookup-table ``keywords``."""
    shown = ", ".join(keywords[:6]) + (", ..." if len(keywords) > 6 else "")
    return (
        f"{source}: lookup-table distortion ({shown}) refers to tables sampled on the input "
        "pixel grid and cannot be rescaled; pass --drop-lookup-distortion (Python: "
        "lookup='drop') to remove it and keep the linear WCS and SIP terms only, or "
        "resample the image with a tool that applies the full distortion model first"
    )


def upscale_header(
    header: fits.Header, scale: int, *, flux_conserving: bool = False, lookup: str = "drop"
) -> fits.Header:
    """Header for the same field of view sampled ``scale`` times more finely in x and y.

    Output pixel ``i`` (0-based) covers input pixel coordinate ``(i + 0.5)/scale - 0.5``,
    and the returned WCS gives it exactly the world coordinate the input WCS gives there.
    With FITS 1-based pixel centres that means, for the x and y axes (NAXIS1, NAXIS2):
    ``CRPIXi' = scale * (CRPIXi - 0.5) + 0.5``; the ``CDi_j`` matrix divided by
    ``scale``, or else ``CDELTi`` divided by ``scale`` (``PCi_j`` unchanged when it does
    not mix spatial and other axes); SIP coefficients ``A_p_q``, ``B_p_q``, ``AP_p_q``,
    ``BP_p_q`` multiplied by ``scale**(1 - p - q)``.  Alternate WCSs (``CRPIX1A``...)
    get the same changes.  Lookup-table distortions (``CPDISn``, ``D2IMDISn``, ``DPn``,
    ``DQn``...) refer to tables sampled on the input grid in other HDUs and cannot be
    resampled by editing cards: ``lookup`` says whether to refuse or remove them.

    Parameters
    ----------
    header : astropy.io.fits.Header
        Header of the input image; not modified.
    scale : int
        Upscale factor, a positive integer.
    flux_conserving : bool
        Record (``SRFLUXC = T``) that pixel values were divided by ``scale**2``.
    lookup : {"drop", "refuse"}
        Lookup-table distortions: ``"drop"`` (the default, for backward compatibility)
        removes them with a warning and a ``HISTORY`` card; ``"refuse"`` raises
        :class:`LookupDistortionError`.  ``srsci upscale`` refuses unless given
        ``--drop-lookup-distortion``.

    Returns
    -------
    astropy.io.fits.Header
        New header with ``NAXIS1``/``NAXIS2`` multiplied, the WCS updated, ``DATASUM`` and
        ``CHECKSUM`` removed, ``SRSCALE`` set and a ``HISTORY`` card added.

    Raises
    ------
    LookupDistortionError
        If ``lookup="refuse"`` and the header has lookup-table distortions.
    ValueError
        If ``scale`` is not a positive integer or ``lookup`` is unknown.

    Examples
    --------
    >>> from astropy.io import fits
    >>> header = fits.Header({"NAXIS": 2, "NAXIS1": 10, "NAXIS2": 8, "CRPIX1": 5.5,
    ...                       "CRPIX2": 4.0, "CDELT1": -0.001, "CDELT2": 0.001})
    >>> new = upscale_header(header, 2)
    >>> new["NAXIS1"], new["CRPIX1"], new["CRPIX2"], new["CDELT2"]
    (20, 10.5, 7.5, 0.0005)
    """
    if isinstance(scale, bool) or int(scale) != scale or scale < 1:
        raise ValueError(f"scale must be a positive integer, got {scale!r}")
    scale = int(scale)
    if lookup not in LOOKUP_CHOICES:
        raise ValueError(f"lookup must be one of {', '.join(LOOKUP_CHOICES)}, got {lookup!r}")
    if lookup == "refuse" and lookup_distortion_keywords(header):
        raise LookupDistortionError(lookup_distortion_message(lookup_distortion_keywords(header)))
    new = header.copy()
    for axis in SPATIAL_FITS_AXES:
        key = f"NAXIS{axis}"
        if key in new:
            new[key] = int(new[key]) * scale
    for alt in _wcs_alternates(new):
        _upscale_linear_wcs(new, scale, alt)
    _upscale_sip(new, scale)
    dropped = _remove_lookup_distortions(new)
    for key in ("DATASUM", "CHECKSUM"):
        new.remove(key, ignore_missing=True, remove_all=True)
    new["SRSCALE"] = (scale, "upscale factor applied by srgan_sci")
    if flux_conserving:
        new["SRFLUXC"] = (True, "values divided by scale**2 (flux conserved)")
    else:
        new.remove("SRFLUXC", ignore_missing=True, remove_all=True)
    if dropped:
        new.add_history(
            f"srgan_sci {__version__}: removed lookup-table distortion {', '.join(dropped)}"
        )
        warnings.warn(
            f"upscale_header: lookup-table distortion ({', '.join(dropped)}) cannot be rescaled "
            "and was removed; astrometry keeps the linear and SIP terms only",
            UserWarning,
            stacklevel=2,
        )
    new.add_history(f"srgan_sci {__version__}: upscaled x{scale}")
    return new


def _wcs_alternates(header: fits.Header) -> list[str]:
    """Alternate-WCS letters present in ``header`` (``""`` for the primary WCS)."""
    found = set()
    for keyword in header:
        match = _WCS_KEYWORD.match(keyword) or _WCS_MATRIX.match(keyword)
        if match:
            found.add(match.groups()[-1])
    return sorted(found)


def _upscale_linear_wcs(header: fits.Header, scale: int, alt: str) -> None:
    """Rescale CRPIX, CD, or CDELT (and PC where it mixes axes) of one WCS, in place.

    With ``M = diag(CDELT) @ PC`` (or ``M = CD``) the new matrix is
    ``M @ diag(1/s, 1/s, 1, ...)``: columns of the spatial pixel axes divided by s.  In
    the PC form, CDELT of world axes 1 and 2 is divided by s, so PC entries that couple a
    spatial with a non-spatial axis are multiplied (row spatial) or divided (column
    spatial) by s; the usual block-diagonal PC is left unchanged.
    """
    for axis in SPATIAL_FITS_AXES:
        key = f"CRPIX{axis}{alt}"
        header[key] = scale * (float(header.get(key, 0.0)) - 0.5) + 0.5
    matrix = [_WCS_MATRIX.match(key) for key in header]
    matrix = [match for match in matrix if match and match[4] == alt]
    has_cd = any(match[1] == "CD" for match in matrix)
    has_pc = any(match[1] == "PC" for match in matrix)
    for match in matrix:
        kind, row, column = match[1], int(match[2]), int(match[3])
        key = match[0]
        if kind == "CD" and column in SPATIAL_FITS_AXES:
            header[key] = float(header[key]) / scale
        elif kind == "PC":
            factor = (scale if row in SPATIAL_FITS_AXES else 1) / (
                scale if column in SPATIAL_FITS_AXES else 1
            )
            if factor != 1:
                header[key] = float(header[key]) * factor
    if has_cd and not has_pc:
        return
    for axis in SPATIAL_FITS_AXES:
        key = f"CDELT{axis}{alt}"
        header[key] = float(header.get(key, 1.0)) / scale


def _upscale_sip(header: fits.Header, scale: int) -> None:
    """Rescale SIP polynomial coefficients (pixel units) in place."""
    for key in list(header):
        match = _SIP_COEFFICIENT.match(key)
        if match:
            power = int(match[2]) + int(match[3])
            header[key] = float(header[key]) * float(scale) ** (1 - power)
    for key in ("A_DMAX", "B_DMAX"):
        if key in header:
            header[key] = float(header[key]) * scale


def _remove_lookup_distortions(header: fits.Header) -> list[str]:
    """Delete lookup-table distortion cards in place; return the keywords removed."""
    dropped = lookup_distortion_keywords(header)
    for index in reversed(range(len(header))):
        if header.cards[index].rawkeyword in dropped:
            del header[index]
    return dropped
