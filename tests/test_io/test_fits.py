"""FITS reading: pixel values, laziness, compression, metadata, front door."""

from __future__ import annotations

import gzip
import math
import pickle
import shutil
from pathlib import Path

import dask.array as da
import numpy as np
import psutil
import pytest
from astropy.io import fits
from astropy.wcs.utils import proj_plane_pixel_scales
from fits_cases import (  # shared real headers and helpers
    CELESTIAL_HEADERS,
    HST_ACS_CD_SIP,
    TWOMASS_K_CDELT,
    assert_upscaled_wcs_matches,
    header_from_text,
    make_image_file,
    physical_reference,
    quiet_wcs,
    random_output_pixels,
    write_raw_fits,
    write_sparse_fits,
)

from srgan_sci.io import open_array, upscaled_metadata, write_array
from srgan_sci.io.fits import read_fits
from srgan_sci.io.metadata import PixelSize


@pytest.fixture
def image_file(tmp_path: Path) -> Path:
    return make_image_file(tmp_path)


# --------------------------------------------------------------------------------------
# pixel values
# --------------------------------------------------------------------------------------


SCALED_CASES = {
    "int16-bscale-bzero-blank": (np.int16, {"BSCALE": 0.5, "BZERO": 10.0, "BLANK": -32768}),
    "int16-blank-only": (np.int16, {"BLANK": -999}),
    "uint16-convention": (np.int16, {"BSCALE": 1.0, "BZERO": 32768}),
    "int8-convention": (np.uint8, {"BSCALE": 1.0, "BZERO": -128}),
    "int32-scaled-blank": (np.int32, {"BSCALE": 1e-3, "BZERO": 5.0, "BLANK": -2147483648}),
    "int64-plain": (np.int64, {}),
    "float32-scaled": (np.float32, {"BSCALE": 2.0, "BZERO": 1.0}),
}


@pytest.mark.parametrize("case", sorted(SCALED_CASES))
def test_scaled_values_and_disk_dtype_match_astropy(tmp_path, case):
    dtype, cards = SCALED_CASES[case]
    rng = np.random.default_rng(1)
    info = np.iinfo(dtype) if np.dtype(dtype).kind in "iu" else None
    if info is None:
        raw = rng.normal(size=(37, 41)).astype(dtype)
    else:
        raw = rng.integers(max(info.min, -30000), min(info.max, 30000), (37, 41)).astype(dtype)
    if "BLANK" in cards:
        raw[::5, ::7] = cards["BLANK"]
    path = write_raw_fits(tmp_path / f"{case}.fits", raw, cards)
    image = read_fits(path, hdu=None, chunks=16)
    expected = physical_reference(path)
    got = image.data.compute()
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, expected.astype(np.float32))
    assert image.meta.dtype_on_disk == str(expected.dtype.newbyteorder("="))


def test_int16_bscale_bzero_blank_gives_physical_values_and_nan(tmp_path):
    raw = np.array([[0, 1, -32768], [100, -32768, -4]], dtype=np.int16)
    cards = {"BSCALE": 0.25, "BZERO": 1000.0, "BLANK": -32768}
    path = write_raw_fits(tmp_path / "scaled.fits", raw, cards)
    got = read_fits(path, hdu=None, chunks=None).data.compute()
    expected = np.array([[1000.0, 1000.25, np.nan], [1025.0, np.nan, 999.0]], dtype=np.float32)
    np.testing.assert_array_equal(got, expected)


def test_blank_zero_is_honoured(tmp_path):
    raw = np.array([[0, 1], [2, 0]], dtype=np.int16)
    path = write_raw_fits(tmp_path / "blank0.fits", raw, {"BLANK": 0})
    got = read_fits(path, hdu=None, chunks=None).data.compute()
    np.testing.assert_array_equal(got, [[np.nan, 1], [2, np.nan]])


