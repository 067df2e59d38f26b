"""Deterministic sampling of values from arrays that may be larger than memory.

Statistics that must be computed once per array (normalisation, NaN fraction, photon
budgets) read either the whole array, when it is small, or a seeded sample of whole
chunks, so that only those chunks are ever computed.
"""

from __future__ import annotations

import functools
from typing import Any

import dask
import dask.array as da
import numpy as np

from srgan_sci.errors import NormalizationError

DEFAULT_MAX_SAMPLES = 4_000_000
"""Number of values above which statistics are estimated from a deterministic sample."""


def sample_values(
    data: Any, max_samples: int = DEFAULT_MAX_SAMPLES, seed: int = 0, *, finite_only: bool = False
) -> np.ndarray:
    """Return the values of ``data``, or a deterministic sample of them.

    Parameters
    ----------
    data : numpy.ndarray or dask.array.Array
        Image of any shape.  Anything else is converted with :func:`numpy.asarray`.
    max_samples : int, optional
        Arrays with at most this many elements are used whole.  Larger numpy arrays are
        subsampled pixel-wise; larger dask arrays are sampled by whole chunks, drawn in a
        random order, and pixel-wise within those chunks, so that only the chosen chunks
        are computed.
    seed : int, optional
        Seed of the :class:`numpy.random.Generator` that draws the sample.  The same seed
        and the same array (values and chunking) give the same sample.
    finite_only : bool, optional
        Drop NaN and inf.  Dask arrays whose sampled chunks are mostly NaN are then sampled
        further, until half of ``max_samples`` finite values are found or chunks run out.

    Returns
    -------
    numpy.ndarray
        1-D float64 array; the sample is exact (every value) when
        ``data.size <= max_samples``.

    Raises
    ------
    NormalizationError
        If ``max_samples`` is not positive or the dask array has unknown chunk sizes.

    Examples
    --------
    >>> import numpy as np
    >>> sample_values(np.array([[1.0, np.nan], [np.inf, 4.0]]), finite_only=True)
    array([1., 4.])
    """
    if max_samples < 1:
        raise NormalizationError(f"max_samples must be a positive integer, got {max_samples}")
    keep = functools.partial(_flat_float64, finite_only=finite_only)
    if isinstance(data, da.Array):
        if any(np.isnan(n) for axis in data.chunks for n in axis):
            raise NormalizationError(
                "dask array has unknown chunk sizes; call data.compute_chunk_sizes() first"
            )
        if data.size <= max_samples:
            return keep(data.compute())
        return _sample_dask_chunks(data, max_samples, seed, finite_only)
    array = np.asarray(data)
    if array.size <= max_samples:
        return keep(array)
    rng = np.random.default_rng(seed)
    flat_index = np.sort(rng.choice(array.size, size=max_samples, replace=False))
    return keep(array[np.unravel_index(flat_index, array.shape)])


def sample_finite_values(
    data: Any, max_samples: int = DEFAULT_MAX_SAMPLES, seed: int = 0
) -> np.ndarray:
    """Finite values of ``data`` or a deterministic sample of them (see :func:`sample_values`)."""
    return sample_values(data, max_samples, seed, finite_only=True)


def _flat_float64(values: Any, *, finite_only: bool) -> np.ndarray:
    """Flatten ``values`` to float64, dropping NaN and inf if ``finite_only``."""
    flat = np.asarray(values, dtype=np.float64).reshape(-1)
    return flat[np.isfinite(flat)] if finite_only else flat


def _subsample(block: np.ndarray, n: int, seed: int, finite_only: bool) -> np.ndarray:
    """Return at most ``n`` values of ``block``, drawn without replacement."""
    values = _flat_float64(block, finite_only=finite_only)
    if n >= values.size:
        return values
    index = np.random.default_rng(seed).choice(values.size, size=n, replace=False)
    return values[np.sort(index)]


def _sample_dask_chunks(
    data: da.Array, max_samples: int, seed: int, finite_only: bool
) -> np.ndarray:
    """Sample about ``max_samples`` values from whole chunks of ``data``.

    Chunks are visited in an order drawn from ``seed``.  Each round computes just enough
    chunks to cover the values still missing, subsampled pixel-wise to that count; with
    ``finite_only`` rounds repeat (for NaN-heavy chunks) until half of ``max_samples``
    finite values are found or the chunks run out.
    """
    rng = np.random.default_rng(seed)
    block_sizes = functools.reduce(np.multiply.outer, data.chunks, np.array(1)).reshape(-1)
    order = rng.permutation(block_sizes.size)
    samples: list[np.ndarray] = []
    n_found = 0
    start = 0
    while n_found < max_samples // 2 and start < order.size:
        missing = max_samples - n_found
        sizes = block_sizes[order[start:]]
        stop = start + min(int(np.searchsorted(np.cumsum(sizes), missing)) + 1, sizes.size)
        batch = order[start:stop]
        fraction = min(1.0, missing / block_sizes[batch].sum())
        seeds = rng.integers(0, 2**63, size=batch.size)
        tasks = [
            dask.delayed(_subsample)(
                data.blocks[tuple(int(i) for i in np.unravel_index(flat, data.numblocks))],
                int(np.ceil(block_sizes[flat] * fraction)),
                int(block_seed),
                finite_only,
            )
            for flat, block_seed in zip(batch, seeds, strict=True)
        ]
        for values in dask.compute(*tasks):
            samples.append(values)
            n_found += values.size
        start = stop
    return np.concatenate(samples)
