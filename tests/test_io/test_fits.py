"""FITS reading, writing and upscaled headers, on real files written to tmp_path."""

from __future__ import annotations

import gzip
import math
import pickle
import shutil
import warnings
from pathlib import Path

import dask.array as da
import numpy as np
import psutil
import pytest
from astropy.coordinates import angular_separation
from astropy.io import fits
from astropy.wcs import WCS
from astropy.wcs.utils import proj_plane_pixel_scales
from hypothesis import given, settings
from hypothesis import strategies as st

from srgan_sci import __version__
from srgan_sci.errors import CorruptFileError, InputNotFoundError, InvalidImageError
from srgan_sci.io import open_array, upscaled_metadata, write_array
from srgan_sci.io.fits import read_fits, upscale_header, write_fits
from srgan_sci.io.metadata import ImageMetadata, PixelSize

# --------------------------------------------------------------------------------------
# Real published headers (WCS cards only), copied from astropy's test data.
# --------------------------------------------------------------------------------------

# HST ACS/WFC, 47 Tuc (NGC 104), exposure j94f05bgq_flt.fits[SCI,1]: CD matrix, 4th-order
# SIP distortion, and the original pipeline WCS kept as alternate WCS "O".
HST_ACS_CD_SIP = """\
BUNIT   = 'ELECTRONS'          / brightness units
WCSAXES =                    2 / number of World Coordinate System axes
CRPIX1  =               2048.0 / x-coordinate of reference pixel
CRPIX2  =               1024.0 / y-coordinate of reference pixel
CRVAL1  =        5.63056810618 / first axis value at reference pixel
CRVAL2  =   -72.05457184278998 / second axis value at reference pixel
CTYPE1  = 'RA---TAN-SIP'       / the coordinate type for the first axis
CTYPE2  = 'DEC--TAN-SIP'       / the coordinate type for the second axis
CD1_1   = 1.29056256197165E-05 / partial of first axis coordinate w.r.t. x
CD1_2   = 5.95309123310338E-06 / partial of first axis coordinate w.r.t. y
CD2_1   =  5.0220581265601E-06 / partial of second axis coordinate w.r.t. x
CD2_2   = -1.2644774105568E-05 / partial of second axis coordinate w.r.t. y
A_0_2   = 2.16615952976212E-06
B_0_2   = -7.2168814507744E-06
A_1_1   = -5.1974576466834E-06
B_1_1   = 6.18443235774478E-06
A_2_0   = 8.551277582556502E-06
B_2_0   = -1.7464918770586E-06
A_0_3   = 1.08193519820265E-11
B_0_3   = -4.1754720492749E-10
A_1_2   = -5.234870743692412E-10
B_1_2   = -6.169265268681388E-11
A_2_1   = -3.9771547747287E-11
B_2_1   = -5.085716167386211E-10
A_3_0   = -4.7304448292227E-10
B_3_0   = 8.56763542781631E-11
A_0_4   = 1.49356171166049E-14
B_0_4   = -9.9570490655478E-15
A_1_3   = -2.456997553774615E-14
B_1_3   = 1.21743011568848E-14
A_2_2   = 3.46791267104378E-14
B_2_2   = -3.6614325928657E-14
A_3_1   = 1.971022971660309E-15
B_3_1   = -3.7795068054874E-15
A_4_0   = 2.37430106240231E-14
B_4_0   = -1.7687653826004E-14
A_ORDER =                    4
B_ORDER =                    4
WCSNAMEO= 'OPUS    '
WCSAXESO=                    2
CRPIX1O =                 2048
CRPIX2O =                 1024
CDELT1O =                    1
CDELT2O =                    1
CTYPE1O = 'RA---TAN-SIP'
CTYPE2O = 'DEC--TAN-SIP'
CRVAL1O =        5.63056810618
CRVAL2O =       -72.0545718428
LONPOLEO=                  180
LATPOLEO=       -72.0545718428
CD1_1O  =    1.29056256334E-05
CD1_2O  =     5.9530912342E-06
CD2_1O  =    5.02205812656E-06
CD2_2O  =   -1.26447741482E-05
"""

