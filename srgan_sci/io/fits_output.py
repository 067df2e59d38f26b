"""FITS header cards of an upscaled output: units rule, detector keywords, provenance.

:func:`upscale_header` moves the WCS to the finer grid; the functions here record what
else changed, so that a reader of the output header knows how its values relate to the
input's:

* ``SRUNITS`` / ``SRUNISRC``: the unit rule (:mod:`srgan_sci.io.units`) and where it came
  from; ``SRFLUXC = T`` when values were divided by ``SRSCALE**2``.
* ``PIXAR_SR`` / ``PIXAR_A2`` (pixel area, JWST/HST) divided by ``scale**2``.
* Detector keywords that describe *input* pixels (``GAIN``, ``RDNOISE``, ``SATURATE``,
  ``SKYLEVEL``...; :data:`DETECTOR_KEYWORDS`) are removed, and their values kept in a
  ``HISTORY`` card: left in place they would mislead noise models (SExtractor, photutils)
  that read them as properties of the output pixels.  ``EXPTIME`` and photometric
  calibration keywords (``PHOTFLAM``, ``PHOTZPT``...) stay valid and are kept.
* ``SRMODEL``, ``SRMHASH`` (sha256 of the weights, or the baseline's name), ``SRVERS``
  and a ``HISTORY`` line: which model made the pixels.
* ``SRERRMOD`` on error and variance HDUs: how they were propagated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from astropy.io import fits

from srgan_sci._version import __version__
from srgan_sci.io.units import UnitDecision

__all__ = [
    "DETECTOR_KEYWORDS",
    "ERROR_MODEL",
    "FitsOutputWarning",
    "Provenance",
    "applied_value_factor",
    "finish_companion_header",
    "finish_science_header",
    "retire_detector_keywords",
    "scale_pixel_area",
]

DETECTOR_KEYWORDS = frozenset(
    {"GAIN", "EGAIN", "CCDGAIN", "ATODGAIN", "RDNOISE", "READNOIS", "RON", "READNOISE"}
    | {"SATURATE", "SATURAT", "SATLEVEL", "MAXLIN", "SKYLEVEL", "SKYSIGMA", "SKYNOISE"}
    | {"SKYRMS", "MDRIZSKY", "MEANBLEV", "MEANDARK"}
)
"""Keywords whose values describe input pixels and are removed from outputs."""
_DETECTOR_PER_AMPLIFIER = re.compile(r"^(ATODGN|READNSE|BIASLEV|GAIN|RDNOISE)[A-D]$")
PIXEL_AREA_KEYWORDS = ("PIXAR_SR", "PIXAR_A2")
ERROR_MODEL = "naive-replicate"
"""``SRERRMOD`` of propagated error and variance HDUs."""
_ERROR_COMMENT = "naive: replicated, split as independent"


class FitsOutputWarning(UserWarning):
    """A FITS input could not be carried into the output in full (see the message)."""


@dataclass(frozen=True)
class Provenance:
    """Which model made the output pixels.

    Parameters
    ----------
    model : str
        Model name (bundle name, or ``bicubic``/``lanczos``).
    model_hash : str
        sha256 of the model weights as recorded in the bundle, or the baseline's name.
    scale : int
        Upscale factor.
    version : str
        srgan_sci version.
    """

    model: str
    model_hash: str
    scale: int
    version: str = __version__


def retire_detector_keywords(header: fits.Header) -> list[str]:
    """Remove per-pixel detector keywords in place; keep their values in ``HISTORY``.

    Parameters
    ----------
    header : astropy.io.fits.Header
        Header of an upscaled HDU, modified in place.

    Returns
    -------
    list of str
        The keywords removed, in header order.
    """
    removed = []
    for card in list(header.cards):
        keyword = card.keyword
        if keyword in DETECTOR_KEYWORDS or _DETECTOR_PER_AMPLIFIER.match(keyword):
            if keyword not in (name for name, _ in removed):
                removed.append((keyword, card.value))
    for keyword, _ in removed:
        header.remove(keyword, remove_all=True)
    if removed:
        values = ", ".join(f"{keyword}={value}" for keyword, value in removed)
        header.add_history(
            f"srgan_sci: removed keywords describing input pixels, not output pixels: {values}"
        )
    return [keyword for keyword, _ in removed]


def scale_pixel_area(header: fits.Header, scale: int) -> None:
    """Divide the pixel-area keywords (``PIXAR_SR``, ``PIXAR_A2``) by ``scale**2``, in place."""
    for keyword in PIXEL_AREA_KEYWORDS:
        if keyword in header and isinstance(header[keyword], (int, float)):
            header[keyword] = float(header[keyword]) / scale**2


def finish_science_header(
    header: fits.Header, scale: int, units: UnitDecision, provenance: Provenance
) -> fits.Header:
    """Record units rule, provenance and retired keywords on an upscaled header.

    Parameters
    ----------
    header : astropy.io.fits.Header
        Output of :func:`~srgan_sci.io.fits_header.upscale_header` (WCS already moved);
        not modified.
    scale : int
        Upscale factor.
    units : UnitDecision
        The rule applied to the values.
    provenance : Provenance
        The model that made the pixels.

    Returns
    -------
    astropy.io.fits.Header
        A copy with ``SRUNITS``, ``SRUNISRC``, ``SRFLUXC``, ``SRMODEL``, ``SRMHASH``,
        ``SRVERS``, scaled ``PIXAR_*``, detector keywords removed and ``HISTORY`` added.
    """
    new = header.copy()
    retire_detector_keywords(new)
    scale_pixel_area(new, scale)
    if units.conserves_flux:
        comment = "values / SRSCALE**2: flux conserved"
        new["SRFLUXC"] = (True, "values divided by scale**2 (flux conserved)")
    else:
        comment = "values kept" + (" (BUNIT unknown)" if units.source == "assumed" else "")
        new.remove("SRFLUXC", ignore_missing=True, remove_all=True)
    new["SRUNITS"] = (units.rule, comment)
    new["SRUNISRC"] = (units.source, "unit rule from BUNIT, user or assumed")
    new["SRMODEL"] = (provenance.model, "srgan_sci model that made these pixels")
    new["SRMHASH"] = provenance.model_hash
    new["SRVERS"] = (provenance.version, "srgan_sci version")
    weights = "" if provenance.model_hash == provenance.model else " (weights: SRMHASH)"
    new.add_history(
        f"srgan_sci {provenance.version}: x{provenance.scale} by {provenance.model}{weights}; "
        f"{units.explain()}"
    )
    return new


def finish_companion_header(
    header: fits.Header, scale: int, role: str, units: UnitDecision | None = None
) -> fits.Header:
    """Header of an upscaled error, variance or data-quality HDU.

    Parameters
    ----------
    header : astropy.io.fits.Header
        Output of :func:`~srgan_sci.io.fits_header.upscale_header`; not modified.
    scale : int
        Upscale factor.
    role : {"error", "variance", "quality"}
        What the HDU holds.
    units : UnitDecision, optional
        Rule of the science values (needed for errors and variances).

    Returns
    -------
    astropy.io.fits.Header
        A copy with retired detector keywords, ``PIXAR_*`` scaled and, for errors and
        variances, ``SRERRMOD`` and a ``HISTORY`` line with the factor used.
    """
    new = header.copy()
    retire_detector_keywords(new)
    scale_pixel_area(new, scale)
    if role == "quality":
        new.add_history("srgan_sci: flags replicated nearest-neighbour (np.repeat), bits kept")
        return new
    if units is None:
        raise ValueError(f"a {role} HDU needs the science units rule")
    factor = units.error_factor(scale) ** (2 if role == "variance" else 1)
    new["SRERRMOD"] = (ERROR_MODEL, _ERROR_COMMENT)
    new.add_history(
        f"srgan_sci: {role} replicated and multiplied by {factor:g} ({units.rule}): each "
        f"input pixel split into {scale**2} independent output pixels. Naive: real "
        "upscaled errors are correlated between neighbouring pixels"
    )
    return new


def applied_value_factor(header: fits.Header | None) -> float:
    """Factor srgan_sci applied to the values of an upscaled output with this header.

    ``1/SRSCALE**2`` when ``SRFLUXC = T`` (per-pixel units), else 1.  Multiply the
    output by its inverse to get values in input units per output pixel position.

    Parameters
    ----------
    header : astropy.io.fits.Header or None
        Header of a file written by ``srsci upscale`` (or any header).

    Returns
    -------
    float
    """
    if header is None or header.get("SRFLUXC") is not True:
        return 1.0
    return 1.0 / int(header.get("SRSCALE", 1)) ** 2
