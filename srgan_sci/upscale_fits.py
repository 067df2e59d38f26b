"""The FITS side of ``srsci upscale``: units rule, headers and multi-extension outputs.

:func:`srgan_sci.upscale.upscale_file` runs the model; this module decides what the
FITS semantics of the result are and writes multi-extension files:

* units (:mod:`srgan_sci.io.units`): per-pixel values are divided by ``s**2`` lazily in
  the dask graph (flux conserved), surface brightness kept; an unknown ``BUNIT`` keeps
  values and warns once (:class:`~srgan_sci.io.fits_output.FitsOutputWarning`);
* lookup-table distortions are refused (:class:`LookupDistortionError`) unless dropped;
* headers get the units rule, provenance and retired detector keywords
  (:mod:`srgan_sci.io.fits_output`);
* a multi-extension input with ``SCI`` HDUs written to FITS keeps its structure: each
  ``SCI`` upscaled by the model, ``DQ``/``ERR``/``VAR_*`` propagated
  (:mod:`srgan_sci.io.fits_mef`), other extensions copied unchanged.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dask
import dask.array as da
import numpy as np
from astropy.io import fits

from srgan_sci.io import detect_format, open_array
from srgan_sci.io.api import replace_atomically, split_hdu_selector
from srgan_sci.io.fits_header import (
    LookupDistortionError,
    lookup_distortion_keywords,
    lookup_distortion_message,
    upscale_header,
)
from srgan_sci.io.fits_mef import (
    COMPANIONS,
    COPY,
    LOOKUP_TABLE,
    SCIENCE,
    MefHdu,
    clean_image_header,
    mef_layout,
    propagate_companion,
)
from srgan_sci.io.fits_output import (
    FitsOutputWarning,
    Provenance,
    finish_companion_header,
    finish_science_header,
)
from srgan_sci.io.metadata import LazyImage
from srgan_sci.io.units import UnitDecision, decide_units
from srgan_sci.upscale_psf import add_psf_cards

__all__ = [
    "LookupDistortionError",
    "check_lookup_distortion",
    "decide_fits_units",
    "fits_bunit",
    "input_layout",
    "prepare_input",
    "scale_values",
    "upscale_mef",
]

ScienceRunner = Callable[[LazyImage], tuple[da.Array, da.Array | None, dict[str, Any]]]
"""Model run on one science image: (upscaled, TTA spread or None, normaliser dict)."""


def note(message: str, notes: list[str]) -> None:
    """Warn (:class:`FitsOutputWarning`) and keep the message for the command's summary."""
    if message not in notes:
        warnings.warn(message, FitsOutputWarning, stacklevel=3)
        notes.append(message)


def input_layout(path_spec: str) -> list[MefHdu] | None:
    """Layout of a multi-extension FITS input with ``SCI`` HDUs and no ``[HDU]`` selector."""
    path, hdu = split_hdu_selector(path_spec)
    return None if hdu is not None else mef_layout(path)


def prepare_input(
    image: LazyImage, path_spec: str, output: Path, units: str, lookup: str, notes: list[str]
) -> list[MefHdu] | None:
    """Check an input before any pixel is computed; return its multi-extension layout.

    Refuses lookup-table distortions of a FITS input (unless ``lookup="drop"``), and
    warns when ``--units`` is given for a non-FITS input or when a multi-extension file
    is written to a single-image format.

    Returns
    -------
    list of MefHdu or None
        :func:`input_layout` of a FITS input, else None.
    """
    if image.meta.format != "fits":
        if units != "auto":
            note(f"--units applies to FITS inputs only; values of {image.meta.source} kept", notes)
        return None
    check_lookup_distortion([image.meta.fits_header], image.meta.source, drop=lookup == "drop")
    layout = input_layout(path_spec)
    if layout and detect_format(output) != "fits":
        if sum(hdu.index > 0 for hdu in layout) > 1:
            note(
                f"{path_spec}: multi-extension file: only HDU {image.meta.extra['hdu_index']} "
                f"({image.meta.extra['extname']}) is written to {output.name}; ERR, DQ and the "
                "other extensions are left out (write a .fits output to keep them, or name "
                "the HDU, FILE[SCI], to silence this)",
                notes,
            )
    return layout