# Isaac Newton Telescope Wide Field Camera, IPHAS DR2 (astropy wcs/tests/data/2wcses.hdr):
# CD matrix, zenithal polynomial projection with PV terms, stale checksums.
INT_WFC_CD_ZPN = """\
EQUINOX =               2000.0
CTYPE1  = 'RA---ZPN'           / Algorithm type for axis 1
CTYPE2  = 'DEC--ZPN'           / Algorithm type for axis 2
CRPIX1  =           -337.20001 / [pixel] Reference pixel along axis 1
CRPIX2  =               3040.5 / [pixel] Reference pixel along axis 2
CRVAL1  =            292.20508 / [deg] Right ascension at the reference pixel
CRVAL2  =            18.582556 / [deg] Declination at the reference pixel
CD1_1   =       -1.3007094E-06 / Transformation matrix element
CD1_2   =       -9.2396054E-05 / Transformation matrix element
CD2_1   =       -9.2389091E-05 / Transformation matrix element
CD2_2   =        1.3203634E-06 / Transformation matrix element
PV2_1   =                  1.0 / Coefficient for r term
PV2_2   =                  0.0 / Coefficient for r**2 term
PV2_3   =                220.0 / Coefficient for r**3 term
CHECKSUM= '7RREBPRB9PRBAPRB'   / HDU checksum updated 2014-02-06T12:02:07
DATASUM = '1660673036'         / data unit checksum updated 2014-02-06T12:02:07
"""

# HST WFC3/UVIS (astropy wcs/tests/data/ie6d07ujq_wcs.fits), linear part: PC + CDELT.
HST_WFC3_PC_CDELT = """\
WCSAXES =                    2 / Number of coordinate axes
CRPIX1  =               2048.0 / Pixel coordinate of reference point
CRPIX2  =               1026.0 / Pixel coordinate of reference point
PC1_1   =   3.920290602516E-06 / Coordinate transformation matrix element
PC1_2   = -1.0082434475667E-05 / Coordinate transformation matrix element
PC2_1   = -1.0351930440257E-05 / Coordinate transformation matrix element
PC2_2   = -4.5644540153863E-06 / Coordinate transformation matrix element
CDELT1  =                  1.0 / [deg] Coordinate increment at reference point
CDELT2  =                  1.0 / [deg] Coordinate increment at reference point
CUNIT1  = 'deg'                / Units of coordinate increment and value
CUNIT2  = 'deg'                / Units of coordinate increment and value
CTYPE1  = 'RA---TAN'           / TAN (gnomonic) projection + SIP distortions
CTYPE2  = 'DEC--TAN'           / TAN (gnomonic) projection + SIP distortions
CRVAL1  =       83.19300506082 / [deg] Coordinate value at reference point
CRVAL2  =      -67.73222548109 / [deg] Coordinate value at reference point
LONPOLE =                180.0 / [deg] Native longitude of celestial pole
LATPOLE =      -67.73222548109 / [deg] Native latitude of celestial pole
RADESYS = 'ICRS'               / Equatorial coordinate system
"""

# 2MASS K-band image of the Galactic centre (astropy visualization/wcsaxes test data):
# CDELT only, no PC or CD.
TWOMASS_K_CDELT = """\
WCSAXES =                    2 / Number of coordinate axes
CRPIX1  =                361.0 / Pixel coordinate of reference point
CRPIX2  =                360.5 / Pixel coordinate of reference point
CDELT1  =         -0.001388889 / [deg] Coordinate increment at reference point
CDELT2  =          0.001388889 / [deg] Coordinate increment at reference point
CUNIT1  = 'deg'                / Units of coordinate increment and value
CUNIT2  = 'deg'                / Units of coordinate increment and value
CTYPE1  = 'RA---TAN'           / Right ascension, gnomonic projection
CTYPE2  = 'DEC--TAN'           / Declination, gnomonic projection
CRVAL1  =                266.4 / [deg] Coordinate value at reference point
CRVAL2  =            -28.93333 / [deg] Coordinate value at reference point
LONPOLE =                180.0 / [deg] Native longitude of celestial pole
LATPOLE =            -28.93333 / [deg] Native latitude of celestial pole
EQUINOX =               2000.0 / [yr] Equinox of equatorial coordinates
"""

