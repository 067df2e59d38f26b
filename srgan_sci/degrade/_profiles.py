"""Surface-brightness profiles rendered on the pixel grid, one object at a time.

Every ``*_stamp`` function evaluates one object over its bounding box ``bbox = (y0, y1, x0,
x1)`` (half-open, global pixel indices) and returns a float64 array of shape
``(y1 - y0, x1 - x0)``.  Pixel ``(i, j)`` has its centre at coordinates ``(i, j)`` and covers
``[i - 0.5, i + 0.5) x [j - 0.5, j + 0.5)``.  A stamp depends only on the object's
parameters and its bounding box, never on which part of the image is being rendered, which
is what makes chunked rendering reproducible bit for bit.

Fluxes are in arbitrary linear units (photo-electron-like counts per pixel).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy.special import erf, expit, gammainc

BBox = tuple[int, int, int, int]
Profile = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _offsets(bbox: BBox, yc: float, xc: float) -> tuple[np.ndarray, np.ndarray]:
    """Offsets of the pixel centres of ``bbox`` from ``(yc, xc)``: (h, 1) and (1, w) arrays."""
    y0, y1, x0, x1 = bbox
    dy = np.arange(y0, y1, dtype=np.float64)[:, None] - yc
    dx = np.arange(x0, x1, dtype=np.float64)[None, :] - xc
    return dy, dx


def _supersample_core(
    stamp: np.ndarray,
    bbox: BBox,
    profile: Profile,
    yc: float,
    xc: float,
    half: int,
    factor: int,
) -> np.ndarray:
    """Replace the pixels near the centre by the mean of ``factor**2`` samples per pixel.

    Point sampling misjudges peaked profiles (narrow stars, Sérsic cusps): the central
    pixels should hold the mean of the profile over their area, not its value at their
    centre.  Averaging sub-samples over the central ``(2 * half + 1)**2`` pixels fixes most
    of that at little cost.
    """
    iy, ix = math.floor(yc + 0.5), math.floor(xc + 0.5)
    y0, y1 = max(iy - half, bbox[0]), min(iy + half + 1, bbox[1])
    x0, x1 = max(ix - half, bbox[2]), min(ix + half + 1, bbox[3])
    if y0 >= y1 or x0 >= x1:
        return stamp
    sub = (np.arange(factor, dtype=np.float64) + 0.5) / factor - 0.5
    ys = (np.arange(y0, y1, dtype=np.float64)[:, None] + sub[None, :]).ravel() - yc
    xs = (np.arange(x0, x1, dtype=np.float64)[:, None] + sub[None, :]).ravel() - xc
    samples = profile(ys[:, None], xs[None, :])
    core = samples.reshape(y1 - y0, factor, x1 - x0, factor).mean(axis=(1, 3))
    stamp[y0 - bbox[0] : y1 - bbox[0], x0 - bbox[2] : x1 - bbox[2]] = core
    return stamp


def _pixel_integrated(
    bbox: BBox, profile: Profile, yc: float, xc: float, half: int, total: float
) -> np.ndarray:
    """Render ``profile`` over ``bbox`` with supersampled core pixels, summing to ``total``.

    The pixels within ``half`` of the centre are averaged over 5 x 5 sub-pixels, the central
    pixel over 25 x 25 (for cusps).  The stamp is then scaled so that its sum is the analytic
    flux ``total`` of the profile within its truncation radius: supersampling only the core
    would otherwise bias the total by a fraction of a percent.
    """
    stamp = profile(*_offsets(bbox, yc, xc))
    stamp = _supersample_core(stamp, bbox, profile, yc, xc, half=half, factor=5)
    stamp = _supersample_core(stamp, bbox, profile, yc, xc, half=0, factor=25)
    rendered = stamp.sum()
    return stamp * (total / rendered) if rendered > 0 else stamp


def moffat_alpha(fwhm: float, beta: float) -> float:
    """Core width ``alpha`` of a Moffat profile of full width at half maximum ``fwhm``."""
    return fwhm / (2.0 * math.sqrt(2.0 ** (1.0 / beta) - 1.0))


def moffat_stamp(
    bbox: BBox, yc: float, xc: float, flux: float, fwhm: float, beta: float, r_max: float
) -> np.ndarray:
    """Moffat point source of total ``flux`` (untruncated), cut to zero beyond ``r_max``.

    ``I(r) = flux * (beta - 1) / (pi alpha^2) * (1 + r^2 / alpha^2) ** -beta``, averaged
    over the pixels near the centre; the stamp sums to the flux within ``r_max``.
    """
    alpha2 = moffat_alpha(fwhm, beta) ** 2
    peak = flux * (beta - 1.0) / (math.pi * alpha2)

    def profile(dy: np.ndarray, dx: np.ndarray) -> np.ndarray:
        r2 = dy * dy + dx * dx
        return np.where(r2 <= r_max * r_max, peak * (1.0 + r2 / alpha2) ** -beta, 0.0)

    enclosed = flux * (1.0 - (1.0 + r_max * r_max / alpha2) ** (1.0 - beta))
    return _pixel_integrated(bbox, profile, yc, xc, math.ceil(2.0 * fwhm), enclosed)


def sersic_bn(n: float) -> float:
    """Approximate ``b_n`` such that the effective radius holds half the Sérsic flux."""
    return 2.0 * n - 1.0 / 3.0 + 4.0 / (405.0 * n) + 46.0 / (25515.0 * n * n)


def sersic_stamp(
    bbox: BBox,
    yc: float,
    xc: float,
    flux: float,
    r_e: float,
    n: float,
    q: float,
    theta: float,
    r_max: float,
) -> np.ndarray:
    """Elliptical Sérsic profile of total ``flux`` (untruncated), cut beyond ``r_max``.

    ``r_e`` and ``r_max`` are measured along the major axis, ``q`` is the axis ratio
    (minor / major) and ``theta`` the position angle of the major axis from the x axis.
    Pixels near the centre hold the mean of the profile over their area; the stamp sums to
    the flux within ``r_max``.
    """
    bn = sersic_bn(n)
    norm = 2.0 * math.pi * n * q * r_e**2 * math.exp(bn) * bn ** (-2.0 * n) * math.gamma(2.0 * n)
    i_e = flux / norm
    cos_t, sin_t = math.cos(theta), math.sin(theta)

    def profile(dy: np.ndarray, dx: np.ndarray) -> np.ndarray:
        major = dx * cos_t + dy * sin_t
        minor = (dy * cos_t - dx * sin_t) / q
        r = np.sqrt(major * major + minor * minor)
        value = i_e * np.exp(-bn * ((r / r_e) ** (1.0 / n) - 1.0))
        return np.where(r <= r_max, value, 0.0)

    enclosed = flux * gammainc(2.0 * n, bn * (r_max / r_e) ** (1.0 / n))
    half = min(math.ceil(r_e) + 1, 8)
    return _pixel_integrated(bbox, profile, yc, xc, half, enclosed)


def nucleus_stamp(
    bbox: BBox,
    yc: float,
    xc: float,
    a: float,
    b: float,
    theta: float,
    brightness: float,
    edge: float,
    waves: np.ndarray,
) -> np.ndarray:
    """Render a filled ellipse with a soft edge and a low-frequency texture (a nucleus).

    The edge is a logistic function of the (approximate) signed distance to the ellipse of
    semi-axes ``a`` >= ``b``, with width ``edge`` pixels.  ``waves`` is an ``(k, 4)`` array of
    ``(k_y, k_x, phase, amplitude)`` rows; the texture is ``1 + sum(amplitude * sin(k . r +
    phase))``, which stays positive while the amplitudes sum to less than one.
    """
    dy, dx = _offsets(bbox, yc, xc)
    cos_t, sin_t = math.cos(theta), math.sin(theta)
    major = dx * cos_t + dy * sin_t
    minor = dy * cos_t - dx * sin_t
    rho = np.sqrt((major / a) ** 2 + (minor / b) ** 2)
    r = np.sqrt(major * major + minor * minor)
    boundary = np.divide(r, rho, out=np.full_like(r, b), where=rho > 0)
    inside = expit((boundary - r) / edge)
    texture = np.ones_like(r)
    for k_y, k_x, phase, amplitude in waves:
        texture += amplitude * np.sin(k_y * dy + k_x * dx + phase)
    return brightness * inside * texture


def segment_stamp(
    bbox: BBox, ya: float, xa: float, yb: float, xb: float, sigma: float, line_density: float
) -> np.ndarray:
    """Straight segment from ``a`` to ``b`` with a Gaussian cross-section of width ``sigma``.

    The segment is a uniform line of ``line_density`` flux per pixel of length convolved
    with an isotropic Gaussian, integrated in closed form; consecutive segments of a
    polyline therefore add up to a seamless curve (no bright or dark joints).  Far from the
    ends, the peak across the line is ``line_density / (sigma * sqrt(2 pi))``.
    """
    dy, dx = _offsets(bbox, ya, xa)
    length = math.hypot(yb - ya, xb - xa)
    if length == 0.0:
        return np.zeros((bbox[1] - bbox[0], bbox[3] - bbox[2]))
    uy, ux = (yb - ya) / length, (xb - xa) / length
    along = dy * uy + dx * ux
    across = dx * uy - dy * ux
    scale = sigma * math.sqrt(2.0)
    ends = erf((length - along) / scale) + erf(along / scale)
    amplitude = line_density / (2.0 * sigma * math.sqrt(2.0 * math.pi))
    return amplitude * np.exp(-0.5 * (across / sigma) ** 2) * ends
