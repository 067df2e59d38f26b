"""What an upscale by ``s`` does to pixel values, decided from the value unit (``BUNIT``).

Two rules, recorded in the output header as ``SRUNITS``:

* ``per-pixel``: the unit counts something *per pixel* (counts, ADU, e-/s, DN,
  nanomaggies, Jy/pixel...).  An output pixel covers ``1/s**2`` of an input pixel, so
  values are divided by ``s**2`` and the total flux is conserved.
* ``surface-brightness``: the unit is per solid angle (MJy/sr, mag/arcsec2,
  erg/s/cm2/A/arcsec2, Jy/beam...) and does not depend on the pixel size: values are kept.

:func:`decide_units` reads ``BUNIT`` against :data:`KNOWN_BUNITS` after
:func:`canonical_bunit` has removed the differences of case, spacing and exponent
notation; a unit that is not in the table but whose denominator names a solid angle
(``sr``, ``arcsec2``, ``beam``...) or a pixel (``pix``, ``pixel``) is classified by that.
Anything else (or no ``BUNIT``) keeps the values, and the decision says it was assumed
so the caller can warn.  This module is pure: no I/O, no warnings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "KNOWN_BUNITS",
    "PER_PIXEL",
    "SURFACE_BRIGHTNESS",
    "UNIT_CHOICES",
    "UnitDecision",
    "canonical_bunit",
    "classify_bunit",
    "decide_units",
]

PER_PIXEL = "per-pixel"
SURFACE_BRIGHTNESS = "surface-brightness"
UNIT_CHOICES = ("auto", PER_PIXEL, SURFACE_BRIGHTNESS)
"""Values of ``srsci upscale --units``."""

_PER_PIXEL_UNITS = (
    *("count", "counts", "ct", "cts", "count/s", "counts/s", "ct/s", "cts/s", "cps"),
    *("adu", "adu/s", "dn", "dn/s", "photon", "photons", "photon/s", "photons/s"),
    *("e", "e-", "e/s", "e-/s", "electron", "electrons", "electron/s", "electrons/s"),
    *("nanomaggy", "nanomaggies", "nmgy", "maggy", "maggies"),
    *("jy", "mjy", "ujy", "njy", "jy/pixel", "jy/pix", "mjy/pixel", "mjy/pix"),
    *("ujy/pixel", "njy/pixel", "erg/s/cm2/a", "erg/s/cm2/hz", "w/m2/hz"),
)
_SURFACE_BRIGHTNESS_UNITS = (
    *("mjy/sr", "jy/sr", "kjy/sr", "mjy/arcsec2", "ujy/arcsec2", "jy/arcsec2", "njy/arcsec2"),
    *("mag/arcsec2", "mag/arcsec**2", "mag/arcsec^2", "mag arcsec-2"),
    *("erg/s/cm2/a/arcsec2", "erg/s/cm2/hz/arcsec2", "erg/s/cm2/a/sr", "erg/s/cm2/hz/sr"),
    *("w/m2/sr", "w/m2/hz/sr", "nw/m2/sr", "jy/beam", "mjy/beam", "k", "kelvin"),
)
KNOWN_BUNITS: dict[str, str] = {
    **dict.fromkeys(_PER_PIXEL_UNITS, PER_PIXEL),
    **dict.fromkeys(_SURFACE_BRIGHTNESS_UNITS, SURFACE_BRIGHTNESS),
}
"""``BUNIT`` spellings srgan_sci knows, mapped to their rule (compared canonically)."""

_SOLID_ANGLES = frozenset({"sr", "steradian", "arcsec2", "arcmin2", "deg2", "beam", "sqarcsec"})
_PIXELS = frozenset({"pix", "pixel", "pixels"})
_NEGATIVE_POWER = re.compile(r"^([a-z]+)-(\d+)$")
_PRODUCT = re.compile(r"[\s.*]+")
_TIME_WORDS = {"sec": "s", "second": "s", "seconds": "s"}


def canonical_bunit(text: str) -> str:
    """Canonical spelling of a unit string, for comparisons.

    Lower case; ``**`` and ``^`` dropped; ``µ`` as ``u``; negative powers turned into
    denominators (``"erg s-1 cm-2"`` -> ``"erg/cm2/s"``); ``sec`` as ``s``; denominators
    sorted.

    Parameters
    ----------
    text : str
        A ``BUNIT`` value.

    Returns
    -------
    str
        The canonical form; ``""`` for a blank string.

    Examples
    --------
    >>> canonical_bunit("erg s-1 cm-2 A-1 arcsec-2")
    'erg/a/arcsec2/cm2/s'
    >>> canonical_bunit("MJy / sr") == canonical_bunit("MJy sr-1")
    True
    """
    key = text.strip().lower().replace("**", "").replace("^", "")
    key = key.replace("µ", "u").replace("μ", "u").replace("(", " ").replace(")", " ")
    parts = key.split("/")
    numerator: list[str] = []
    denominator: list[str] = []
    for position, part in enumerate(parts):
        for token in filter(None, _PRODUCT.split(part)):
            match = _NEGATIVE_POWER.match(token)
            if match:
                power = "" if match[2] == "1" else match[2]
                denominator.append(_TIME_WORDS.get(match[1], match[1]) + power)
            elif position == 0:
                numerator.append(token)
            else:
                denominator.append(_TIME_WORDS.get(token, token))
    return " ".join(numerator) + "".join(f"/{name}" for name in sorted(denominator))


_CANONICAL_TABLE = {canonical_bunit(unit): rule for unit, rule in KNOWN_BUNITS.items()}


def classify_bunit(bunit: str | None) -> str | None:
    """Rule of a ``BUNIT`` value: :data:`PER_PIXEL`, :data:`SURFACE_BRIGHTNESS` or None.

    Parameters
    ----------
    bunit : str or None
        The value unit as found in the file.

    Returns
    -------
    str or None
        The rule from :data:`KNOWN_BUNITS`, else from a solid angle (surface brightness)
        or pixel (per pixel) in the denominator; None when unknown, blank or missing.

    Examples
    --------
    >>> classify_bunit("ELECTRONS/S"), classify_bunit("MJy/sr"), classify_bunit("furlong")
    ('per-pixel', 'surface-brightness', None)
    """
    if bunit is None or not bunit.strip():
        return None
    key = canonical_bunit(bunit)
    if key in _CANONICAL_TABLE:
        return _CANONICAL_TABLE[key]
    denominators = set(key.split("/")[1:])
    if denominators & _SOLID_ANGLES:
        return SURFACE_BRIGHTNESS
    if denominators & _PIXELS:
        return PER_PIXEL
    return None


@dataclass(frozen=True)
class UnitDecision:
    """The rule applied to pixel values on upscale, and why.

    Parameters
    ----------
    rule : {"per-pixel", "surface-brightness"}
        Per pixel: values divided by ``scale**2``; surface brightness: values kept.
    source : {"BUNIT", "user", "assumed"}
        Read from ``BUNIT``, given by the user (``--units``), or assumed because
        ``BUNIT`` is unknown or missing (values kept).
    bunit : str or None
        The ``BUNIT`` value seen.
    """

    rule: str
    source: str
    bunit: str | None = None

    @property
    def conserves_flux(self) -> bool:
        """Whether values are divided by ``scale**2`` (per-pixel units)."""
        return self.rule == PER_PIXEL

    def value_factor(self, scale: int) -> float:
        """Factor applied to pixel values: ``1/scale**2`` per pixel, else 1."""
        return 1.0 / scale**2 if self.conserves_flux else 1.0

    def error_factor(self, scale: int) -> float:
        """Factor applied to per-pixel errors under the naive independent-split model.

        An input pixel's variance is shared by ``scale**2`` independent output pixels
        whose sum (per pixel) or mean (surface brightness) reproduces it: errors are
        divided by ``scale`` per pixel, multiplied by ``scale`` for surface brightness.
        """
        return 1.0 / scale if self.conserves_flux else float(scale)

    def explain(self) -> str:
        """One line saying why this rule was chosen."""
        unit = f"BUNIT {self.bunit!r}" if self.bunit else "no BUNIT"
        if self.source == "user":
            return f"--units {self.rule} ({unit})"
        if self.source == "BUNIT":
            return f"{unit} is {self.rule}"
        known = f"{unit} is not a known unit" if self.bunit else unit
        return (
            f"{known}: pixel values kept (as for surface brightness); pass --units "
            f"{PER_PIXEL} if they count per pixel, so that flux is conserved"
        )


def decide_units(bunit: str | None, requested: str = "auto") -> UnitDecision:
    """Decide how pixel values change on upscale.

    Parameters
    ----------
    bunit : str or None
        ``BUNIT`` of the image.
    requested : {"auto", "per-pixel", "surface-brightness"}
        ``auto`` classifies ``bunit`` (:func:`classify_bunit`); the others force a rule.

    Returns
    -------
    UnitDecision
        With ``source="assumed"`` (and rule surface brightness: values kept) when
        ``auto`` finds no rule for ``bunit``.

    Raises
    ------
    ValueError
        If ``requested`` is not one of :data:`UNIT_CHOICES`.

    Examples
    --------
    >>> decide_units("counts").value_factor(2)
    0.25
    >>> decide_units(None).source
    'assumed'
    """
    if requested not in UNIT_CHOICES:
        raise ValueError(f"units must be one of {', '.join(UNIT_CHOICES)}, got {requested!r}")
    if requested != "auto":
        return UnitDecision(requested, "user", bunit)
    rule = classify_bunit(bunit)
    if rule is None:
        return UnitDecision(SURFACE_BRIGHTNESS, "assumed", bunit)
    return UnitDecision(rule, "BUNIT", bunit)
