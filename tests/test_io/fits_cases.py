"""Real published FITS headers and helpers shared by the FITS test files."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
from astropy.coordinates import angular_separation
from astropy.io import fits
from astropy.wcs import WCS

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


def make_image_file(tmp_path: Path) -> Path:
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
