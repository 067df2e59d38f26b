"""Header cards of upscaled FITS outputs: lookup distortions, units, detector keywords."""

import warnings

import pytest
from astropy.io import fits
from fits_cases import HST_WFC3_PC_CDELT, header_from_text

from srgan_sci._version import __version__
from srgan_sci.errors import SrsciError
from srgan_sci.io.fits_header import (
    LookupDistortionError,
    lookup_distortion_keywords,
    upscale_header,
)
from srgan_sci.io.fits_output import (
    ERROR_MODEL,
    Provenance,
    applied_value_factor,
    finish_companion_header,
    finish_science_header,
    retire_detector_keywords,
)
from srgan_sci.io.units import decide_units

SHA = "3f" * 32


def lookup_header() -> fits.Header:
    """The HST WFC3 linear WCS plus D2IM and CPDIS lookup-table cards."""
    header = header_from_text(HST_WFC3_PC_CDELT)
    header["CPDIS1"] = "Lookup"
    header["D2IMDIS1"] = "LOOKUP"
    header["D2IMEXT"] = "iref$y7b1516hi_d2i.fits"
    header.append(fits.Card.fromstring("DP1     = 'EXTVER: 1'"))
    header.append(fits.Card.fromstring("DP1     = 'NAXES: 2'"))
    return header


def test_lookup_distortion_keywords_are_found():
    assert lookup_distortion_keywords(lookup_header()) == ["CPDIS1", "D2IMDIS1", "D2IMEXT", "DP1"]
    assert lookup_distortion_keywords(header_from_text(HST_WFC3_PC_CDELT)) == []


def test_upscale_header_refuses_lookup_distortion_on_request():
    with pytest.raises(LookupDistortionError, match="--drop-lookup-distortion") as caught:
        upscale_header(lookup_header(), 2, lookup="refuse")
    assert isinstance(caught.value, SrsciError)
    assert "\n" not in str(caught.value) and "CPDIS1" in str(caught.value)


def test_upscale_header_drop_removes_lookup_cards_with_history():
    with pytest.warns(UserWarning, match="lookup-table distortion"):
        new = upscale_header(lookup_header(), 2, lookup="drop")
    assert lookup_distortion_keywords(new) == []
    assert any("removed lookup-table distortion" in line for line in new["HISTORY"])


def test_upscale_header_refuse_passes_a_header_without_lookup_tables():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        new = upscale_header(header_from_text(HST_WFC3_PC_CDELT), 2, lookup="refuse")
    assert new["CRPIX1"] == 2 * (2048.0 - 0.5) + 0.5


def test_upscale_header_rejects_unknown_lookup_choice():
    with pytest.raises(ValueError, match="lookup must be one of"):
        upscale_header(fits.Header(), 2, lookup="ignore")


def detector_header() -> fits.Header:
    return fits.Header(
        {
            "BUNIT": "counts", "EXPTIME": 300.0, "GAIN": 2.5, "RDNOISE": 4.0, "SATURATE": 60000.0,
            "READNOIS": 4.1, "SKYLEVEL": 120.0, "SKYSIGMA": 11.0, "CCDGAIN": 2.0,
            "ATODGAIN": 2.0, "MAXLIN": 50000.0, "ATODGNB": 1.9, "PHOTFLAM": 1.5e-19,
            "PIXAR_SR": 4.0e-13, "PIXAR_A2": 0.0169,
        }
    )  # fmt: skip


def test_detector_keywords_are_removed_and_recorded_in_history():
    header = detector_header()
    removed = retire_detector_keywords(header)
    assert removed == [
        "GAIN", "RDNOISE", "SATURATE", "READNOIS", "SKYLEVEL", "SKYSIGMA", "CCDGAIN",
        "ATODGAIN", "MAXLIN", "ATODGNB",
    ]  # fmt: skip
    assert not set(removed) & set(header)
    assert header["EXPTIME"] == 300.0 and header["PHOTFLAM"] == 1.5e-19  # still valid
    history = " ".join(header["HISTORY"])
    assert "GAIN=2.5" in history and "SATURATE=60000.0" in history


@pytest.mark.parametrize(
    ("bunit", "rule", "fluxc"),
    [("counts", "per-pixel", True), ("MJy/sr", "surface-brightness", False)],
)
def test_science_header_records_units_provenance_and_pixel_area(bunit, rule, fluxc):
    provenance = Provenance(model="astro-x4", model_hash=SHA, scale=2)
    decision = decide_units(bunit)
    header = detector_header()
    header["BUNIT"] = bunit
    header["SRFLUXC"] = True  # stale from an earlier upscale: must not survive a kept-values one
    new = finish_science_header(header, 2, decision, provenance)
    assert new["SRUNITS"] == rule and new["SRUNISRC"] == "BUNIT"
    assert new.get("SRFLUXC", False) is fluxc
    assert (new["SRMODEL"], new["SRMHASH"], new["SRVERS"]) == ("astro-x4", SHA, __version__)
    assert new["PIXAR_SR"] == pytest.approx(1.0e-13) and new["PIXAR_A2"] == pytest.approx(0.004225)
    assert "GAIN" not in new and new["EXPTIME"] == 300.0
    assert "x2 by astro-x4 (weights: SRMHASH); BUNIT" in "".join(new["HISTORY"])
    assert header["PIXAR_SR"] == 4.0e-13  # the input header is not modified


def test_applied_value_factor_reads_srfluxc_and_srscale():
    assert applied_value_factor(fits.Header({"SRFLUXC": True, "SRSCALE": 4})) == 1 / 16
    assert applied_value_factor(fits.Header({"SRSCALE": 4})) == 1.0
    assert applied_value_factor(None) == 1.0


@pytest.mark.parametrize(("role", "factor"), [("error", "0.5"), ("variance", "0.25")])
def test_companion_header_labels_the_naive_error_model(role, factor):
    new = finish_companion_header(detector_header(), 2, role, decide_units("counts"))
    assert new["SRERRMOD"] == ERROR_MODEL and "naive" in new.comments["SRERRMOD"]
    assert any(f"multiplied by {factor}" in line for line in new["HISTORY"])
    assert "GAIN" not in new


def test_quality_header_has_no_error_model():
    new = finish_companion_header(detector_header(), 2, "quality")
    assert "SRERRMOD" not in new and "SATURATE" not in new
