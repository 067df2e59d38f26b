"""Synthetic high-resolution scenes: star fields, galaxies, deep fields, cell nuclei and filaments.

Scenes are ground-truth images for tests, the demo and training without data.  They are
generated lazily, block by block, so a 50 000 x 50 000 mosaic needs no more memory than
one chunk:

* the image plane is cut into fixed square *catalogue cells* of :data:`CATALOGUE_CELL`
  pixels, independent of the dask chunks; each cell draws its own objects from a child
  seed ``SeedSequence([seed, kind, cell_y, cell_x])``, so no global catalogue is built;
* a block renders the objects of every cell within reach (the cells overlapping the block
  grown by the largest object radius of the scene kind) whose bounding box overlaps it;
* each object is rendered over its whole bounding box at global pixel coordinates, then
  the part inside the block is added, in a fixed order (cell by cell in row-major order,
  then catalogue order), with float64 accumulation.  Every pixel therefore receives the
  same additions in the same order whatever the chunking: results are identical bit for
  bit for any ``chunks``, and a scene of shape ``(h, w)`` is the top-left crop of any
  larger scene with the same kind and seed.

Values are non-negative float32 in arbitrary linear flux units (photo-electron-like counts
per high-resolution pixel); the sky or background level is part of the truth image.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from numbers import Integral

import dask.array as da
import numpy as np

from srgan_sci.degrade import _profiles
from srgan_sci.errors import SrsciError

SCENE_KINDS = ("galaxies", "stars", "deep-field", "nuclei", "filaments")
CATALOGUE_CELL = 512
"""Side, in pixels, of the square cells that each carry their own object catalogue."""

_SEED_OFFSET = 2**40  # keeps cell indices non-negative in the seed entropy
_STAR_REACH = 35  # Moffat stamps are cut at r <= 32 px
_GALAXY_REACH = 67  # Sérsic stamps are cut at r <= 64 px
_NUCLEUS_REACH = 46  # semi-major axis <= 25 px plus 10 edge widths <= 18 px
_FILAMENT_REACH = 210  # half-length <= 200 px plus 4 sigma <= 6 px
_NUCLEUS_WAVES = 6  # sinusoids in the texture of a nucleus


class SceneError(SrsciError, ValueError):
    """A synthetic scene was requested with an unknown kind or an invalid size or seed."""


StampFn = Callable[[tuple[int, int, int, int], np.ndarray], np.ndarray]


@dataclass(frozen=True)
class _Group:
    """Objects of one catalogue cell drawn with the same stamp function."""

    stamp: StampFn  # (bbox, parameter row) -> float64 stamp of the bbox's shape
    bboxes: np.ndarray  # (n, 4) int64: y0, y1, x0, x1, half-open global pixel indices
    params: np.ndarray  # (n, p) float64


def _cell_rng(seed: int, kind: str, cy: int, cx: int) -> np.random.Generator:
    """Return the generator of catalogue cell ``(cy, cx)``, independent of all others."""
    entropy = [seed, SCENE_KINDS.index(kind), cy + _SEED_OFFSET, cx + _SEED_OFFSET]
    return np.random.default_rng(np.random.SeedSequence(entropy))


def _power_law(
    rng: np.random.Generator, n: int, f_min: float, f_max: float, slope: float = 2.0
) -> np.ndarray:
    """Draw ``n`` fluxes with ``dN/dF ∝ F**-slope`` between ``f_min`` and ``f_max``."""
    a = slope - 1.0
    u = rng.uniform(0.0, 1.0, n)
    return f_min * (1.0 - u * (1.0 - (f_min / f_max) ** a)) ** (-1.0 / a)


def _positions(rng: np.random.Generator, n: int, cy: int, cx: int) -> np.ndarray:
    """Uniform sub-pixel positions ``(n, 2)`` (y, x) inside catalogue cell ``(cy, cx)``."""
    origin = np.array([cy, cx], dtype=np.float64) * CATALOGUE_CELL - 0.5
    return origin + rng.uniform(0.0, CATALOGUE_CELL, (n, 2))


def _bboxes(
    y: np.ndarray, x: np.ndarray, radius: np.ndarray, cy: int, cx: int, reach: int
) -> np.ndarray:
    """Bounding boxes of discs, clipped to the reach of cell ``(cy, cx)``."""
    lo = np.array([cy, cy, cx, cx]) * CATALOGUE_CELL - reach
    hi = np.array([cy, cy, cx, cx]) * CATALOGUE_CELL + CATALOGUE_CELL + reach
    corners = np.stack([y - radius, y + radius + 1, x - radius, x + radius + 1], axis=1)
    boxes = np.floor(corners).astype(np.int64)
    return np.clip(boxes, lo, hi).reshape(-1, 4)


def _star_stamp(bbox: tuple[int, int, int, int], row: np.ndarray) -> np.ndarray:
    return _profiles.moffat_stamp(bbox, *row.tolist())


def _galaxy_stamp(bbox: tuple[int, int, int, int], row: np.ndarray) -> np.ndarray:
    return _profiles.sersic_stamp(bbox, *row.tolist())


def _nucleus_stamp(bbox: tuple[int, int, int, int], row: np.ndarray) -> np.ndarray:
    return _profiles.nucleus_stamp(bbox, *row[:7].tolist(), row[7:].reshape(-1, 4))


def _segment_stamp(bbox: tuple[int, int, int, int], row: np.ndarray) -> np.ndarray:
    return _profiles.segment_stamp(bbox, *row.tolist())


def _stars(rng: np.random.Generator, cy: int, cx: int, per_pixel: float) -> _Group:
    """Moffat stars with power-law fluxes, ``per_pixel`` stars per pixel on average."""
    n = int(rng.poisson(per_pixel * CATALOGUE_CELL**2))
    yx = _positions(rng, n, cy, cx)
    flux = _power_law(rng, n, 20.0, 2e5)
    fwhm = rng.uniform(1.5, 3.0, n)
    beta = rng.uniform(2.5, 3.5, n)
    alpha = fwhm / (2.0 * np.sqrt(2.0 ** (1.0 / beta) - 1.0))
    peak = flux * (beta - 1.0) / (np.pi * alpha**2)
    # Cut where the profile falls below 1e-3 flux units, between 3 and 32 pixels.
    r_max = np.clip(alpha * np.sqrt((peak / 1e-3) ** (1.0 / beta) - 1.0), 3.0, 32.0)
    params = np.stack([yx[:, 0], yx[:, 1], flux, fwhm, beta, r_max], axis=1)
    bboxes = _bboxes(yx[:, 0], yx[:, 1], r_max, cy, cx, _STAR_REACH)
    return _Group(_star_stamp, bboxes, params.reshape(-1, 6))


def _galaxies(rng: np.random.Generator, cy: int, cx: int) -> _Group:
    """Sérsic galaxies; brighter galaxies are larger on average."""
    n = int(rng.poisson(CATALOGUE_CELL**2 / 2500))
    yx = _positions(rng, n, cy, cx)
    flux = _power_law(rng, n, 100.0, 1e6)
    r_e = np.clip((flux / 100.0) ** 0.3 * rng.lognormal(0.0, 0.3, n), 1.0, 12.0)
    index = rng.uniform(0.5, 4.0, n)
    q = rng.uniform(0.3, 1.0, n)
    theta = rng.uniform(0.0, np.pi, n)
    r_max = np.minimum((4.0 + index) * r_e, 64.0)
    params = np.stack([yx[:, 0], yx[:, 1], flux, r_e, index, q, theta, r_max], axis=1)
    bboxes = _bboxes(yx[:, 0], yx[:, 1], r_max, cy, cx, _GALAXY_REACH)
    return _Group(_galaxy_stamp, bboxes, params.reshape(-1, 8))


def _deep_field(rng: np.random.Generator, cy: int, cx: int) -> tuple[_Group, ...]:
    """A crowded deep-survey field: small, often clumpy galaxies over three decades of flux.

    About one galaxy per 400 px² (six times the ``galaxies`` density), fluxes ``dN/dF ∝
    F^-1.6`` from 50 to 5e4, ``r_e`` 0.7-10 px.  Galaxies with ``r_e >= 2`` px move 10-40 %
    of their flux into 1-5 compact star-forming knots (Moffat, FWHM 1.2-3 px) scattered
    within about one effective radius, so the field has irregular as well as smooth shapes.
    """
    n = int(rng.poisson(CATALOGUE_CELL**2 / 400))
    yx = _positions(rng, n, cy, cx)
    flux = _power_law(rng, n, 50.0, 5e4, slope=1.6)
    r_e = np.clip(0.8 * (flux / 50.0) ** 0.3 * rng.lognormal(0.0, 0.35, n), 0.7, 10.0)
    index = rng.uniform(0.5, 3.0, n)
    q = rng.uniform(0.25, 1.0, n)
    theta = rng.uniform(0.0, np.pi, n)
    clumpy = r_e >= 2.0
    knot_share = np.where(clumpy, rng.uniform(0.1, 0.4, n), 0.0)
    knots_per = np.where(clumpy, rng.integers(1, 6, n), 0)
    r_max = np.minimum((4.0 + index) * r_e, 48.0)
    params = np.stack(
        [yx[:, 0], yx[:, 1], flux * (1.0 - knot_share), r_e, index, q, theta, r_max], axis=1
    )
    galaxies = _Group(
        _galaxy_stamp, _bboxes(yx[:, 0], yx[:, 1], r_max, cy, cx, _GALAXY_REACH), params
    )
    owner = np.repeat(np.arange(n), knots_per)
    m = owner.size
    offset = rng.normal(0.0, 0.7, (m, 2)) * r_e[owner, None]
    ky, kx = yx[owner, 0] + offset[:, 0], yx[owner, 1] + offset[:, 1]
    weight = rng.uniform(0.2, 1.0, m)
    knot_flux = (flux * knot_share)[owner] * weight / np.bincount(owner, weight, n)[owner]
    fwhm = rng.uniform(1.2, 3.0, m)
    knot_r = np.full(m, 12.0)
    knot_params = np.stack([ky, kx, knot_flux, fwhm, np.full(m, 4.0), knot_r], axis=1)
    knots = _Group(
        _star_stamp, _bboxes(ky, kx, knot_r, cy, cx, _GALAXY_REACH), knot_params.reshape(-1, 6)
    )
    return galaxies, knots, _stars(rng, cy, cx, per_pixel=1.0 / 20000.0)


@functools.lru_cache(maxsize=512)
def _nucleus_candidates(seed: int, cy: int, cx: int) -> np.ndarray:
    """Candidate nuclei of a cell before thinning, one row each; the last column is a mark."""
    rng = _cell_rng(seed, "nuclei", cy, cx)
    n = int(rng.poisson(CATALOGUE_CELL**2 / 900))
    yx = _positions(rng, n, cy, cx)
    a = rng.uniform(8.0, 25.0, n)
    b = np.maximum(a * rng.uniform(0.6, 1.0, n), 8.0)
    theta = rng.uniform(0.0, np.pi, n)
    brightness = rng.lognormal(np.log(150.0), 0.35, n)
    edge = rng.uniform(0.7, 1.8, n)
    # Texture: a few long-wavelength sinusoids, amplitudes summing to at most 0.48.
    wavenumber = 2.0 * np.pi / rng.uniform(10.0, 50.0, (n, _NUCLEUS_WAVES))
    direction = rng.uniform(0.0, 2.0 * np.pi, (n, _NUCLEUS_WAVES))
    phase = rng.uniform(0.0, 2.0 * np.pi, (n, _NUCLEUS_WAVES))
    amplitude = rng.uniform(0.02, 0.08, (n, _NUCLEUS_WAVES))
    waves = np.stack(
        [wavenumber * np.sin(direction), wavenumber * np.cos(direction), phase, amplitude], -1
    )
    mark = rng.uniform(0.0, 1.0, n)
    shape = np.stack([yx[:, 0], yx[:, 1], a, b, theta, brightness, edge], axis=1)
    rows = np.concatenate([shape, waves.reshape(n, 4 * _NUCLEUS_WAVES), mark[:, None]], axis=1)
    rows.flags.writeable = False
    return rows


def _nuclei(seed: int, cy: int, cx: int) -> _Group:
    """Nuclei of a cell: candidates thinned so that nuclei barely touch (Matérn type II).

    A candidate is dropped when a candidate with a smaller mark, in this cell or a
    neighbouring one, lies closer than 0.9 times the sum of their semi-major axes.  The
    rule only needs the neighbours' candidates, never their final catalogues, so each cell
    stays independent of the order in which cells are visited.
    """
    own = _nucleus_candidates(seed, cy, cx)
    near = np.concatenate(
        [_nucleus_candidates(seed, cy + i, cx + j) for i in (-1, 0, 1) for j in (-1, 0, 1)]
    )
    dist = np.hypot(own[:, :1] - near[None, :, 0], own[:, 1:2] - near[None, :, 1])
    clash = (dist < 0.9 * (own[:, 2:3] + near[None, :, 2])) & (near[None, :, -1] < own[:, -1:])
    kept = own[~clash.any(axis=1), :-1]
    radius = kept[:, 2] + 10.0 * kept[:, 6] + 1.0
    bboxes = _bboxes(kept[:, 0], kept[:, 1], radius, cy, cx, _NUCLEUS_REACH)
    return _Group(_nucleus_stamp, bboxes, kept.reshape(-1, 7 + 4 * _NUCLEUS_WAVES))


def _filament_polyline(rng: np.random.Generator, centre: np.ndarray) -> np.ndarray:
    """Vertices ``(m + 1, 2)`` of a smooth random curve whose arc-length midpoint is ``centre``.

    The direction drifts with a constant curvature plus a random walk, in steps of about
    4 px; every vertex lies within half the length (<= 200 px) of ``centre``.
    """
    length = rng.uniform(50.0, 400.0)
    m = 2 * math.ceil(length / 8.0)
    step = length / m
    curvature = rng.uniform(-1.0 / 100.0, 1.0 / 100.0)
    angle = (
        rng.uniform(0.0, 2.0 * np.pi)
        + curvature * step * np.arange(m)
        + np.cumsum(rng.normal(0.0, 0.1, m))
    )
    moves = step * np.stack([np.sin(angle), np.cos(angle)], axis=1)
    vertices = np.concatenate([np.zeros((1, 2)), np.cumsum(moves, axis=0)])
    return vertices - vertices[m // 2] + centre


def _filaments(rng: np.random.Generator, cy: int, cx: int) -> _Group:
    """Curved filaments, each a polyline of segments with a Gaussian cross-section."""
    n = int(rng.poisson(20.0))
    centres = _positions(rng, n, cy, cx)
    rows = []
    for centre in centres:
        vertices = _filament_polyline(rng, centre)
        sigma = rng.uniform(0.7, 1.5)
        line_density = rng.lognormal(np.log(80.0), 0.5) * sigma * math.sqrt(2.0 * math.pi)
        segment = np.empty((len(vertices) - 1, 6))
        segment[:, 0:2], segment[:, 2:4] = vertices[:-1], vertices[1:]
        segment[:, 4], segment[:, 5] = sigma, line_density
        rows.append(segment)
    params = np.concatenate(rows) if rows else np.empty((0, 6))
    lo = np.minimum(params[:, 0:2], params[:, 2:4]) - 4.0 * params[:, 4:5]
    hi = np.maximum(params[:, 0:2], params[:, 2:4]) + 4.0 * params[:, 4:5]
    # Bounding box of each segment, as a disc of radius `half` around the box centre.
    mid, half = (lo + hi) / 2.0, (hi - lo) / 2.0
    ys = _bboxes(mid[:, 0], mid[:, 1], half[:, 0], cy, cx, _FILAMENT_REACH)
    xs = _bboxes(mid[:, 0], mid[:, 1], half[:, 1], cy, cx, _FILAMENT_REACH)
    bboxes = np.concatenate([ys[:, :2], xs[:, 2:]], axis=1)
    return _Group(_segment_stamp, bboxes, params)


@dataclass(frozen=True)
class _SceneModel:
    background: float  # flat sky or background level, flux units per pixel
    reach: int  # no object's bounding box extends further than this beyond its cell


_MODELS = {
    "galaxies": _SceneModel(background=10.0, reach=_GALAXY_REACH),
    "stars": _SceneModel(background=10.0, reach=_STAR_REACH),
    "deep-field": _SceneModel(background=10.0, reach=_GALAXY_REACH),
    "nuclei": _SceneModel(background=2.0, reach=_NUCLEUS_REACH),
    "filaments": _SceneModel(background=2.0, reach=_FILAMENT_REACH),
}


@functools.lru_cache(maxsize=512)
def _cell_catalogue(kind: str, seed: int, cy: int, cx: int) -> tuple[_Group, ...]:
    """Objects anchored in catalogue cell ``(cy, cx)``, in rendering order (cached, read-only)."""
    if kind == "nuclei":
        groups = (_nuclei(seed, cy, cx),)
    else:
        rng = _cell_rng(seed, kind, cy, cx)
        if kind == "stars":
            groups = (_stars(rng, cy, cx, per_pixel=1.0 / 2000.0),)
        elif kind == "galaxies":
            groups = (_galaxies(rng, cy, cx), _stars(rng, cy, cx, per_pixel=1.0 / 8000.0))
        elif kind == "deep-field":
            groups = _deep_field(rng, cy, cx)
        else:
            groups = (_filaments(rng, cy, cx),)
    for group in groups:
        group.bboxes.flags.writeable = False
        group.params.flags.writeable = False
    return groups


def _render_window(kind: str, seed: int, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    """Render pixels ``[y0, y1) x [x0, x1)`` of a scene as float32."""
    model = _MODELS[kind]
    out = np.full((y1 - y0, x1 - x0), model.background, dtype=np.float64)
    cell, reach = CATALOGUE_CELL, model.reach
    for cy in range((y0 - reach) // cell, (y1 - 1 + reach) // cell + 1):
        for cx in range((x0 - reach) // cell, (x1 - 1 + reach) // cell + 1):
            for group in _cell_catalogue(kind, seed, cy, cx):
                b = group.bboxes
                hit = (b[:, 0] < y1) & (b[:, 1] > y0) & (b[:, 2] < x1) & (b[:, 3] > x0)
                for i in np.flatnonzero(hit):
                    by0, by1, bx0, bx1 = b[i].tolist()
                    stamp = group.stamp((by0, by1, bx0, bx1), group.params[i])
                    oy0, oy1, ox0, ox1 = max(by0, y0), min(by1, y1), max(bx0, x0), min(bx1, x1)
                    out[oy0 - y0 : oy1 - y0, ox0 - x0 : ox1 - x0] += stamp[
                        oy0 - by0 : oy1 - by0, ox0 - bx0 : ox1 - bx0
                    ]
    return out.astype(np.float32)


def _render_block(kind: str, seed: int, block_info: dict | None = None) -> np.ndarray:
    """Dask block function: render the block described by ``block_info[None]``."""
    (y0, y1), (x0, x1) = block_info[None]["array-location"]
    return _render_window(kind, seed, y0, y1, x0, x1)


def _check_request(kind: str, shape: tuple[int, int], seed: int) -> tuple[int, int]:
    """Validate the arguments shared by the public functions; return the shape as ints."""
    if kind not in SCENE_KINDS:
        raise SceneError(f"unknown scene kind {kind!r}; choose one of {', '.join(SCENE_KINDS)}")
    try:
        dims = tuple(shape)
    except TypeError:
        dims = ()
    if len(dims) != 2 or not all(isinstance(d, Integral) and not isinstance(d, bool) for d in dims):
        raise SceneError(f"scene shape must be two integers (height, width), got {shape!r}")
    if min(dims) < 1:
        raise SceneError(f"scene shape must be positive, got {shape!r}; use e.g. (512, 512)")
    if not isinstance(seed, Integral) or isinstance(seed, bool) or seed < 0:
        raise SceneError(f"seed must be a non-negative integer, got {seed!r}")
    return int(dims[0]), int(dims[1])


def synthetic_scene(
    kind: str, shape: tuple[int, int], *, seed: int = 0, chunks: int = 1024
) -> da.Array:
    """Lazily generated synthetic high-resolution scene.

    Parameters
    ----------
    kind : {"galaxies", "stars", "deep-field", "nuclei", "filaments"}
        ``"stars"``: Moffat point sources (FWHM 1.5-3 px, beta 2.5-3.5) with power-law
        fluxes (dN/dF ∝ F^-2, 20 to 2e5) on a sky of 10, about one star per 2000 px.
        ``"galaxies"``: elliptical Sérsic profiles (n 0.5-4, r_e 1-12 px, cut at
        ``min((4 + n) r_e, 64)`` px, power-law fluxes 1e2 to 1e6) plus a few stars, sky 10.
        ``"deep-field"``: a crowded deep survey, six times denser than ``"galaxies"``
        with fainter, smaller and often clumpy galaxies (Sérsic plus 1-5 compact knots)
        and a few stars, sky 10.
        ``"nuclei"``: fluorescent nuclei, textured filled ellipses (semi-axes 8-25 px)
        with soft edges that barely overlap, on a background of 2.
        ``"filaments"``: smooth curved filaments 50-400 px long with a Gaussian
        cross-section (sigma 0.7-1.5 px), on a background of 2.
    shape : tuple of int
        ``(height, width)`` in pixels; any size, far larger than memory if needed.
    seed : int
        Non-negative seed; the same seed gives the same scene.
    chunks : int
        Side of the square dask chunks.  The values do not depend on it, bit for bit.

    Returns
    -------
    dask.array.Array
        float32 array of ``shape``, non-negative, in arbitrary linear flux units per pixel.
        A scene is the top-left crop of any larger scene of the same kind and seed.

    Raises
    ------
    SceneError
        If ``kind`` is unknown, ``shape`` is not two positive integers or ``seed`` or
        ``chunks`` is not a valid integer.

    Examples
    --------
    >>> scene = synthetic_scene("stars", (50_000, 50_000), seed=1)
    >>> tile = scene[20_000:20_256, 20_000:20_256].compute()
    >>> tile.shape, tile.dtype
    ((256, 256), dtype('float32'))
    """
    height, width = _check_request(kind, shape, seed)
    if not isinstance(chunks, Integral) or isinstance(chunks, bool) or chunks < 1:
        raise SceneError(f"chunks must be a positive integer, got {chunks!r}")
    return da.map_blocks(
        _render_block,
        kind=kind,
        seed=int(seed),
        chunks=da.core.normalize_chunks((int(chunks), int(chunks)), (height, width)),
        dtype=np.float32,
        meta=np.empty((0, 0), dtype=np.float32),
        token=f"synthetic-{kind}",
    )


def render_scene(kind: str, shape: tuple[int, int], *, seed: int = 0) -> np.ndarray:
    """Render a synthetic scene in memory.

    Equivalent to ``synthetic_scene(kind, shape, seed=seed).compute()``.

    Parameters
    ----------
    kind : {"galaxies", "stars", "deep-field", "nuclei", "filaments"}
        Scene kind, see :func:`synthetic_scene`.
    shape : tuple of int
        ``(height, width)`` in pixels.
    seed : int
        Non-negative seed.

    Returns
    -------
    numpy.ndarray
        float32 array of ``shape`` in arbitrary linear flux units per pixel.

    Raises
    ------
    SceneError
        If ``kind``, ``shape`` or ``seed`` is invalid.

    Examples
    --------
    >>> image = render_scene("nuclei", (256, 256), seed=3)
    >>> bool(image.min() >= 0)
    True
    """
    return np.asarray(synthetic_scene(kind, shape, seed=seed).compute())