def check_lookup_distortion(headers: list[fits.Header], source: str, *, drop: bool) -> None:
    """Raise :class:`LookupDistortionError` if any header has a lookup-table distortion.

    Called before any pixel is computed.  With ``drop`` nothing is checked: the cards
    are removed later by :func:`upscale_header` (with a warning and ``HISTORY``).
    """
    if drop:
        return
    found = sorted({key for header in headers for key in lookup_distortion_keywords(header)})
    if found:
        raise LookupDistortionError(lookup_distortion_message(found, source))


def decide_fits_units(
    bunit: str | None, requested: str, source: str, notes: list[str]
) -> UnitDecision:
    """:func:`decide_units`, warning once when the rule had to be assumed."""
    decision = decide_units(bunit, requested)
    if decision.source == "assumed":
        note(f"{source}: {decision.explain()}", notes)
    return decision


def scale_values(data: da.Array, decision: UnitDecision, scale: int) -> da.Array:
    """Pixel values under the units rule: divided by ``scale**2`` per pixel (lazy)."""
    factor = decision.value_factor(scale)
    return data if factor == 1 else data * np.float32(factor)


def science_header(
    header: fits.Header,
    scale: int,
    decision: UnitDecision,
    provenance: Provenance,
    lookup: str,
) -> fits.Header:
    """Header of an upscaled science HDU: WCS moved, units, provenance, detector keywords."""
    moved = upscale_header(header, scale, flux_conserving=decision.conserves_flux, lookup=lookup)
    return finish_science_header(moved, scale, decision, provenance)


def fits_bunit(image: LazyImage) -> str | None:
    """``BUNIT`` of a FITS image, from its PRIMARY HDU when the image has ``INHERIT = T``."""
    header = image.meta.fits_header
    if image.meta.units or header is None or header.get("INHERIT") is not True:
        return image.meta.units
    path, _ = split_hdu_selector(image.meta.source)
    return _inherited_bunit(header, fits.getheader(path, 0))


def _inherited_bunit(header: fits.Header, primary: fits.Header) -> str | None:
    """``BUNIT`` of an extension, or of the primary HDU when the extension has ``INHERIT = T``."""
    unit = str(header.get("BUNIT", "")).strip()
    if not unit and header.get("INHERIT") is True:
        unit = str(primary.get("BUNIT", "")).strip()
    return unit or None