@pytest.mark.parametrize("dtype", [np.float32, np.float64, ">f4", "<f8"])
def test_floats_are_read_as_native_float32(tmp_path, dtype):
    values = np.random.default_rng(2).normal(size=(20, 30)) * 1e3
    path = tmp_path / "float.fits"
    fits.writeto(path, values.astype(dtype))  # stored big-endian whatever the input order
    got = read_fits(path, hdu=None, chunks=8).data.compute()
    assert got.dtype == np.float32
    assert got.dtype.isnative
    np.testing.assert_array_equal(got, values.astype(dtype).astype(np.float32))


def test_non_finite_values_become_nan(tmp_path):
    values = np.arange(12, dtype=np.float32).reshape(3, 4)
    values[0, 1], values[1, 2], values[2, 3] = np.nan, np.inf, -np.inf
    path = tmp_path / "nonfinite.fits"
    fits.writeto(path, values)
    got = read_fits(path, hdu=None, chunks=None).data.compute()
    np.testing.assert_array_equal(np.isnan(got), ~np.isfinite(values))
    np.testing.assert_array_equal(got[np.isfinite(values)], values[np.isfinite(values)])


def test_float64_beyond_float32_range_becomes_nan(tmp_path):
    path = tmp_path / "huge.fits"
    fits.writeto(path, np.array([[1e300, 1.0], [-1e300, 2.0]]))
    got = read_fits(path, hdu=None, chunks=None).data.compute()
    np.testing.assert_array_equal(got, [[np.nan, 1.0], [np.nan, 2.0]])


@pytest.mark.parametrize(
    ("shape", "chunks", "expected"),
    [
        ((30, 50), None, ((30,), (50,))),
        ((30, 50), 7, ((7, 7, 7, 7, 2), (7,) * 7 + (1,))),
        ((3, 30, 50), 16, ((1, 1, 1), (16, 14), (16, 16, 16, 2))),
        ((3, 30, 50), (10, 25), ((1, 1, 1), (10, 10, 10), (25, 25))),
        ((2, 3, 30, 50), (2, 3, 30, 50), ((2,), (3,), (30,), (50,))),
    ],
)
def test_chunks_are_as_requested_and_values_exact(tmp_path, shape, chunks, expected):
    values = np.random.default_rng(3).normal(size=shape).astype(np.float32)
    path = tmp_path / "chunks.fits"
    fits.writeto(path, values)
    data = read_fits(path, hdu=None, chunks=chunks).data
    assert isinstance(data, da.Array)
    assert data.chunks == expected
    np.testing.assert_array_equal(data.compute(), values)


def test_default_chunk_is_1024(tmp_path):
    path = write_sparse_fits(tmp_path / "big.fits", (2, 2500, 3000), -32)
    data = read_fits(path, hdu=None, chunks=None).data
    assert data.chunksize == (1, 1024, 1024)


@pytest.mark.parametrize("chunks", [0, (-1, 5), (1, 2, 3, 4)])
def test_bad_chunks_raise_value_error(tmp_path, chunks):
    path = tmp_path / "small.fits"
    fits.writeto(path, np.zeros((3, 10, 10), np.float32))
    with pytest.raises(ValueError, match="chunks"):
        read_fits(path, hdu=None, chunks=chunks)


# --------------------------------------------------------------------------------------
# laziness
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("cards", [{}, {"BSCALE": 2.0, "BZERO": 7.0, "BLANK": -32768}])
def test_pixels_are_read_at_compute_not_at_open(tmp_path, cards):
    raw = np.zeros((40, 60), np.int16)
    path = write_raw_fits(tmp_path / "later.fits", raw, cards)
    image = read_fits(path, hdu=None, chunks=16)
    # Change the pixels on disk after opening: the array must see the new values.
    write_raw_fits(path, np.full((40, 60), 3, np.int16), cards)
    expected = 3.0 * cards.get("BSCALE", 1.0) + cards.get("BZERO", 0.0)
    np.testing.assert_array_equal(image.data.compute(), np.full((40, 60), expected, np.float32))


