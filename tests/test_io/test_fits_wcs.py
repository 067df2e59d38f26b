"""FITS headers for an upscaled grid: WCS, SIP, cubes, writing, on real published headers."""

from __future__ import annotations

from pathlib import Path

import dask.array as da
import numpy as np
import pytest
from astropy.io import fits
from fits_cases import (  # shared real headers and helpers
    CELESTIAL_HEADERS,
    CUBE_SFL_VOPT,
    HST_ACS_CD_SIP,
    HST_WFC3_PC_CDELT,
    INT_WFC_CD_ZPN,
    SKY_TOLERANCE_DEG,
    TWOMASS_K_CDELT,
    assert_upscaled_wcs_matches,
    header_from_text,
    make_image_file,
    quiet_wcs,
    random_output_pixels,
    sky_separation_deg,
    write_raw_fits,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from srgan_sci import __version__
from srgan_sci.errors import InvalidImageError
from srgan_sci.io.fits import read_fits, upscale_header, write_fits
from srgan_sci.io.metadata import ImageMetadata


@pytest.fixture
def image_file(tmp_path: Path) -> Path:
    return make_image_file(tmp_path)


# --------------------------------------------------------------------------------------
# upscale_header
# --------------------------------------------------------------------------------------


def test_upscale_header_cards():
    header = header_from_text(INT_WFC_CD_ZPN)
    header["NAXIS"], header["NAXIS1"], header["NAXIS2"] = 2, 2048, 4096
    header["BUNIT"] = "ADU"
    original = header.copy()
    new = upscale_header(header, 3)
    assert header == original  # input untouched
    assert (new["NAXIS1"], new["NAXIS2"]) == (6144, 12288)
    assert new["CRPIX1"] == pytest.approx(3 * (-337.20001 - 0.5) + 0.5)
    assert new["CRPIX2"] == pytest.approx(3 * (3040.5 - 0.5) + 0.5)
    for key in ("CD1_1", "CD1_2", "CD2_1", "CD2_2"):
        assert new[key] == pytest.approx(header[key] / 3, rel=1e-15)
    assert "CDELT1" not in new and "CDELT2" not in new
    assert new["PV2_3"] == 220.0
    assert "CHECKSUM" not in new and "DATASUM" not in new
    assert new["BUNIT"] == "ADU"
    assert new["SRSCALE"] == 3
    assert "SRFLUXC" not in new
    assert f"srgan_sci {__version__}: upscaled x3" in str(new["HISTORY"])


def test_upscale_header_flux_conserving_card():
    new = upscale_header(header_from_text(TWOMASS_K_CDELT), 2, flux_conserving=True)
    assert new["SRFLUXC"] is True
    assert new.comments["SRFLUXC"] == "values divided by scale**2 (flux conserved)"
    assert new["CDELT1"] == pytest.approx(-0.001388889 / 2)
    assert new["CRPIX1"] == 2 * (361.0 - 0.5) + 0.5


def test_upscale_header_pc_and_sip():
    pc = upscale_header(header_from_text(HST_WFC3_PC_CDELT), 4)
    assert pc["PC1_2"] == -1.0082434475667e-05  # PC unchanged
    assert pc["CDELT1"] == 0.25
    sip = upscale_header(header_from_text(HST_ACS_CD_SIP), 4)
    assert sip["A_2_0"] == pytest.approx(8.551277582556502e-06 / 4, rel=1e-15)
    assert sip["B_0_3"] == pytest.approx(-4.1754720492749e-10 / 16, rel=1e-15)
    assert sip["A_4_0"] == pytest.approx(2.37430106240231e-14 / 64, rel=1e-15)
    assert sip["A_ORDER"] == 4
    assert sip["CRPIX1O"] == 4 * (2048 - 0.5) + 0.5  # alternate WCS "O" too
    assert sip["CD2_2O"] == pytest.approx(-1.26447741482e-05 / 4, rel=1e-15)
    assert sip["CDELT1O"] == 1  # ignored next to CD, left alone


def test_upscale_header_without_wcs_adds_no_wcs():
    header = fits.Header({"NAXIS": 2, "NAXIS1": 5, "NAXIS2": 7, "OBJECT": "cells"})
    new = upscale_header(header, 2)
    assert (new["NAXIS1"], new["NAXIS2"]) == (10, 14)
    assert not any(key.startswith(("CRPIX", "CDELT", "CD1")) for key in new)


@pytest.mark.parametrize("scale", [0, -2, 2.5, True, "2"])
def test_upscale_header_rejects_bad_scale(scale):
    with pytest.raises((ValueError, TypeError)):
        upscale_header(fits.Header(), scale)


def test_upscale_header_drops_lookup_table_distortion():
    header = header_from_text(HST_WFC3_PC_CDELT)
    header["D2IMDIS1"] = "LOOKUP"
    header.append(fits.Card.fromstring("D2IM1   = 'EXTVER: 1'"))
    header.append(fits.Card.fromstring("D2IM1   = 'NAXES: 2'"))
    with pytest.warns(UserWarning, match="lookup-table distortion"):
        new = upscale_header(header, 2)
    assert not any(card.rawkeyword.startswith("D2IM") for card in new.cards)
    quiet_wcs(new)  # still a valid WCS without the lookup tables


def test_upscale_header_cube_keeps_spectral_axis():
    header = header_from_text(CUBE_SFL_VOPT)
    header["NAXIS"], header["NAXIS1"], header["NAXIS2"], header["NAXIS3"] = 3, 40, 50, 6
    new = upscale_header(header, 2)
    assert (new["NAXIS1"], new["NAXIS2"], new["NAXIS3"]) == (80, 100, 6)
    assert (new["CRPIX3"], new["CDELT3"]) == (-187.0, 66.42361)
    rng = np.random.default_rng(6)
    x, y = random_output_pixels(rng, (100, 80), 500)
    z = rng.integers(0, 6, x.size).astype(float)
    out = quiet_wcs(new).all_pix2world(x, y, z, 0)
    ref = quiet_wcs(header).all_pix2world((x + 0.5) / 2 - 0.5, (y + 0.5) / 2 - 0.5, z, 0)
    assert sky_separation_deg(out[0], out[1], ref[0], ref[1]).max() < SKY_TOLERANCE_DEG
    np.testing.assert_allclose(out[2], ref[2], rtol=0, atol=1e-9)


def test_upscale_header_pc_mixing_spatial_and_spectral_axes():
    rng = np.random.default_rng(7)
    header = header_from_text(CUBE_SFL_VOPT)
    for i in range(1, 4):
        for j in range(1, 4):
            header[f"PC{i}_{j}"] = float(i == j) + 0.05 * rng.normal()
    new = upscale_header(header, 3)
    x, y = random_output_pixels(rng, (300, 300), 500)
    z = rng.uniform(0, 6, x.size)
    out = quiet_wcs(new).all_pix2world(x, y, z, 0)
    ref = quiet_wcs(header).all_pix2world((x + 0.5) / 3 - 0.5, (y + 0.5) / 3 - 0.5, z, 0)
    assert sky_separation_deg(out[0], out[1], ref[0], ref[1]).max() < SKY_TOLERANCE_DEG
    np.testing.assert_allclose(out[2], ref[2], rtol=1e-12)


@pytest.mark.parametrize("name", sorted(CELESTIAL_HEADERS))
@pytest.mark.parametrize("scale", [2, 3, 4])
def test_wcs_round_trip_through_files(tmp_path, name, scale):
    header = header_from_text(CELESTIAL_HEADERS[name])
    values = np.random.default_rng(8).normal(size=(40, 56)).astype(np.float32)
    source = tmp_path / "in.fits"
    fits.writeto(source, values, header=header)
    image = read_fits(source, hdu=None, chunks=16)
    upscaled = da.repeat(da.repeat(image.data, scale, axis=0), scale, axis=1)
    new_header = upscale_header(image.meta.fits_header, scale)
    target = tmp_path / "out"  # no FITS suffix: write_fits must not care
    write_fits(target, upscaled, image.meta.with_updates(fits_header=new_header))

    written = fits.getheader(target)
    assert (written["NAXIS2"], written["NAXIS1"]) == (40 * scale, 56 * scale)
    wcs_in, wcs_out = quiet_wcs(fits.getheader(source)), quiet_wcs(written)
    rng = np.random.default_rng(scale)
    assert_upscaled_wcs_matches(
        wcs_out, wcs_in, scale, *random_output_pixels(rng, (40 * scale, 56 * scale))
    )
    # ...and far outside the small image, over a whole detector
    x, y = rng.uniform(0, 2048 * scale, 2000), rng.uniform(0, 2048 * scale, 2000)
    assert_upscaled_wcs_matches(wcs_out, wcs_in, scale, x, y)
    # SkyCoord route, on integer output pixel centres
    i = rng.integers(0, 56 * scale, 200).astype(float)
    j = rng.integers(0, 40 * scale, 200).astype(float)
    sky_out = wcs_out.pixel_to_world(i, j)
    sky_in = wcs_in.pixel_to_world((i + 0.5) / scale - 0.5, (j + 0.5) / scale - 0.5)
    assert sky_out.separation(sky_in).deg.max() < SKY_TOLERANCE_DEG
    if "O" in {key[-1] for key in written if key.startswith("CRPIX")}:
        alt_in, alt_out = quiet_wcs(fits.getheader(source), "O"), quiet_wcs(written, "O")
        assert_upscaled_wcs_matches(alt_out, alt_in, scale, x, y)
    np.testing.assert_array_equal(fits.getdata(target)[::scale, ::scale], values)


@settings(max_examples=80, deadline=None)
@given(
    crpix=st.tuples(st.floats(-3000, 6000), st.floats(-3000, 6000)),
    crval=st.tuples(st.floats(0, 360), st.floats(-85, 85)),
    cdelt=st.tuples(st.floats(1e-6, 2e-3), st.floats(1e-6, 2e-3)),
    flip=st.booleans(),
    rotation=st.floats(0, 360),
    form=st.sampled_from(["CD", "PC", "CROTA"]),
    scale=st.integers(1, 6),
    seed=st.integers(0, 2**32 - 1),
)
def test_upscaled_wcs_property(crpix, crval, cdelt, flip, rotation, form, scale, seed):
    theta = np.radians(rotation)
    pc = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    scales = np.array([-cdelt[0] if flip else cdelt[0], cdelt[1]])
    header = fits.Header()
    header["NAXIS"], header["NAXIS1"], header["NAXIS2"] = 2, 1000, 800
    header["CTYPE1"], header["CTYPE2"] = "RA---TAN", "DEC--TAN"
    header["CRVAL1"], header["CRVAL2"] = crval
    header["CRPIX1"], header["CRPIX2"] = crpix
    if form == "CD":
        cd = scales[:, None] * pc
        for i in range(2):
            for j in range(2):
                header[f"CD{i + 1}_{j + 1}"] = cd[i, j]
    else:
        header["CDELT1"], header["CDELT2"] = scales
        if form == "PC":
            for i in range(2):
                for j in range(2):
                    header[f"PC{i + 1}_{j + 1}"] = pc[i, j]
        else:
            header["CROTA2"] = rotation
    new = upscale_header(header, scale)
    rng = np.random.default_rng(seed)
    x, y = random_output_pixels(rng, (800 * scale, 1000 * scale), 300)
    assert_upscaled_wcs_matches(quiet_wcs(new), quiet_wcs(header), scale, x, y)


# --------------------------------------------------------------------------------------
# write_fits
# --------------------------------------------------------------------------------------


def test_write_fits_strips_structural_cards(tmp_path):
    raw = np.array([[1, 2], [3, -32768]], dtype=np.int16)
    source = write_raw_fits(
        tmp_path / "scaled.fits",
        raw,
        {"BSCALE": 2.0, "BZERO": 1.0, "BLANK": -32768, "OBJECT": "M51"},
    )
    image = read_fits(source, hdu=None, chunks=None)
    target = tmp_path / "written.partial"
    write_fits(target, image.data, image.meta)
    with fits.open(target) as hdul:
        assert len(hdul) == 1
        header, data = hdul[0].header, hdul[0].data
        for key in ("BSCALE", "BZERO", "BLANK"):
            assert key not in header
        assert header["BITPIX"] == -32
        assert header["OBJECT"] == "M51"
        np.testing.assert_array_equal(data, [[3.0, 5.0], [7.0, np.nan]])


def test_write_fits_extension_header_becomes_primary(image_file, tmp_path):
    image = read_fits(image_file, hdu="SCI,2", chunks=None)
    target = tmp_path / "sci2.fits"
    write_fits(target, image.data[None], image.meta.with_updates(axes="zyx"))
    with fits.open(target) as hdul:
        assert hdul[0].header["SIMPLE"] is True
        assert "XTENSION" not in hdul[0].header
        assert hdul[0].header["NAXIS"] == 3
        assert hdul[0].data.shape == (1, 30, 50)


def test_write_fits_minimal_header_with_units(tmp_path):
    values = np.array([[np.nan, 1.5], [2.5, -np.inf]], dtype=np.float64)
    meta = ImageMetadata(
        source="cells.tif", format="tiff", axes="yx", dtype_on_disk="uint16", units="photons"
    )
    target = tmp_path / "from-tiff"
    write_fits(target, da.from_array(values, chunks=1), meta)
    with fits.open(target) as hdul:
        assert hdul[0].header["BUNIT"] == "photons"
        assert hdul[0].data.dtype == np.dtype(">f4")
        np.testing.assert_array_equal(hdul[0].data, values.astype(np.float32))


def test_write_fits_rejects_1d(tmp_path):
    meta = ImageMetadata(source="x", format="fits", axes="x", dtype_on_disk="float32")
    with pytest.raises(InvalidImageError):
        write_fits(tmp_path / "line.fits", da.zeros(5), meta)
