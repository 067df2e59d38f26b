"""``srsci upscale`` on astronomer's FITS: units, multi-extension files, lookup distortions."""

import numpy as np
import pytest
from astropy.io import fits
from test_io.fits_cases import HST_WFC3_PC_CDELT, header_from_text
from test_io.mef_cases import make_mef, smooth_field

from srgan_sci._version import __version__
from srgan_sci.io import open_array

BICUBIC_X2 = ["--model", "bicubic", "--scale", "2", "--chunk", "16", "--no-progress"]


def warnings_of(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("srsci: warning:")]


def test_mef_is_written_as_mef_with_flux_conserved(srsci, tmp_path):
    source = make_mef(tmp_path / "flt.fits")
    out = tmp_path / "flt_x2.fits"
    result = srsci("upscale", str(source), str(out), *BICUBIC_X2)
    assert warnings_of(result) == [] and "(96, 80)" in result.stdout
    with fits.open(source) as before, fits.open(out) as after:
        assert [h.name for h in after] == ["PRIMARY", "SCI", "ERR", "DQ", "VAR_POISSON", "CAT"]
        # BUNIT ELECTRONS/S is per pixel: the bicubic image keeps the total flux
        assert after["SCI"].data.sum() == pytest.approx(before["SCI"].data.sum(), rel=0.01)
        assert after["SCI"].data.shape == (96, 80)
        dq = before["DQ"].data
        np.testing.assert_array_equal(after["DQ"].data, dq.repeat(2, 0).repeat(2, 1))
        err = before["ERR"].data.repeat(2, 0).repeat(2, 1)
        np.testing.assert_allclose(after["ERR"].data, err / 2, rtol=1e-6)
        np.testing.assert_array_equal(after["CAT"].data["id"], before["CAT"].data["id"])
        primary = after[0].header
        assert (primary["SRMODEL"], primary["SRMHASH"], primary["SRVERS"]) == (
            "bicubic", "bicubic", __version__,
        )  # fmt: skip
        assert "CCDGAIN" not in primary and primary["EXPTIME"] == 500.0
        assert after["SCI"].header["SRUNITS"] == "per-pixel"


def test_surface_brightness_keeps_the_mean_and_unknown_units_warn_once(srsci, tmp_path):
    for name, bunit in (("sb", "MJy/sr"), ("unknown", "furlong")):
        header = header_from_text(HST_WFC3_PC_CDELT)
        header["BUNIT"] = bunit
        fits.writeto(tmp_path / f"{name}.fits", smooth_field(), header)
    sb = srsci("upscale", str(tmp_path / "sb.fits"), str(tmp_path / "sb2.fits"), *BICUBIC_X2)
    unknown = srsci(
        "upscale", str(tmp_path / "unknown.fits"), str(tmp_path / "u2.fits"), *BICUBIC_X2
    )
    assert warnings_of(sb) == []
    assert len(warnings_of(unknown)) == 1 and "'furlong' is not a known unit" in unknown.stderr
    assert "FitsOutputWarning" not in unknown.stderr  # the Python warning is not printed too
    field = smooth_field()
    for name in ("sb2", "u2"):
        with fits.open(tmp_path / f"{name}.fits") as hdul:
            assert hdul[0].data.mean() == pytest.approx(field.mean(), rel=0.01)
            assert hdul[0].header["SRUNITS"] == "surface-brightness"
    assert fits.getheader(tmp_path / "u2.fits")["SRUNISRC"] == "assumed"


def test_units_flag_overrides_and_zarr_output_is_scaled_too(srsci, tmp_path):
    fits.writeto(tmp_path / "plain.fits", smooth_field())  # no BUNIT
    out = tmp_path / "plain.ome.zarr"
    result = srsci("upscale", str(tmp_path / "plain.fits"), str(out), *BICUBIC_X2,
                   "--units", "per-pixel")  # fmt: skip
    assert warnings_of(result) == []
    image = open_array(out)
    assert float(image.data.sum().compute()) == pytest.approx(smooth_field().sum(), rel=0.01)
    assert image.meta.fits_header["SRUNISRC"] == "user"


