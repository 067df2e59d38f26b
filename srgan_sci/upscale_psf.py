"""The effective PSF of an upscaled FITS image, recorded in its header.

``srsci upscale`` measures the stars of every output that carries a FITS header (FITS
output, or Zarr output of a FITS input) with :func:`~srgan_sci.metrics.validation_psf.star_psf`
on a central window of at most :data:`PSF_WINDOW` pixels a side, and adds the cards
``SRPSFN`` (stars measured), ``SRPSFFW`` (median FWHM, output pixels) and ``SRPSFEL``
(median ellipticity) of :func:`~srgan_sci.metrics.validation_psf.psf_header_cards`: the
resolution the output actually has, which is rarely the instrument's PSF divided by the
scale.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import zarr
from astropy.io import fits

from srgan_sci.io import open_array
from srgan_sci.metrics.validation_psf import psf_header_cards, star_psf

__all__ = [
    "PSF_WINDOW",
    "add_psf_cards",
    "measure_output_psf",
    "psf_window",
    "record_output_psf",
]

PSF_WINDOW = 2048
"""Side (output pixels) of the central window the stars are measured in."""


def psf_window(data: Any, side: int = PSF_WINDOW) -> np.ndarray:
    """Central ``side`` x ``side`` window of the first plane of ``data`` (numpy or dask)."""
    plane = data[(0,) * (data.ndim - 2)] if data.ndim > 2 else data
    window = tuple(
        slice(max(0, (size - side) // 2), max(0, (size - side) // 2) + min(size, side))
        for size in plane.shape
    )
    return np.asarray(plane[window], dtype=np.float32)


def measure_output_psf(plane: np.ndarray) -> tuple[dict[str, Any], dict[str, tuple]]:
    """:func:`star_psf` of an output window and its FITS cards."""
    result = star_psf(plane)
    summary = {key: value for key, value in result.items() if key != "fwhm_per_star"}
    return summary, psf_header_cards(result)


def record_output_psf(output: Path, kind: str) -> dict[str, Any]:
    """Measure the stars of a written output and add the PSF cards to its FITS header.

    Parameters
    ----------
    output : pathlib.Path
        A FITS file (primary HDU) or a Zarr group whose ``srgan_sci`` attributes hold a
        ``fits_header``.
    kind : {"fits", "zarr"}
        Format of ``output``.

    Returns
    -------
    dict
        ``n_stars``, ``fwhm`` and ``ellipticity`` (output pixels).
    """
    summary, cards = measure_output_psf(psf_window(open_array(str(output)).data))
    if kind == "fits":
        with fits.open(output, mode="update") as hdul:
            _set_cards(hdul[0].header, cards)
    else:
        group = zarr.open_group(str(output), mode="r+")
        attrs = dict(group.attrs.get("srgan_sci", {}))
        if attrs.get("fits_header"):
            header = fits.Header.fromstring(attrs["fits_header"], sep="\n")
            _set_cards(header, cards)
            attrs["fits_header"] = header.tostring(sep="\n", padding=False)
            group.attrs["srgan_sci"] = attrs
    return summary


def add_psf_cards(header: fits.Header, data: np.ndarray) -> dict[str, Any]:
    """Measure the stars of in-memory output ``data`` and add the cards to ``header``."""
    summary, cards = measure_output_psf(psf_window(data))
    _set_cards(header, cards)
    return summary


def _set_cards(header: fits.Header, cards: dict[str, tuple]) -> None:
    for key in ("SRPSFN", "SRPSFFW", "SRPSFEL"):
        header.remove(key, ignore_missing=True, remove_all=True)
    for key, (value, comment) in cards.items():
        header[key] = (value, comment)
