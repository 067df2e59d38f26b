"""The units rule of an upscale: BUNIT table, canonical spelling, decisions."""

import pytest

from srgan_sci.io.units import (
    KNOWN_BUNITS,
    PER_PIXEL,
    SURFACE_BRIGHTNESS,
    canonical_bunit,
    classify_bunit,
    decide_units,
)


@pytest.mark.parametrize(("bunit", "rule"), sorted(KNOWN_BUNITS.items()))
def test_every_known_bunit_is_classified_by_the_table(bunit, rule):
    assert classify_bunit(bunit) == rule
    assert classify_bunit(bunit.upper()) == rule  # case does not matter
    assert classify_bunit(f"  {bunit} ") == rule  # nor padding (FITS strings are padded)


@pytest.mark.parametrize(
    "bunit",
    [
        "counts", "COUNTS", "count", "ADU", "adu/s", "e-/s", "e-/sec", "electron/s",
        "ELECTRONS/S", "electrons/s", "electron s-1", "e/s", "DN", "DN/s", "DN s-1",
        "nanomaggy", "nanomaggies", "Jy/pixel", "Jy/pix", "Jy / pixel", "mJy/pixel", "nJy",
        "counts/s/pixel", "erg s-1 cm-2 A-1",
    ],
)  # fmt: skip
def test_per_pixel_spellings(bunit):
    assert classify_bunit(bunit) == PER_PIXEL


@pytest.mark.parametrize(
    "bunit",
    [
        "MJy/sr", "MJy sr-1", "Jy/sr", "mJy/arcsec2", "mag/arcsec2", "mag/arcsec**2",
        "mag/arcsec^2", "mag arcsec-2", "erg/s/cm2/A/arcsec2", "erg/s/cm**2/A/arcsec**2",
        "erg s-1 cm-2 A-1 arcsec-2", "erg/cm2/s/A/arcsec2", "W/m2/sr", "Jy/beam", "K",
        "10**(-20)*erg/s/cm**2/Angstrom/arcsec**2", "uJy/deg2",
    ],
)  # fmt: skip
def test_surface_brightness_spellings(bunit):
    assert classify_bunit(bunit) == SURFACE_BRIGHTNESS


@pytest.mark.parametrize("bunit", [None, "", "   ", "furlong", "mag", "percent", "relative"])
def test_unknown_or_missing_bunit_has_no_rule(bunit):
    assert classify_bunit(bunit) is None


def test_canonical_form_ignores_order_and_notation():
    forms = ["erg/s/cm2/A/arcsec2", "erg s-1 cm-2 A-1 arcsec-2", "ERG/CM**2/S/A/ARCSEC^2"]
    assert len({canonical_bunit(form) for form in forms}) == 1
    assert canonical_bunit("e-/sec") == canonical_bunit("e- s-1") == "e-/s"
    assert canonical_bunit("e-") == "e-"  # the electron's minus is not an exponent


def test_decision_factors_per_pixel_and_surface_brightness():
    counts, brightness = decide_units("counts"), decide_units("MJy/sr")
    assert (counts.rule, counts.source, counts.conserves_flux) == (PER_PIXEL, "BUNIT", True)
    assert counts.value_factor(2) == 0.25 and counts.value_factor(4) == 1 / 16
    assert counts.error_factor(2) == 0.5  # variance / s**2 over s**2 pixels sums back
    assert not brightness.conserves_flux and brightness.value_factor(3) == 1.0
    assert brightness.error_factor(2) == 2.0  # variance * s**2 averages back over s**2 pixels


def test_unknown_bunit_is_assumed_and_keeps_values():
    decision = decide_units("furlong")
    assert decision.source == "assumed" and decision.value_factor(4) == 1.0
    assert "'furlong' is not a known unit" in decision.explain()
    assert "--units per-pixel" in decision.explain()
    assert decide_units(None).explain().startswith("no BUNIT")


@pytest.mark.parametrize(
    ("requested", "bunit"), [(PER_PIXEL, "MJy/sr"), (SURFACE_BRIGHTNESS, "adu")]
)
def test_user_choice_overrides_bunit(requested, bunit):
    decision = decide_units(bunit, requested)
    assert (decision.rule, decision.source, decision.bunit) == (requested, "user", bunit)


def test_bad_request_raises():
    with pytest.raises(ValueError, match="units must be one of"):
        decide_units("adu", "per-area")
