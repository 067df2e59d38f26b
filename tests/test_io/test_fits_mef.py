"""Multi-extension FITS: roles of HDUs, DQ/ERR/VAR propagation, and the written file."""

import warnings

import dask.array as da
import numpy as np
import pytest
from astropy.io import fits
from fits_cases import assert_upscaled_wcs_matches, quiet_wcs, random_output_pixels
from mef_cases import DQ_FLAGS, SHAPE, make_mef

from srgan_sci.io import open_array
from srgan_sci.io.fits_header import LookupDistortionError
from srgan_sci.io.fits_mef import (
    COPY,
    ERROR,
    LOOKUP_TABLE,
    QUALITY,
    SCIENCE,
    VARIANCE,
    mef_layout,
    propagate_companion,
    replicate,
)
from srgan_sci.io.fits_output import ERROR_MODEL, FitsOutputWarning, Provenance
from srgan_sci.io.units import decide_units
from srgan_sci.upscale_fits import fits_bunit, scale_values, upscale_mef

PROVENANCE = Provenance(model="nearest", model_hash="nearest", scale=2)


def nearest(image):
    """A stand-in model: nearest-neighbour x2, so every expected value is exact."""
    return replicate(image.data, 2), None, {"kind": "none"}


def run_mef(source, out, *, units="auto", lookup="refuse", notes=None):
    return upscale_mef(
        source, mef_layout(source), out, run=nearest, scale=2, units=units, lookup=lookup,
        provenance=PROVENANCE, chunk=16, notes=[] if notes is None else notes,
    )  # fmt: skip


# --------------------------------------------------------------------------------------
# layout
# --------------------------------------------------------------------------------------


def test_layout_gives_each_hdu_its_role(tmp_path):
    layout = mef_layout(make_mef(tmp_path / "in.fits", chips=2))
    assert [(h.name, h.ver, h.role) for h in layout] == [
        ("PRIMARY", 1, COPY),
        *[(name, chip, role) for chip in (1, 2) for name, role in
          (("SCI", SCIENCE), ("ERR", ERROR), ("DQ", QUALITY), ("VAR_POISSON", VARIANCE))],
        ("CAT", 1, COPY),
    ]  # fmt: skip
    assert layout[1].shape == SHAPE and layout[1].label == "SCI,1"


def test_companions_that_do_not_match_a_science_hdu_are_copied(tmp_path):
    hdus = [
        fits.PrimaryHDU(),
        fits.ImageHDU(np.zeros(SHAPE, np.float32), name="SCI"),
        fits.ImageHDU(np.zeros((5, 5), np.float32), name="ERR"),  # other shape
        fits.ImageHDU(np.zeros(SHAPE, np.int16), name="DQ", ver=2),  # no SCI,2
        fits.ImageHDU(np.zeros((4, 4), np.float32), name="WCSDVARR"),
        fits.ImageHDU(np.zeros(SHAPE, np.float32), name="AREA"),
    ]
    fits.HDUList(hdus).writeto(tmp_path / "odd.fits")
    roles = [h.role for h in mef_layout(tmp_path / "odd.fits")]
    assert roles == [COPY, SCIENCE, COPY, COPY, LOOKUP_TABLE, COPY]


def test_files_without_a_sci_extension_have_no_layout(tmp_path):
    fits.writeto(tmp_path / "plain.fits", np.zeros(SHAPE, np.float32))
    other = [fits.PrimaryHDU(), fits.ImageHDU(np.zeros(SHAPE, np.float32), name="IMAGE")]
    fits.HDUList(other).writeto(tmp_path / "named.fits")
    assert mef_layout(tmp_path / "plain.fits") is None
    assert mef_layout(tmp_path / "named.fits") is None


# --------------------------------------------------------------------------------------
# propagation rules
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.int16, np.uint16, np.int32, np.uint8])
def test_quality_flags_are_replicated_bit_for_bit(dtype):
    rng = np.random.default_rng(3)
    usable = [flag for flag in DQ_FLAGS if flag <= np.iinfo(dtype).max]
    flags = rng.choice(np.array(usable, dtype), size=(7, 9))
    out, _ = propagate_companion(flags, fits.Header(), QUALITY, 3, decide_units("counts"))
    assert out.dtype == flags.dtype and out.shape == (21, 27)
    np.testing.assert_array_equal(out[1::3, 2::3], flags)
    for bit in (1, 2, 4, 8, 16, 32, 256, 4096):
        if bit <= np.iinfo(dtype).max:
            np.testing.assert_array_equal((out & bit) != 0, replicate((flags & bit) != 0, 3))