@pytest.mark.parametrize(
    ("bitpix", "shape", "cards"),
    [
        (-32, (7000, 7500), {}),  # 210 MB float32
        (16, (10000, 10500), {"BSCALE": 0.5, "BZERO": 100.0, "BLANK": -32768}),  # 210 MB scaled
    ],
)
def test_opening_a_large_file_reads_no_pixels(tmp_path, bitpix, shape, cards):
    small = tmp_path / "warmup.fits"
    fits.writeto(small, np.zeros((4, 4), np.float32))
    read_fits(small, hdu=None, chunks=None).data[:2, :2].compute()  # imports, caches
    path = write_sparse_fits(tmp_path / "large.fits", shape, bitpix, cards)
    process = psutil.Process()
    before = process.memory_info().rss
    image = read_fits(path, hdu=None, chunks=None)
    opened = process.memory_info().rss
    corner = image.data[:1024, :1024].compute()
    after_chunk = process.memory_info().rss
    file_size = path.stat().st_size
    assert file_size > 200e6
    assert opened - before < 0.1 * file_size
    assert after_chunk - before < 0.1 * file_size
    assert corner.shape == (1024, 1024)
    assert np.all(corner == np.float32(cards.get("BZERO", 0.0)))
    assert image.data.npartitions == math.ceil(shape[0] / 1024) * math.ceil(shape[1] / 1024)


def test_dask_graph_holds_a_path_not_the_pixels(tmp_path):
    path = write_sparse_fits(tmp_path / "large.fits", (4000, 4000), -32)
    data = read_fits(path, hdu=None, chunks=None).data
    assert len(pickle.dumps(data)) < 200_000  # 64 MB of pixels would not fit
    restored = pickle.loads(pickle.dumps(data))
    np.testing.assert_array_equal(restored[:5, :5].compute(), np.zeros((5, 5), np.float32))


# --------------------------------------------------------------------------------------
# compressed files
# --------------------------------------------------------------------------------------


def test_tile_compressed_fz_matches_astropy(tmp_path):
    rng = np.random.default_rng(4)
    ints = rng.integers(-1000, 1000, (70, 90)).astype(np.int16)
    ints[3, 4] = -32768
    floats = rng.normal(size=(70, 90)).astype(np.float32)
    floats[5, 6] = np.nan
    header = fits.Header({"BLANK": -32768, "BUNIT": "adu"})
    hdus = [
        fits.PrimaryHDU(),
        fits.CompImageHDU(ints, header=header, name="INT", tile_shape=(16, 16)),
        fits.CompImageHDU(floats, name="FLT", tile_shape=(32, 32), quantize_level=16),
    ]
    path = tmp_path / "image.fits.fz"
    fits.HDUList(hdus).writeto(path)
    for name, ext in (("INT", 1), ("FLT", 2)):
        image = read_fits(path, hdu=name, chunks=20)
        got = image.data.compute()
        np.testing.assert_array_equal(got, physical_reference(path, ext).astype(np.float32))
        assert image.data.chunksize == (20, 20)
    assert np.isnan(read_fits(path, hdu="INT", chunks=None).data[3, 4].compute())
    assert read_fits(path, hdu=None, chunks=None).meta.units == "adu"


def test_gzipped_fits_is_read(tmp_path):
    values = np.random.default_rng(5).normal(size=(3, 40, 50)).astype(np.float32)
    plain = tmp_path / "cube.fits"
    fits.writeto(plain, values)
    packed = tmp_path / "cube.fits.gz"
    with plain.open("rb") as source, gzip.open(packed, "wb") as target:
        shutil.copyfileobj(source, target)
    data = read_fits(packed, hdu=None, chunks=16).data
    assert data.chunksize == (1, 16, 16)
    np.testing.assert_array_equal(data.compute(), values)


# --------------------------------------------------------------------------------------
# metadata
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("ndim", "axes"), [(2, "yx"), (3, "zyx"), (4, "czyx"), (5, "tczyx")])
def test_axes_follow_ndim(tmp_path, ndim, axes):
    path = tmp_path / "nd.fits"
    fits.writeto(path, np.zeros((2,) * (ndim - 2) + (4, 5), np.float32))
    meta = read_fits(path, hdu=None, chunks=None).meta
    assert meta.axes == axes
    assert meta.format == "fits"


