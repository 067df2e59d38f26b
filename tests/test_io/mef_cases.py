"""Multi-extension FITS files in the HST/JWST layout, built with astropy for the tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.io import fits

# HST ACS/WFC j94f05bgq_flt.fits[SCI,1] (astropy test data): CD matrix + 4th-order SIP,
# reference pixel moved onto the small test image.
TAN_SIP = """\
CTYPE1  = 'RA---TAN-SIP'
CTYPE2  = 'DEC--TAN-SIP'
CRPIX1  =                 20.0
CRPIX2  =                 24.0
CRVAL1  =        5.63056810618
CRVAL2  =   -72.05457184278998
CD1_1   = 1.29056256197165E-05
CD1_2   = 5.95309123310338E-06
CD2_1   =  5.0220581265601E-06
CD2_2   = -1.2644774105568E-05
A_ORDER =                    2
B_ORDER =                    2
A_0_2   = 2.16615952976212E-06
B_0_2   = -7.2168814507744E-06
A_1_1   = -5.1974576466834E-06
B_1_1   = 6.18443235774478E-06
A_2_0   = 8.551277582556502E-06
B_2_0   = -1.7464918770586E-06
"""
SHAPE = (48, 40)
DQ_FLAGS = (0, 1, 4, 16, 256, 4096, 1 | 4096, 2 | 8 | 32)


def wcs_header() -> fits.Header:
    return fits.Header.fromstring(TAN_SIP, sep="\n")


def smooth_field(shape: tuple[int, int] = SHAPE) -> np.ndarray:
    """Positive background plus broad sources: bicubic keeps its mean to well under 1 %."""
    y, x = np.mgrid[: shape[0], : shape[1]].astype(np.float64)
    field = 50.0 + 0.3 * x
    for yc, xc, amp, sigma in ((12, 10, 400, 4.0), (30, 25, 900, 5.0), (40, 8, 250, 3.5)):
        field += amp * np.exp(-((y - yc) ** 2 + (x - xc) ** 2) / (2 * sigma**2))
    return field.astype(np.float32)


def make_mef(
    path: Path,
    *,
    bunit: str | None = "ELECTRONS/S",
    extra_sci_cards: dict | None = None,
    chips: int = 1,
) -> Path:
    """PRIMARY (no data), then per chip SCI/ERR/DQ/VAR_POISSON, then a table, INHERIT = T.

    SCI float32 with a TAN-SIP WCS and per-pixel detector keywords; ERR float32; DQ int16
    with bit flags; VAR_POISSON float32; all image extensions carry the WCS.
    """
    rng = np.random.default_rng(11)
    primary = fits.PrimaryHDU()
    primary.header["TELESCOP"] = "HST"
    primary.header["EXPTIME"] = (500.0, "exposure time (s)")
    primary.header["CCDGAIN"] = 2.0
    primary.header["ATODGNA"] = 2.02
    primary.header["READNSEA"] = 4.8
    hdus: list = [primary]
    for chip in range(1, chips + 1):
        sci_header = wcs_header()
        if bunit is not None:
            sci_header["BUNIT"] = bunit
        sci_header["INHERIT"] = True
        sci_header["SATURATE"] = 65535.0
        sci_header["GAIN"] = 2.0
        sci_header["RDNOISE"] = 5.0
        sci_header["PIXAR_SR"] = 2.0e-13
        for key, value in (extra_sci_cards or {}).items():
            sci_header[key] = value
        science = smooth_field() * chip
        error = np.sqrt(science / 10).astype(np.float32)
        quality = rng.choice(np.array(DQ_FLAGS, np.int16), size=SHAPE)
        variance = (error**2 * 0.8).astype(np.float32)
        hdus += [
            fits.ImageHDU(science, header=sci_header, name="SCI", ver=chip),
            fits.ImageHDU(error, header=wcs_header() + _bunit(bunit), name="ERR", ver=chip),
            fits.ImageHDU(quality, header=wcs_header(), name="DQ", ver=chip),
            fits.ImageHDU(variance, header=wcs_header(), name="VAR_POISSON", ver=chip),
        ]
    columns = [
        fits.Column("flux", "E", array=np.arange(4.0)),
        fits.Column("id", "J", array=[7] * 4),
    ]
    hdus.append(fits.BinTableHDU.from_columns(columns, name="CAT"))
    fits.HDUList(hdus).writeto(path)
    return path


def _bunit(bunit: str | None) -> fits.Header:
    header = fits.Header()
    if bunit is not None:
        header["BUNIT"] = bunit
    return header