def test_mef_to_zarr_warns_and_selector_keeps_single_hdu(srsci, tmp_path):
    source = make_mef(tmp_path / "flt.fits")
    zarr = srsci("upscale", str(source), str(tmp_path / "flt.ome.zarr"), *BICUBIC_X2)
    assert len(warnings_of(zarr)) == 1 and "ERR, DQ and the other extensions" in zarr.stderr
    single = srsci("upscale", f"{source}[SCI]", str(tmp_path / "sci.fits"), *BICUBIC_X2)
    assert warnings_of(single) == []
    with fits.open(tmp_path / "sci.fits") as hdul:
        assert len(hdul) == 1 and hdul[0].data.shape == (96, 80)
        assert hdul[0].header["SRFLUXC"] is True


def test_lookup_distortion_is_refused_on_one_line_unless_dropped(srsci, tmp_path):
    header = header_from_text(HST_WFC3_PC_CDELT)
    header["BUNIT"] = "ELECTRONS"
    header["D2IMDIS1"] = "LOOKUP"
    header.append(fits.Card.fromstring("D2IM1   = 'EXTVER: 1'"))
    fits.writeto(tmp_path / "d2im.fits", smooth_field(), header)
    out = tmp_path / "out.fits"
    refused = srsci("upscale", str(tmp_path / "d2im.fits"), str(out), *BICUBIC_X2, check_rc=2)
    assert refused.stderr.count("\n") == 1 and refused.stderr.startswith("srsci: error:")
    assert "D2IMDIS1" in refused.stderr and "--drop-lookup-distortion" in refused.stderr
    assert not out.exists()
    srsci("upscale", str(tmp_path / "d2im.fits"), str(out), *BICUBIC_X2,
          "--drop-lookup-distortion")  # fmt: skip
    written = fits.getheader(out)
    assert "D2IMDIS1" not in written and "D2IM1" not in written
    assert any("removed lookup-table distortion" in line for line in written["HISTORY"])


def star_field(sigma: float = 1.5, shape=(96, 96)) -> np.ndarray:
    """Isolated Gaussian stars of width ``sigma`` px on faint noise (electron/s)."""
    rng = np.random.default_rng(5)
    yy, xx = np.mgrid[: shape[0], : shape[1]].astype(float)
    image = rng.normal(0.0, 0.2, shape)
    for y, x in np.stack(np.mgrid[12:90:16, 12:90:16], -1).reshape(-1, 2):
        y, x = y + rng.uniform(-0.5, 0.5), x + rng.uniform(-0.5, 0.5)
        image += 100.0 * np.exp(-0.5 * ((yy - y) ** 2 + (xx - x) ** 2) / sigma**2)
    return image.astype(np.float32)


@pytest.mark.parametrize("suffix", [".fits", ".ome.zarr"])
def test_the_output_header_records_the_effective_psf(srsci, tmp_path, suffix):
    header = header_from_text(HST_WFC3_PC_CDELT)
    header["BUNIT"] = "electron/s"
    fits.writeto(tmp_path / "stars.fits", star_field(), header)
    out = tmp_path / f"stars_x2{suffix}"
    result = srsci("upscale", str(tmp_path / "stars.fits"), str(out), *BICUBIC_X2)
    written = open_array(out).meta.fits_header
    assert written["SRPSFN"] >= 20
    # a Gaussian of FWHM 2.355 * 1.5 LR px interpolated x2: twice as many output pixels
    assert written["SRPSFFW"] == pytest.approx(2 * 2.3548 * 1.5, rel=0.05)
    assert written["SRPSFEL"] < 0.05
    assert f"FWHM {written['SRPSFFW']:.2f} px" in result.stdout


def test_mef_science_header_records_the_effective_psf(srsci, tmp_path):
    source = make_mef(tmp_path / "flt.fits")
    with fits.open(source, mode="update") as hdul:
        hdul["SCI"].data = star_field(shape=hdul["SCI"].data.shape)
    out = tmp_path / "flt_x2.fits"
    srsci("upscale", str(source), str(out), *BICUBIC_X2)
    science = fits.getheader(out, "SCI")
    assert science["SRPSFN"] >= 4  # a 48 x 40 SCI holds few isolated stars
    assert science["SRPSFFW"] == pytest.approx(2 * 2.3548 * 1.5, rel=0.05)