def test_metadata_from_header(tmp_path):
    header = header_from_text(TWOMASS_K_CDELT)
    header["BUNIT"] = "DN"
    path = tmp_path / "2mass.fits"
    fits.writeto(path, np.zeros((20, 30), np.float32), header=header)
    meta = read_fits(path, hdu=None, chunks=None).meta
    assert meta.units == "DN"
    assert meta.dtype_on_disk == "float32"
    assert isinstance(meta.fits_header, fits.Header)
    assert meta.fits_header["CRVAL1"] == 266.4
    assert meta.pixel_sizes["x"] == PixelSize(pytest.approx(0.001388889), "deg")
    assert meta.pixel_sizes["y"] == PixelSize(pytest.approx(0.001388889), "deg")


def test_pixel_sizes_of_rotated_cd_header(tmp_path):
    header = header_from_text(HST_ACS_CD_SIP)
    path = tmp_path / "acs.fits"
    fits.writeto(path, np.zeros((20, 30), np.float32), header=header)
    meta = read_fits(path, hdu=None, chunks=None).meta
    expected = proj_plane_pixel_scales(quiet_wcs(header).celestial)
    assert meta.pixel_sizes["x"].value == pytest.approx(expected[0], rel=1e-12)
    assert meta.pixel_sizes["y"].value == pytest.approx(expected[1], rel=1e-12)
    assert meta.units == "ELECTRONS"


def test_no_wcs_no_pixel_sizes_and_header_is_a_copy(tmp_path):
    path = tmp_path / "plain.fits"
    fits.writeto(path, np.zeros((4, 4), np.float32))
    meta = read_fits(path, hdu=None, chunks=None).meta
    assert meta.pixel_sizes == {}
    assert meta.units is None
    meta.fits_header["OBSERVER"] = "someone"
    assert "OBSERVER" not in read_fits(path, hdu=None, chunks=None).meta.fits_header


# --------------------------------------------------------------------------------------
# through the front door: srgan_sci.io
# --------------------------------------------------------------------------------------


def test_open_array_with_hdu_selector(image_file):
    image = open_array(f"{image_file}[SCI]")
    assert image.meta.source == f"{image_file}[SCI]"
    np.testing.assert_array_equal(
        image.data.compute(), np.arange(30 * 50, dtype=np.float32).reshape(30, 50)
    )
    negative = open_array(f"{image_file}[sci,2]", chunks=8)
    assert negative.data.chunksize == (8, 8)
    assert negative.data[0, 1].compute() == -1


@pytest.mark.parametrize("name", ["hst-acs-cd-sip", "hst-wfc3-pc-cdelt"])
@pytest.mark.parametrize("flux_conserving", [False, True])
def test_front_door_upscale_round_trip(tmp_path, name, flux_conserving):
    scale = 3
    header = header_from_text(CELESTIAL_HEADERS[name])
    values = np.random.default_rng(9).normal(size=(24, 32)).astype(np.float32)
    source = tmp_path / "in.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(values, header=header, name="SCI")]).writeto(
        source
    )

    image = open_array(source)
    assert image.meta.extra["hdu_index"] == 1
    upscaled = da.repeat(da.repeat(image.data, scale, axis=0), scale, axis=1)
    if flux_conserving:
        upscaled = upscaled / scale**2
    meta = upscaled_metadata(image.meta, scale, flux_conserving=flux_conserving)
    target = write_array(tmp_path / "out.fits", upscaled, meta)

    again = open_array(target)
    assert again.data.shape == (24 * scale, 32 * scale)
    factor = scale**2 if flux_conserving else 1
    np.testing.assert_allclose(again.data.compute()[::scale, ::scale] * factor, values, rtol=1e-6)
    header_out = again.meta.fits_header
    assert header_out["SRSCALE"] == scale
    assert header_out.get("SRFLUXC", False) is flux_conserving
    for axis in "xy":
        assert again.meta.pixel_sizes[axis].value == pytest.approx(
            image.meta.pixel_sizes[axis].value / scale, rel=1e-12
        )
    rng = np.random.default_rng(10)
    wcs_in = quiet_wcs(fits.getheader(source, 1))
    x, y = random_output_pixels(rng, (24 * scale, 32 * scale))
    assert_upscaled_wcs_matches(quiet_wcs(header_out), wcs_in, scale, x, y)