# Spectral-line cube, Sanson-Flamsteed projection + optical velocity axis (astropy
# visualization/wcsaxes test data cube_header).
CUBE_SFL_VOPT = """\
WCSAXES =                    3 / Number of coordinate axes
CRPIX1  =               -799.0 / Pixel coordinate of reference point
CRPIX2  =            -4741.913 / Pixel coordinate of reference point
CRPIX3  =               -187.0 / Pixel coordinate of reference point
CDELT1  =         -0.006388889 / [deg] Coordinate increment at reference point
CDELT2  =          0.006388889 / [deg] Coordinate increment at reference point
CDELT3  =             66.42361 / [m s-1] Coordinate increment at reference point
CUNIT1  = 'deg'                / Units of coordinate increment and value
CUNIT2  = 'deg'                / Units of coordinate increment and value
CUNIT3  = 'm s-1'              / Units of coordinate increment and value
CTYPE1  = 'RA---SFL'           / Right ascension, Sanson-Flamsteed projection
CTYPE2  = 'DEC--SFL'           / Declination, Sanson-Flamsteed projection
CTYPE3  = 'VOPT'               / Optical velocity (linear)
CRVAL1  =        57.6599999999 / [deg] Coordinate value at reference point
CRVAL2  =                  0.0 / [deg] Coordinate value at reference point
CRVAL3  =       -9959.44378305 / [m s-1] Coordinate value at reference point
LONPOLE =                  0.0 / [deg] Native longitude of celestial pole
LATPOLE =                 90.0 / [deg] Native latitude of celestial pole
SPECSYS = 'LSRK'               / Reference frame of spectral coordinates
"""

CELESTIAL_HEADERS = {
    "hst-acs-cd-sip": HST_ACS_CD_SIP,
    "int-wfc-cd-zpn": INT_WFC_CD_ZPN,
    "hst-wfc3-pc-cdelt": HST_WFC3_PC_CDELT,
    "2mass-k-cdelt": TWOMASS_K_CDELT,
}
SKY_TOLERANCE_DEG = 1e-9


# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------


def header_from_text(text: str) -> fits.Header:
    return fits.Header.fromstring(text, sep="\n")


def fits_header_bytes(shape: tuple[int, ...], bitpix: int, cards: dict | None = None) -> bytes:
    """A primary header for ``shape`` (slowest axis first) as FITS bytes."""
    header = fits.Header()
    header["SIMPLE"] = True
    header["BITPIX"] = bitpix
    header["NAXIS"] = len(shape)
    for axis, length in enumerate(reversed(shape), start=1):
        header[f"NAXIS{axis}"] = length
    for key, value in (cards or {}).items():
        header[key] = value
    return header.tostring().encode("ascii")


def write_raw_fits(path: Path, raw: np.ndarray, cards: dict | None = None) -> Path:
    """Write stored values exactly as given (no scaling by astropy) with extra header cards."""
    bitpix = {"u1": 8, "i2": 16, "i4": 32, "i8": 64, "f4": -32, "f8": -64}[raw.dtype.str[1:]]
    payload = np.ascontiguousarray(raw.astype(raw.dtype.newbyteorder(">"))).tobytes()
    padding = b"\0" * (-len(payload) % 2880)
    path.write_bytes(fits_header_bytes(raw.shape, bitpix, cards) + payload + padding)
    return path


def write_sparse_fits(path: Path, shape: tuple[int, ...], bitpix: int, cards=None) -> Path:
    """A large all-zero FITS file that takes no disk space (the data is a sparse hole)."""
    head = fits_header_bytes(shape, bitpix, cards)
    nbytes = math.prod(shape) * abs(bitpix) // 8
    with path.open("wb") as file:
        file.write(head)
        file.truncate(len(head) + nbytes + (-nbytes % 2880))
    return path