def upscale_mef(
    path: Path,
    layout: list[MefHdu],
    output: Path,
    *,
    run: ScienceRunner,
    scale: int,
    units: str,
    lookup: str,
    provenance: Provenance,
    chunk: int,
    notes: list[str],
) -> dict[str, Any]:
    """Write the multi-extension upscale of ``path`` to ``output`` (FITS, in memory).

    Parameters
    ----------
    path : pathlib.Path
        Input FITS file.
    layout : list of MefHdu
        Its :func:`~srgan_sci.io.fits_mef.mef_layout`.
    output : pathlib.Path
        FITS file to write (atomically).
    run : callable
        Upscales one science image with the model (see :data:`ScienceRunner`).
    scale : int
        Upscale factor of the model.
    units : {"auto", "per-pixel", "surface-brightness"}
        Requested units rule.
    lookup : {"refuse", "drop"}
        Lookup-table distortions; ``"drop"`` also leaves out ``WCSDVARR``/``D2IMARR``.
    provenance : Provenance
        Recorded in the PRIMARY and every ``SCI`` header.
    chunk : int
        Input chunk side.
    notes : list of str
        Warnings raised are appended here.

    Returns
    -------
    dict
        ``hdus`` (what happened to each HDU), ``units``, ``normalizers``, the shapes
        and the ``effective_psf`` (cards ``SRPSF*`` in each ``SCI`` header) of the first
        ``SCI``.
    """
    with fits.open(path, mode="readonly") as hdul:
        primary = hdul[0].header.copy()
        headers = [primary] + [hdul[h.index].header for h in layout if h.role != COPY]
        check_lookup_distortion(headers, str(path), drop=lookup == "drop")
    decisions: dict[int, UnitDecision] = {}
    science: dict[int, list[tuple[np.ndarray | da.Array, fits.Header]]] = {}
    normalizers, shapes = [], []
    for hdu in (h for h in layout if h.role == SCIENCE):
        image = open_array(f"{path}[{hdu.index}]", chunks=chunk)
        bunit = _inherited_bunit(image.meta.fits_header, primary)
        decision = decide_fits_units(bunit, units, str(path), notes)
        decisions.setdefault(hdu.ver, decision)
        upscaled, spread, normalizer = run(image)
        header = science_header(image.meta.fits_header, scale, decision, provenance, lookup)
        outputs = [(scale_values(upscaled, decision, scale), header)]
        if spread is not None:
            spread_header = header.copy()
            spread_header["EXTNAME"] = ("TTA_STD", "spread of 8 flips/rotations (model)")
            outputs.append((scale_values(spread, decision, scale), spread_header))
        science[hdu.index] = outputs
        normalizers.append(normalizer)
        shapes.append((list(image.data.shape), list(upscaled.shape)))
    arrays = [data for outputs in science.values() for data, _ in outputs]
    computed = iter(dask.compute(*arrays))
    first = next(iter(decisions.values()))
    hdus, report, psf = [], [], []
    with fits.open(path, mode="readonly") as hdul:
        for hdu in layout:
            source = hdul[hdu.index]
            if hdu.index == 0:
                hdus.append(_primary(source, scale, first, provenance, lookup))
                report.append(f"{hdu.label}: header kept, provenance added")
            elif hdu.role == SCIENCE:
                for position, (_, header) in enumerate(science[hdu.index]):
                    data = np.asarray(next(computed), dtype=np.float32)
                    if position == 0:  # the image, not its TTA spread
                        psf.append(add_psf_cards(header, data))
                    hdus.append(fits.ImageHDU(data, header=clean_image_header(header)))
                report.append(f"{hdu.label}: upscaled by {provenance.model}")
            elif hdu.role in COMPANIONS:
                units_rule = decisions.get(hdu.ver, first)
                hdus.append(_companion(source, hdu, scale, units_rule, lookup))
                report.append(f"{hdu.label}: {hdu.role} propagated")
            elif hdu.role == LOOKUP_TABLE and lookup == "drop":
                report.append(f"{hdu.label}: lookup table left out (distortion dropped)")
            else:
                hdus.append(source)
                report.append(f"{hdu.label}: copied unchanged")
        replace_atomically(
            output,
            lambda partial: fits.HDUList(hdus).writeto(
                partial, output_verify="silentfix+exception"
            ),
        )
    return {
        "input_shape": shapes[0][0],
        "output_shape": shapes[0][1],
        "hdus": report,
        "units": first.rule,
        "normalizer": normalizers[0],
        "normalizers": normalizers,
        "effective_psf": psf[0],
    }


def _primary(
    source: Any, scale: int, units: UnitDecision, provenance: Provenance, lookup: str
) -> fits.PrimaryHDU:
    """PRIMARY of the output: header kept with provenance; data (rare) copied unchanged."""
    if source.header.get("NAXIS", 0):
        header = source.header.copy()
        header.add_history(f"srgan_sci {provenance.version}: PRIMARY data copied, not upscaled")
        return fits.PrimaryHDU(source.data, header=clean_image_header(header))
    header = science_header(source.header, scale, units, provenance, lookup)
    return fits.PrimaryHDU(header=clean_image_header(header))


def _companion(
    source: Any, hdu: MefHdu, scale: int, units: UnitDecision, lookup: str
) -> fits.ImageHDU:
    """Upscaled ``ERR``/``VAR_*``/``DQ`` HDU (see :func:`propagate_companion`)."""
    data = source.data if hdu.shape else None
    moved = upscale_header(source.header, scale, lookup=lookup)
    data, moved = propagate_companion(data, moved, hdu.role, scale, units)
    header = finish_companion_header(moved, scale, hdu.role, units)
    return fits.ImageHDU(data, header=clean_image_header(header))
