"""The one place that joins file I/O with computation, one function per CLI command."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from srgan_sci.io import open_array
from srgan_sci.sampling import DEFAULT_MAX_SAMPLES, sample_values


@dataclass(frozen=True)
class InfoConfig:
    """Options of ``srsci info``.

    Parameters
    ----------
    path : str
        Image path, FITS paths optionally with an ``[HDU]`` selector.
    max_values : int
        Values read to estimate the NaN fraction; arrays this small are read whole.
    """

    path: str
    max_values: int = DEFAULT_MAX_SAMPLES


def describe_image(config: InfoConfig) -> dict[str, Any]:
    """Summarise an image without loading it.

    Only a deterministic sample of chunks is read (``config.max_values`` values at most),
    so a multi-GB file is described in about a second with bounded memory.

    Returns
    -------
    dict
        JSON-ready summary: format, shape, dtype, chunks, axes, units, pixel sizes, WCS,
        NaN fraction (and whether it is exact or estimated).
    """
    image = open_array(config.path)
    data, meta = image.data, image.meta
    values = sample_values(data, config.max_values)
    exact = data.size <= config.max_values
    nan_fraction = float(np.mean(np.isnan(values))) if values.size else 0.0
    summary: dict[str, Any] = {
        "path": meta.source,
        "format": meta.format,
        "shape": list(data.shape),
        "dtype_on_disk": meta.dtype_on_disk,
        "dtype": str(data.dtype),
        "chunks": [int(c[0]) for c in data.chunks],
        "axes": meta.axes,
        "units": meta.units,
        "pixel_sizes": {
            axis: {"value": size.value, "unit": size.unit}
            for axis, size in meta.pixel_sizes.items()
        },
        "nan_fraction": nan_fraction,
        "nan_fraction_exact": exact,
        "size_bytes_float32": int(data.size) * 4,
    }
    if meta.fits_header is not None:
        summary["wcs"] = _wcs_summary(meta.fits_header)
    return summary


def _wcs_summary(header: Any) -> dict[str, Any] | None:
    """Projection, reference point and pixel scale of a FITS header's celestial WCS."""
    import warnings

    from astropy.wcs import WCS, FITSFixedWarning
    from astropy.wcs.utils import proj_plane_pixel_scales

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        wcs = WCS(header, naxis=2)
    if not wcs.has_celestial:
        return None
    celestial = wcs.celestial
    scales_arcsec = proj_plane_pixel_scales(celestial) * 3600.0
    return {
        "ctype": list(celestial.wcs.ctype),
        "crval_deg": [float(v) for v in celestial.wcs.crval],
        "crpix": [float(v) for v in celestial.wcs.crpix],
        "pixel_scale_arcsec": [float(v) for v in scales_arcsec],
        "has_distortion": bool(celestial.sip is not None),
    }


def format_summary(summary: dict[str, Any]) -> str:
    """Human-readable text for a :func:`describe_image` summary."""
    lines = [
        f"path        {summary['path']}",
        f"format      {summary['format']}",
        f"shape       {tuple(summary['shape'])}  axes {summary['axes']}",
        f"dtype       {summary['dtype_on_disk']} on disk -> {summary['dtype']}",
        f"chunks      {tuple(summary['chunks'])}",
        f"units       {summary['units'] or 'unknown'}",
    ]
    for axis, size in summary["pixel_sizes"].items():
        lines.append(f"pixel {axis}     {size['value']:.6g} {size['unit'] or ''}".rstrip())
    wcs = summary.get("wcs")
    if wcs:
        scale = ", ".join(f"{v:.4g}" for v in wcs["pixel_scale_arcsec"])
        crval = ", ".join(f"{v:.6f}" for v in wcs["crval_deg"])
        lines.append(f"wcs         {'/'.join(wcs['ctype'])} at ({crval}) deg, {scale} arcsec/pixel")
        if wcs["has_distortion"]:
            lines.append("            SIP distortion present")
    how = "exact" if summary["nan_fraction_exact"] else "estimated from a sample of chunks"
    lines.append(f"NaN         {100 * summary['nan_fraction']:.3g} % ({how})")
    return "\n".join(lines)


def sample_path(name: str = "hdf") -> Path:
    """Path of a sample image shipped with the package (``"hdf"``: Hubble Deep Field crop)."""
    from importlib.resources import files

    samples = {"hdf": "hubble_deep_field.fits"}
    if name not in samples:
        raise ValueError(f"unknown sample {name!r}; choose one of {', '.join(samples)}")
    return Path(str(files("srgan_sci.data") / samples[name]))