@pytest.mark.parametrize(("bunit", "error_factor"), [("counts", 0.5), ("MJy/sr", 2.0)])
def test_error_and_variance_follow_the_naive_split(bunit, error_factor):
    units = decide_units(bunit)
    error = np.random.default_rng(4).uniform(1, 5, (6, 8)).astype(np.float32)
    err_out, _ = propagate_companion(error, fits.Header(), ERROR, 2, units)
    var_out, _ = propagate_companion(error**2, fits.Header(), VARIANCE, 2, units)
    assert err_out.dtype == np.float32 and err_out.shape == (12, 16)
    np.testing.assert_allclose(err_out, replicate(error, 2) * error_factor, rtol=1e-6)
    np.testing.assert_allclose(var_out, err_out**2, rtol=1e-5)  # ERR' and VAR' agree
    blocks = var_out.reshape(6, 2, 8, 2)
    if units.conserves_flux:  # 4 independent pixels summed give back the input variance
        np.testing.assert_allclose(blocks.sum(axis=(1, 3)), error**2, rtol=1e-5)
    else:  # the mean of 4 independent pixels has the input variance
        np.testing.assert_allclose(blocks.mean(axis=(1, 3)) / 4, error**2, rtol=1e-5)


def test_hst_constant_image_is_rescaled_in_its_header():
    header = fits.Header({"NPIX1": 40, "NPIX2": 48, "PIXVALUE": 3.0})
    data, new = propagate_companion(None, header, ERROR, 2, decide_units("electrons"))
    assert data is None and (new["NPIX1"], new["NPIX2"], new["PIXVALUE"]) == (80, 96, 1.5)
    _, flags = propagate_companion(None, header, QUALITY, 2, decide_units("electrons"))
    assert flags["PIXVALUE"] == 3.0 and flags["NPIX1"] == 80


def test_value_scaling_is_lazy_and_exact_with_odd_chunks():
    class Exploding:
        shape, dtype, ndim = (40, 30), np.dtype(np.float32), 2

        def __getitem__(self, key):
            raise AssertionError("pixels were read")

    lazy = scale_values(da.from_array(Exploding(), chunks=(7, 11)), decide_units("adu"), 2)
    assert isinstance(lazy, da.Array) and lazy.chunks[0][0] == 7  # built, nothing read
    values = np.random.default_rng(5).normal(size=(40, 30)).astype(np.float32)
    scaled = scale_values(da.from_array(values, chunks=(7, 11)), decide_units("adu"), 2)
    assert scaled.dtype == np.float32
    np.testing.assert_array_equal(scaled.compute(), values * np.float32(0.25))
    kept = da.from_array(values)
    assert scale_values(kept, decide_units("MJy/sr"), 2) is kept


# --------------------------------------------------------------------------------------
# the written file
# --------------------------------------------------------------------------------------


def test_mef_round_trip_per_pixel(tmp_path):
    source = make_mef(tmp_path / "in.fits")
    out = tmp_path / "out.fits"
    summary = run_mef(source, out)
    assert summary["units"] == "per-pixel" and summary["output_shape"] == [96, 80]
    with fits.open(source) as before, fits.open(out) as after:
        assert [h.name for h in after] == ["PRIMARY", "SCI", "ERR", "DQ", "VAR_POISSON", "CAT"]
        sci, err, dq, var = (before[name].data for name in ("SCI", "ERR", "DQ", "VAR_POISSON"))
        # science: values / 4, so the total flux is conserved
        np.testing.assert_allclose(after["SCI"].data, replicate(sci, 2) / 4, rtol=1e-6)
        assert after["SCI"].data.sum() == pytest.approx(sci.sum(), rel=1e-6)
        # DQ: same integer type, every bit replicated
        assert after["DQ"].data.dtype == np.dtype(">i2")
        np.testing.assert_array_equal(after["DQ"].data, replicate(dq, 2))
        # ERR / VAR: naive split, labelled
        np.testing.assert_allclose(after["ERR"].data, replicate(err, 2) / 2, rtol=1e-6)
        np.testing.assert_allclose(after["VAR_POISSON"].data, replicate(var, 2) / 4, rtol=1e-6)
        for name in ("ERR", "VAR_POISSON"):
            assert after[name].header["SRERRMOD"] == ERROR_MODEL
        # the table is copied unchanged
        np.testing.assert_array_equal(after["CAT"].data["flux"], before["CAT"].data["flux"])
        assert after["CAT"].columns.names == ["flux", "id"]
        # headers: provenance, units rule, detector keywords retired, INHERIT kept
        primary, sci_header = after[0].header, after["SCI"].header
        for header in (primary, sci_header):
            assert (header["SRMODEL"], header["SRSCALE"], header["SRUNITS"]) == (
                "nearest", 2, "per-pixel",
            )  # fmt: skip
            assert header["SRFLUXC"] is True
        assert primary["EXPTIME"] == 500.0 and "CCDGAIN" not in primary
        assert "READNSEA" not in primary and "SATURATE" not in sci_header
        assert sci_header["INHERIT"] is True and sci_header["PIXAR_SR"] == pytest.approx(5e-14)
        # every image extension carries the upscaled TAN-SIP WCS
        x, y = random_output_pixels(np.random.default_rng(6), (96, 80), n=300)
        for name in ("SCI", "ERR", "DQ", "VAR_POISSON"):
            wcs_in = quiet_wcs(before[name].header)
            assert_upscaled_wcs_matches(quiet_wcs(after[name].header), wcs_in, 2, x, y)


