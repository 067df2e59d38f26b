"""Point spread functions (PSFs) at the high-resolution (HR) pixel scale.

A :class:`PSFSpec` describes a PSF as plain data (it is stored with every simulated
dataset); :func:`render_psf` turns it into an odd, square, unit-sum kernel and
:func:`psf_radius` gives that kernel's half-width, the halo a chunked convolution needs.

FWHM convention: ``fwhm`` is the full width at half maximum *of the rendered kernel*, i.e.
of the PSF integrated over HR pixels, as :func:`measure_fwhm` reports it.  Pixel integration
broadens a PSF (by about 6 % at a FWHM of 2 pixels, 1 % at 5 pixels), so analytic profiles
are drawn with a slightly narrower continuous width, found by a short root search, and the
kernel honours the requested FWHM.  The physical Airy parameters are turned into that FWHM
first: ``0.5145 λ/NA`` (microscopes) or ``1.029 λ/D`` (telescopes), over the pixel size.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage
from scipy.interpolate import PchipInterpolator
from scipy.optimize import brentq
from scipy.special import j1

from srgan_sci.errors import SrsciError

GAUSSIAN_FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))
AIRY_FWHM_PER_LAMBDA_OVER_D = 1.0289939699619919
"""FWHM of the Airy pattern in units of λ/D (its first dark ring is at 1.21967 λ/D)."""
FLUX_FRACTION = 0.995
"""Fraction of the flux the default kernel radius encloses (up to :data:`MAX_RADIUS`)."""
MAX_RADIUS = 128
"""Largest default radius; Airy wings need it (FWHM 4 px keeps 99.4 % of the flux)."""

_FORMS = {
    "gaussian": [{"fwhm"}],
    "moffat": [{"fwhm"}],
    "airy": [
        {"fwhm"},
        {"wavelength_um", "na", "pixel_size"},
        {"lambda_over_d_arcsec", "pixel_size"},
    ],
    "file": [{"path"}],
}
_ALIASES = {
    "wavelength": "wavelength_um",
    "pixel": "pixel_size",
    "lambda_over_d": "lambda_over_d_arcsec",
}
_EXAMPLES = (
    "gaussian:fwhm=2, moffat:fwhm=3,beta=3.5, airy:fwhm=2.5, airy:wavelength=0.52,na=1.4,"
    "pixel=0.03, airy:lambda_over_d=0.05,pixel=0.03 or file:psf.fits"
)
_FILE_SUFFIXES = (".fits", ".fit", ".fts", ".fits.gz", ".tif", ".tiff")


class PSFError(SrsciError, ValueError):
    """A PSF description or PSF file is invalid."""


@dataclass(frozen=True)
class PSFSpec:
    """A PSF at the HR pixel scale, as data; see the module docstring for the FWHM meaning.

    Parameters
    ----------
    kind : {"gaussian", "moffat", "airy", "file"}
        Profile family.
    fwhm : float or None
        FWHM in HR pixels (gaussian, moffat, airy).
    beta : float
        Moffat power index, ``I ∝ (1 + (r/alpha)^2)^-beta``; must exceed 1.
    wavelength_um, na : float or None
        Airy alternative for microscopes: wavelength (µm) and numerical aperture.
    lambda_over_d_arcsec : float or None
        Airy alternative for telescopes: λ/D in arcsec.
    pixel_size : float or None
        HR pixel size, µm (with ``na``) or arcsec (with ``lambda_over_d_arcsec``).
    path : str or None
        FITS or TIFF image of the PSF (``kind="file"``).
    pixel_ratio : float
        PSF file pixel size / HR pixel size; the file is resampled when it is not 1.
    """

    kind: str
    fwhm: float | None = None
    beta: float = 3.5
    wavelength_um: float | None = None
    na: float | None = None
    lambda_over_d_arcsec: float | None = None
    pixel_size: float | None = None
    path: str | None = None
    pixel_ratio: float = 1.0

    def __post_init__(self) -> None:
        """Check that the fields describe exactly one PSF."""
        if self.kind not in _FORMS:
            raise PSFError(f"unknown PSF kind {self.kind!r}; use one of {', '.join(_FORMS)}")
        optional = ("fwhm", "wavelength_um", "na", "lambda_over_d_arcsec", "pixel_size", "path")
        given = {name for name in optional if getattr(self, name) is not None}
        if given not in _FORMS[self.kind]:
            needs = " or ".join("+".join(sorted(form)) for form in _FORMS[self.kind])
            got = ", ".join(sorted(given)) or "nothing"
            raise PSFError(f"PSF kind {self.kind!r} needs {needs}; got {got}")
        for name in (*sorted(given - {"path"}), "pixel_ratio"):
            value = getattr(self, name)
            if not (isinstance(value, numbers.Real) and math.isfinite(value) and value > 0):
                raise PSFError(f"PSF {name} must be a positive number, got {value!r}")
        if self.kind == "moffat" and not (math.isfinite(self.beta) and self.beta > 1):
            raise PSFError(f"Moffat beta must be > 1 (finite flux), got {self.beta!r}; try 3.5")
        if self.kind != "file" and self.pixel_ratio != 1.0:
            raise PSFError("pixel_ratio applies to file PSFs only; remove it")

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON dictionary of every field."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PSFSpec:
        """Inverse of :meth:`to_dict`; unknown keys are an error."""
        unknown = set(d) - {f.name for f in fields(cls)}
        if unknown:
            raise PSFError(f"unknown PSF spec fields: {', '.join(sorted(unknown))}")
        if "kind" not in d:
            raise PSFError(f"PSF spec has no 'kind'; add one of {', '.join(_FORMS)}")
        return cls(**d)

    def resolved_fwhm(self) -> float:
        """FWHM of the rendered kernel in HR pixels (measured for a file PSF)."""
        if self.fwhm is not None:
            return float(self.fwhm)
        if self.na is not None:
            return (
                AIRY_FWHM_PER_LAMBDA_OVER_D / 2.0 * self.wavelength_um / self.na / self.pixel_size
            )
        if self.lambda_over_d_arcsec is not None:
            return AIRY_FWHM_PER_LAMBDA_OVER_D * self.lambda_over_d_arcsec / self.pixel_size
        return measure_fwhm(load_psf_file(self.path, self.pixel_ratio))


def parse_psf(text: str) -> PSFSpec:
    """Parse a PSF description such as ``"moffat:fwhm=3,beta=3.5"``.

    Parameters
    ----------
    text : str
        ``kind:name=value,...`` with kinds gaussian (fwhm), moffat (fwhm, beta), airy (fwhm;
        or wavelength, na, pixel; or lambda_over_d, pixel), or ``file:PATH[,pixel_ratio=R]``.
        A bare path ending in .fits or .tif(f) means ``file:PATH``.

    Returns
    -------
    PSFSpec

    Examples
    --------
    >>> parse_psf("airy:wavelength=0.52,na=1.4,pixel=0.03").na
    1.4
    """
    text = text.strip()
    if text.lower().endswith(_FILE_SUFFIXES) and not text.lower().startswith("file:"):
        text = "file:" + text
    kind, _, rest = text.partition(":")
    kind = kind.strip().lower()
    if kind == "file":
        match = re.fullmatch(r"(.+?),\s*pixel_ratio=([^,]+)", rest)
        path, ratio = (match.group(1), match.group(2)) if match else (rest, "1")
        return _build(text, kind=kind, path=path.strip() or None, pixel_ratio=_number(text, ratio))
    if kind not in _FORMS:
        raise PSFError(f"unknown PSF kind {kind!r} in {text!r}; use {_EXAMPLES}")
    values: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in rest.split(","))):
        name, _, value = item.partition("=")
        name = name.strip().lower()
        field = _ALIASES.get(name, name)
        allowed = set().union(*_FORMS[kind]) | ({"beta"} if kind == "moffat" else set())
        if field not in allowed:
            raise PSFError(f"unknown parameter {name!r} for a {kind} PSF in {text!r}")
        values[field] = _number(text, value)
    return _build(text, kind=kind, **values)


def format_psf(spec: PSFSpec) -> str:
    """The text :func:`parse_psf` reads back into ``spec``."""
    if spec.kind == "file":
        return f"file:{spec.path}" + (
            f",pixel_ratio={spec.pixel_ratio!r}" * (spec.pixel_ratio != 1)
        )
    names = {field: name for name, field in _ALIASES.items()}
    keep = set().union(*_FORMS[spec.kind]) | ({"beta"} if spec.kind == "moffat" else set())
    items = [f"{names.get(k, k)}={v!r}" for k, v in spec.to_dict().items() if k in keep and v]
    return f"{spec.kind}:" + ",".join(items)


def _number(text: str, value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise PSFError(f"{value.strip()!r} is not a number in PSF {text!r}") from None


def _build(text: str, **values: Any) -> PSFSpec:
    try:
        return PSFSpec(**values)
    except PSFError as error:
        raise PSFError(f"invalid PSF {text!r}: {error}") from None


def psf_radius(spec: PSFSpec) -> int:
    """Default half-width of :func:`render_psf`'s kernel: the disc holding 99.5 % of the flux.

    Analytic enclosed-flux formulas (Gaussian, Moffat, the Airy ``2/(pi x)`` envelope), plus
    one pixel, capped at :data:`MAX_RADIUS`; for a file PSF, the smallest square holding
    99.5 % of the loaded kernel's flux.
    """
    if spec.kind == "file":
        return _flux_radius(load_psf_file(spec.path, spec.pixel_ratio))
    fwhm, tail = spec.resolved_fwhm(), 1.0 - FLUX_FRACTION
    if spec.kind == "gaussian":
        extent = fwhm / GAUSSIAN_FWHM_PER_SIGMA * math.sqrt(-2.0 * math.log(tail))
    elif spec.kind == "moffat":
        alpha = fwhm / (2.0 * math.sqrt(2.0 ** (1.0 / spec.beta) - 1.0))
        extent = alpha * math.sqrt(min(tail ** (-1.0 / (spec.beta - 1.0)), 1e8) - 1.0)
    else:
        extent = 2.0 / (math.pi * tail) * fwhm / (math.pi * AIRY_FWHM_PER_LAMBDA_OVER_D)
    return min(math.ceil(extent) + 1, MAX_RADIUS)


def render_psf(spec: PSFSpec, *, radius: int | None = None, oversample: int = 9) -> np.ndarray:
    """Kernel of ``spec``: odd, square, float64, unit sum, peak on the centre pixel.

    Parameters
    ----------
    spec : PSFSpec
        The PSF.
    radius : int, optional
        Half-width; the kernel is ``2 * radius + 1`` pixels a side.  Default
        :func:`psf_radius`.
    oversample : int
        Analytic profiles are averaged over ``oversample**2`` samples per pixel.

    Returns
    -------
    numpy.ndarray
    """
    if radius is not None and (int(radius) != radius or radius < 1):
        raise PSFError(f"PSF radius must be a positive integer, got {radius!r}")
    if int(oversample) != oversample or oversample < 1:
        raise PSFError(f"oversample must be a positive integer, got {oversample!r}")
    if spec.kind == "file":
        kernel = load_psf_file(spec.path, spec.pixel_ratio)
        radius = _flux_radius(kernel) if radius is None else int(radius)
        kernel = np.pad(kernel, max(radius - kernel.shape[0] // 2, 0))
        c = kernel.shape[0] // 2
        kernel = kernel[c - radius : c + radius + 1, c - radius : c + radius + 1]
    else:
        radius = psf_radius(spec) if radius is None else int(radius)
        width = _continuous_fwhm(spec, int(oversample))
        kernel = _integrate(_profile(spec.kind, width, spec.beta), radius, int(oversample))
    return kernel / kernel.sum()


def _profile(kind: str, fwhm: float, beta: float) -> Callable[[np.ndarray], np.ndarray]:
    """Unnormalised radial profile of continuous FWHM ``fwhm`` as a function of ``r**2``."""
    if kind == "gaussian":
        scale = -0.5 * (GAUSSIAN_FWHM_PER_SIGMA / fwhm) ** 2
        return lambda r2: np.exp(scale * r2)
    if kind == "moffat":
        alpha2 = (fwhm / 2.0) ** 2 / (2.0 ** (1.0 / beta) - 1.0)
        return lambda r2: (1.0 + r2 / alpha2) ** -beta
    k = math.pi * AIRY_FWHM_PER_LAMBDA_OVER_D / fwhm

    def airy(r2: np.ndarray) -> np.ndarray:
        x = k * np.sqrt(r2)
        safe = np.where(x > 0, x, 1.0)
        return np.where(x > 0, 2.0 * j1(safe) / safe, 1.0) ** 2

    return airy


def _integrate(profile: Callable[[np.ndarray], np.ndarray], radius: int, os: int) -> np.ndarray:
    """Mean of ``profile`` over ``os x os`` sub-pixel samples of each pixel, row by row."""
    centres = np.arange(-radius, radius + 1, dtype=np.float64)
    sub = (np.arange(os) + 0.5) / os - 0.5
    x2 = ((centres[:, None] + sub[None, :]) ** 2).ravel()[None, :]
    kernel = np.zeros((centres.size, centres.size))
    for dy in sub:
        values = profile((centres[:, None] + dy) ** 2 + x2)
        kernel += values.reshape(centres.size, centres.size, os).mean(axis=2)
    kernel /= os
    return (kernel + kernel[::-1] + kernel[:, ::-1] + kernel[::-1, ::-1]) / 4.0


def _continuous_fwhm(spec: PSFSpec, os: int) -> float:
    """Continuous FWHM whose pixel-integrated kernel has the requested FWHM."""
    target = spec.resolved_fwhm()
    core = math.ceil(target) + 3

    def excess(width: float) -> float:
        kernel = _integrate(_profile(spec.kind, width, spec.beta), core, os)
        return measure_fwhm(kernel) - target

    low, high = target / 4.0, 1.25 * target
    if excess(low) >= 0.0:
        raise PSFError(
            f"a FWHM of {target:.3g} HR pixels is narrower than one pixel integrates to "
            f"({excess(low) + target:.3g} px); use a larger fwhm or a finer HR pixel scale"
        )
    return brentq(excess, low, high, xtol=1e-7 * target)


def measure_fwhm(psf: np.ndarray) -> float:
    """FWHM in pixels of a kernel centred on its middle pixel.

    The azimuthal mean at each distinct pixel radius gives a radial profile; a monotone
    cubic (PCHIP) through ``log(profile)`` against ``r**2`` (exact for a Gaussian) around
    the first sample below half the centre value locates the half-maximum crossing.

    Parameters
    ----------
    psf : numpy.ndarray
        2-D kernel with odd sides, peak on the centre pixel.

    Returns
    -------
    float
    """
    psf = np.asarray(psf, dtype=np.float64)
    if psf.ndim != 2 or psf.shape[0] % 2 == 0 or psf.shape[1] % 2 == 0:
        raise PSFError(f"measure_fwhm needs a 2-D kernel with odd sides, got shape {psf.shape}")
    if not np.all(np.isfinite(psf)):
        raise PSFError("PSF kernel holds NaN or infinite values; replace them first")
    yy, xx = np.indices(psf.shape)
    r2 = (yy - psf.shape[0] // 2) ** 2 + (xx - psf.shape[1] // 2) ** 2
    radii2, groups = np.unique(r2.ravel(), return_inverse=True)
    profile = np.bincount(groups, psf.ravel()) / np.bincount(groups)
    half = profile[0] / 2.0
    below = np.flatnonzero(profile < half)
    if half <= 0 or below.size == 0:
        raise PSFError("PSF kernel never falls to half its centre value; is it centred?")
    k = below[0]
    window = np.arange(max(k - 2, 0), min(k + 2, radii2.size))
    values, target = profile[window], half
    if np.all(values > 0):
        values, target = np.log(values), math.log(half)
    curve = PchipInterpolator(radii2[window].astype(np.float64), values)
    r2_half = brentq(lambda t: float(curve(t)) - target, radii2[k - 1], radii2[k])
    return 2.0 * math.sqrt(r2_half)


def _flux_radius(kernel: np.ndarray) -> int:
    """Smallest half-width whose centred square holds :data:`FLUX_FRACTION` of the flux."""
    yy, xx = np.abs(np.indices(kernel.shape) - kernel.shape[0] // 2)
    enclosed = np.cumsum(np.bincount(np.maximum(yy, xx).ravel(), kernel.ravel()))
    radius = int(np.searchsorted(enclosed, FLUX_FRACTION * enclosed[-1]))
    return min(max(radius, 1), MAX_RADIUS, kernel.shape[0] // 2)


def load_psf_file(path: str | Path, pixel_ratio: float = 1.0) -> np.ndarray:
    """Read a PSF image, recentre it on its centroid, resample it and normalise it.

    Parameters
    ----------
    path : str or pathlib.Path
        FITS (first image HDU) or TIFF file holding one 2-D plane.
    pixel_ratio : float
        File pixel size / HR pixel size.  Each HR pixel averages sub-samples of a cubic
        spline through the file, so a finer file is integrated over HR pixels.

    Returns
    -------
    numpy.ndarray
        Odd, square, non-negative, unit-sum kernel with its centroid on the centre pixel.
    """
    path = Path(path)
    if not path.is_file():
        raise PSFError(f"PSF file {path} not found; check the path given after 'file:'")
    data = np.squeeze(_read_image(path))
    if data.ndim != 2:
        raise PSFError(f"PSF file {path} holds an array of shape {data.shape}; save one 2-D plane")
    if not np.all(np.isfinite(data)):
        raise PSFError(f"PSF file {path} holds NaN or infinite pixels; replace them by 0")
    data = np.clip(data, 0.0, None)
    if not data.sum() > 0:
        raise PSFError(f"PSF file {path} has no positive pixel; is it the right file?")
    centroid = ndimage.center_of_mass(data)
    centre = [round(c) for c in centroid]
    radius = min(min(c, n - 1 - c) for c, n in zip(centre, data.shape, strict=True))
    if radius < 1:
        raise PSFError(f"PSF in {path} is centred on the image edge; crop it around the PSF")
    kernel = data[tuple(slice(c - radius, c + radius + 1) for c in centre)]
    shift = [radius - c for c in ndimage.center_of_mass(kernel)]
    kernel = ndimage.shift(kernel, shift, order=3, mode="constant", cval=0.0)
    if pixel_ratio != 1.0:
        kernel = _resample(kernel, float(pixel_ratio), path)
    kernel = np.clip(kernel, 0.0, None)
    return kernel / kernel.sum()


def _read_image(path: Path) -> np.ndarray:
    """First image of a FITS or TIFF file as float64."""
    name = path.name.lower()
    try:
        if name.endswith((".tif", ".tiff")):
            import tifffile

            return np.asarray(tifffile.imread(path), dtype=np.float64)
        if name.endswith((".fits", ".fit", ".fts", ".fits.gz")):
            from astropy.io import fits

            with fits.open(path, memmap=False) as hdus:
                for hdu in hdus:
                    if hdu.is_image and hdu.data is not None:
                        return np.asarray(hdu.data, dtype=np.float64)
            raise PSFError(f"PSF file {path} has no image HDU (tables are not PSFs); save an image")
    except PSFError:
        raise
    except (OSError, ValueError, TypeError) as error:
        raise PSFError(
            f"PSF file {path} is not a readable image ({error}); save a FITS/TIFF image"
        ) from None
    raise PSFError(f"PSF file {path} is neither FITS nor TIFF; save the PSF as .fits or .tif")


def _resample(kernel: np.ndarray, ratio: float, path: Path) -> np.ndarray:
    """Resample a centred kernel from file pixels to HR pixels (``ratio`` = file / HR)."""
    half_in = kernel.shape[0] // 2
    half_out = int(half_in * ratio)
    if half_out < 1:
        raise PSFError(f"PSF in {path} is under one HR pixel at pixel_ratio={ratio}; check it")
    subsamples = math.ceil(1.0 / ratio) if ratio < 1.0 else 1
    offsets = (np.arange(subsamples) + 0.5) / subsamples - 0.5
    out = np.arange(-half_out, half_out + 1, dtype=np.float64)
    axis = half_in + ((out[:, None] + offsets[None, :]) / ratio).ravel()
    coords = np.meshgrid(axis, axis, indexing="ij")
    samples = ndimage.map_coordinates(kernel, coords, order=3, mode="constant", cval=0.0)
    side = out.size
    return samples.reshape(side, subsamples, side, subsamples).mean(axis=(1, 3))