def physical_reference(path: Path, ext: int = 0) -> np.ndarray:
    """What astropy itself makes of the stored values (BSCALE/BZERO/BLANK applied)."""
    with fits.open(path, memmap=False) as hdul:
        return np.array(hdul[ext].data)


def sky_separation_deg(lon1, lat1, lon2, lat2) -> np.ndarray:
    return np.degrees(angular_separation(*np.radians([lon1, lat1, lon2, lat2])))


def assert_upscaled_wcs_matches(
    wcs_out: WCS, wcs_in: WCS, scale: int, x_out: np.ndarray, y_out: np.ndarray
) -> None:
    """world(out, i) == world(in, (i + 0.5)/scale - 0.5) for every given output pixel."""
    lon_o, lat_o = wcs_out.all_pix2world(x_out, y_out, 0)
    lon_i, lat_i = wcs_in.all_pix2world((x_out + 0.5) / scale - 0.5, (y_out + 0.5) / scale - 0.5, 0)
    separation = sky_separation_deg(lon_o, lat_o, lon_i, lat_i)
    assert np.all(np.isfinite(separation))
    assert separation.max() < SKY_TOLERANCE_DEG


def random_output_pixels(rng: np.random.Generator, shape_out: tuple[int, int], n: int = 2000):
    """Random output pixel centres (integers) plus random sub-pixel positions."""
    ny, nx = shape_out
    x = np.concatenate([rng.integers(0, nx, n), rng.uniform(-0.5, nx - 0.5, n)])
    y = np.concatenate([rng.integers(0, ny, n), rng.uniform(-0.5, ny - 0.5, n)])
    return x.astype(float), y.astype(float)


def quiet_wcs(header: fits.Header, key: str = " ") -> WCS:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return WCS(header, key=key)


@pytest.fixture
def image_file(tmp_path: Path) -> Path:
    """An empty primary HDU, SCI (float32), ERR (int16), SCI,2 and a binary table."""
    sci = np.arange(30 * 50, dtype=np.float32).reshape(30, 50)
    hdus = [
        fits.PrimaryHDU(),
        fits.ImageHDU(sci, name="SCI", ver=1),
        fits.ImageHDU(np.ones((30, 50), np.int16), name="ERR"),
        fits.ImageHDU(-sci, name="SCI", ver=2),
        fits.BinTableHDU.from_columns([fits.Column("flux", "E", array=np.zeros(3))], name="CAT"),
    ]
    path = tmp_path / "image.fits"
    fits.HDUList(hdus).writeto(path)
    return path


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
# HDU selection and errors
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("selector", "index", "sign"),
    [(None, 1, 1), ("1", 1, 1), ("SCI", 1, 1), ("sci", 1, 1), ("SCI,2", 3, -1), ("3", 3, -1)],
)
def test_hdu_selection(image_file, selector, index, sign):
    image = read_fits(image_file, hdu=selector, chunks=None)
    expected = sign * np.arange(30 * 50, dtype=np.float32).reshape(30, 50)
    np.testing.assert_array_equal(image.data.compute(), expected)
    assert image.meta.extra["hdu_index"] == index
    suffix = "" if selector is None else f"[{selector}]"
    assert image.meta.source == f"{image_file}{suffix}"


def test_integer_hdu_selected_by_name(image_file):
    image = read_fits(image_file, hdu="ERR", chunks=None)
    assert image.meta.dtype_on_disk == "int16"
    np.testing.assert_array_equal(image.data.compute(), np.ones((30, 50), np.float32))


@pytest.mark.parametrize("selector", ["NOPE", "7", "SCI,9"])
def test_missing_hdu_lists_available_hdus(image_file, selector):
    with pytest.raises(InputNotFoundError) as caught:
        read_fits(image_file, hdu=selector, chunks=None)
    message = str(caught.value)
    assert "\n" not in message
    for name in ("PRIMARY", "SCI,1", "ERR,1", "SCI,2", "CAT,1"):
        assert name in message