def test_surface_brightness_keeps_values_and_scales_errors_up(tmp_path):
    source = make_mef(tmp_path / "in.fits", bunit="MJy/sr")
    run_mef(source, tmp_path / "out.fits")
    with fits.open(source) as before, fits.open(tmp_path / "out.fits") as after:
        assert after["SCI"].data.mean() == pytest.approx(before["SCI"].data.mean(), rel=1e-6)
        np.testing.assert_allclose(after["ERR"].data, replicate(before["ERR"].data, 2) * 2)
        assert after["SCI"].header["SRUNITS"] == "surface-brightness"
        assert "SRFLUXC" not in after["SCI"].header


def test_unknown_units_warn_once_for_all_chips(tmp_path):
    source = make_mef(tmp_path / "in.fits", bunit=None, chips=2)
    notes = []
    with pytest.warns(FitsOutputWarning, match="no BUNIT") as caught:
        run_mef(source, tmp_path / "out.fits", notes=notes)
    assert len([w for w in caught if w.category is FitsOutputWarning]) == 1 and len(notes) == 1
    with fits.open(tmp_path / "out.fits") as after:
        assert after["SCI", 2].header["SRUNISRC"] == "assumed"
        np.testing.assert_allclose(after["SCI", 2].data.mean(), 2 * after["SCI", 1].data.mean())


def test_inherited_bunit_from_primary_is_used(tmp_path):
    source = make_mef(tmp_path / "in.fits", bunit=None)
    with fits.open(source, mode="update") as hdul:
        hdul[0].header["BUNIT"] = "COUNTS/S"
    with warnings.catch_warnings():
        warnings.simplefilter("error", FitsOutputWarning)
        assert run_mef(source, tmp_path / "out.fits")["units"] == "per-pixel"


def test_selected_extension_inherits_bunit_only_with_inherit(tmp_path):
    source = make_mef(tmp_path / "in.fits", bunit=None)
    with fits.open(source, mode="update") as hdul:
        hdul[0].header["BUNIT"] = "COUNTS"
        hdul["ERR"].header["INHERIT"] = False
    assert fits_bunit(open_array(f"{source}[SCI]")) == "COUNTS"  # SCI has INHERIT = T
    assert fits_bunit(open_array(f"{source}[ERR]")) is None


def test_lookup_distortion_in_any_extension_is_refused_before_writing(tmp_path):
    source = make_mef(tmp_path / "in.fits")
    with fits.open(source, mode="update") as hdul:
        hdul["ERR"].header["D2IMDIS1"] = "LOOKUP"
        hdul.append(fits.ImageHDU(np.zeros((4, 4), np.float32), name="D2IMARR"))
    with pytest.raises(LookupDistortionError, match="D2IMDIS1"):
        run_mef(source, tmp_path / "out.fits")
    assert not (tmp_path / "out.fits").exists()
    with pytest.warns(UserWarning, match="lookup-table distortion"):
        summary = run_mef(source, tmp_path / "out.fits", lookup="drop")
    assert "D2IMARR,1: lookup table left out (distortion dropped)" in summary["hdus"]
    with fits.open(tmp_path / "out.fits") as after:
        assert "D2IMARR" not in [h.name for h in after] and "D2IMDIS1" not in after["ERR"].header


def test_compressed_mef_is_upscaled_to_a_plain_mef(tmp_path):
    plain = make_mef(tmp_path / "in.fits")
    with fits.open(plain) as hdul:
        hdus = [hdul[0].copy()] + [
            fits.CompImageHDU(
                h.data, header=h.header, name=h.name, compression_type="GZIP_1", quantize_level=0.0
            )
            if h.name in ("SCI", "DQ") else h.copy()
            for h in hdul[1:]
        ]  # fmt: skip
        fits.HDUList(hdus).writeto(tmp_path / "in.fits.fz")
    run_mef(tmp_path / "in.fits.fz", tmp_path / "out.fits")
    with fits.open(plain) as before, fits.open(tmp_path / "out.fits") as after:
        np.testing.assert_array_equal(after["DQ"].data, replicate(before["DQ"].data, 2))
        np.testing.assert_allclose(after["SCI"].data, replicate(before["SCI"].data, 2) / 4)
        assert quiet_wcs(after["SCI"].header).sip is not None


def test_unsigned_32_bit_flags_survive_the_file(tmp_path):
    """JWST DQ is uint32 (BZERO = 2**31 on disk) with the top bit used."""
    source = make_mef(tmp_path / "in.fits")
    flags = np.array([[0, 1, 2**31], [2**31 + 5, 2**20, 7]], np.uint32)
    flags = np.tile(flags, (SHAPE[0] // 2, SHAPE[1] // 3 + 1))[:, : SHAPE[1]]
    with fits.open(source, mode="update") as hdul:
        hdul["DQ"].data = flags
    run_mef(source, tmp_path / "out.fits")
    with fits.open(tmp_path / "out.fits") as after:
        assert after["DQ"].data.dtype.kind == "u" and after["DQ"].data.dtype.itemsize == 4
        np.testing.assert_array_equal(after["DQ"].data, replicate(flags, 2))
