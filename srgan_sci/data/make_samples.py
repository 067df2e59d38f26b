"""Rebuild the sample images shipped in this folder: ``python -m srgan_sci.data.make_samples``.

``hubble_deep_field.fits`` is a 256 x 256 crop of scikit-image's ``hubble_deep_field``
(an 8-bit rendering of the HST WFPC2 Hubble Deep Field), summed over its colour planes,
with a TAN WCS at the field's published centre (RA 12h36m49.4s, Dec +62d12m58s) and the
drizzled 0.04 arcsec/pixel scale.  Values are display units, not calibrated flux.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.io import fits

HDF_CENTRE_DEG = (189.205833, 62.216111)
HDF_PIXEL_SCALE_DEG = 0.04 / 3600.0
CROP = (slice(300, 556), slice(400, 656))


def hubble_deep_field_hdu() -> fits.PrimaryHDU:
    """The Hubble Deep Field sample as a FITS HDU with a celestial WCS."""
    from skimage.data import hubble_deep_field

    image = hubble_deep_field()[CROP].astype(np.float32).sum(axis=-1)
    header = fits.Header()
    header["BUNIT"] = ("adu", "8-bit display values summed over RGB")
    header["CTYPE1"], header["CTYPE2"] = "RA---TAN", "DEC--TAN"
    header["CRVAL1"], header["CRVAL2"] = HDF_CENTRE_DEG
    header["CRPIX1"], header["CRPIX2"] = 128.5, 128.5
    header["CD1_1"], header["CD1_2"] = -HDF_PIXEL_SCALE_DEG, 0.0
    header["CD2_1"], header["CD2_2"] = 0.0, HDF_PIXEL_SCALE_DEG
    header["RADESYS"], header["EQUINOX"] = "ICRS", 2000.0
    header["TELESCOP"], header["INSTRUME"] = "HST", "WFPC2"
    header["ORIGIN"] = "skimage.data.hubble_deep_field crop"
    return fits.PrimaryHDU(data=image, header=header)


def main() -> None:
    """Write every sample next to this module."""
    folder = Path(__file__).parent
    hubble_deep_field_hdu().writeto(
        folder / "hubble_deep_field.fits", overwrite=True, checksum=True
    )


if __name__ == "__main__":
    main()