def test_table_hdu_is_not_an_image(image_file):
    with pytest.raises(InvalidImageError, match="binary table") as caught:
        read_fits(image_file, hdu="CAT", chunks=None)
    assert "SCI" in str(caught.value)  # says which HDUs are images


def test_ascii_table_hdu_is_not_an_image(tmp_path):
    table = fits.TableHDU.from_columns([fits.Column("a", "E15.7", array=np.arange(3.0))])
    path = tmp_path / "ascii.fits"
    fits.HDUList([fits.PrimaryHDU(), table]).writeto(path)
    with pytest.raises(InvalidImageError, match="table"):
        read_fits(path, hdu="1", chunks=None)


def test_empty_primary_selected_explicitly(image_file):
    with pytest.raises(InvalidImageError, match="no data"):
        read_fits(image_file, hdu="0", chunks=None)


def test_file_without_image_data(tmp_path):
    table = fits.BinTableHDU.from_columns([fits.Column("a", "J", array=np.arange(3))])
    path = tmp_path / "table.fits"
    fits.HDUList([fits.PrimaryHDU(), table]).writeto(path)
    with pytest.raises(InvalidImageError, match="no HDU holds image data"):
        read_fits(path, hdu=None, chunks=None)


@pytest.mark.parametrize(
    ("shape", "match"),
    [((10,), "1-D"), ((1, 1, 1, 1, 2, 2), "6-D"), ((0, 5), "zero-size")],
)
def test_unusable_shapes(tmp_path, shape, match):
    path = write_raw_fits(tmp_path / "bad.fits", np.zeros(shape, np.float32))
    with pytest.raises(InvalidImageError, match=match):
        read_fits(path, hdu=None, chunks=None)


def test_truncated_data_is_corrupt_at_open(tmp_path):
    path = tmp_path / "cut.fits"
    fits.writeto(path, np.zeros((100, 100), np.float32))
    with path.open("r+b") as file:
        file.truncate(2880 + 100 * 100 * 4 - 1000)
    with pytest.raises(CorruptFileError, match="truncated"):
        read_fits(path, hdu=None, chunks=None)


def test_missing_padding_is_not_truncation(tmp_path):
    values = np.arange(25, dtype=np.float32).reshape(5, 5)
    path = tmp_path / "unpadded.fits"
    fits.writeto(path, values)
    with path.open("r+b") as file:
        file.truncate(2880 + values.nbytes)  # data complete, only the padding is missing
    np.testing.assert_array_equal(read_fits(path, hdu=None, chunks=None).data.compute(), values)


def test_truncated_sparse_file_is_corrupt(tmp_path):
    path = write_sparse_fits(tmp_path / "big.fits", (3000, 3000), -32)
    with path.open("r+b") as file:
        file.truncate(path.stat().st_size // 2)
    with pytest.raises(CorruptFileError):
        read_fits(path, hdu=None, chunks=None)


def test_truncated_last_extension_is_corrupt(image_file):
    with image_file.open("r+b") as file:
        file.truncate(image_file.stat().st_size - 3000)
    with pytest.raises(CorruptFileError):
        read_fits(image_file, hdu="SCI", chunks=None)


def test_truncated_header_is_corrupt(tmp_path):
    path = tmp_path / "cut.fits"
    fits.writeto(path, np.zeros((10, 10), np.float32))
    with path.open("r+b") as file:
        file.truncate(1000)
    with pytest.raises(CorruptFileError):
        read_fits(path, hdu=None, chunks=None)


@pytest.mark.parametrize("content", [b"this is not FITS\n" * 20, b""])
def test_non_fits_file_is_corrupt(tmp_path, content):
    path = tmp_path / "notes.fits"
    path.write_bytes(content)
    with pytest.raises(CorruptFileError) as caught:
        read_fits(path, hdu=None, chunks=None)
    assert "\n" not in str(caught.value)


def test_missing_file(tmp_path):
    with pytest.raises(InputNotFoundError):
        read_fits(tmp_path / "absent.fits", hdu=None, chunks=None)


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
