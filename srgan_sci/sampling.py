"""Deterministic sampling of values from arrays that may be larger than memory."""

from __future__ import annotations

import itertools

import dask
import dask.array as da
import numpy as np

DEFAULT_MAX_VALUES = 4_000_000


def sample_values(
    data: np.ndarray | da.Array, max_values: int = DEFAULT_MAX_VALUES, seed: int = 0
) -> tuple[np.ndarray, bool]:
    """Draw a deterministic sample of the values of ``data``, NaNs included.

    Arrays with at most ``max_values`` elements are returned whole.  Larger dask arrays are
    sampled by whole chunks chosen with a seeded :class:`numpy.random.Generator`, so only
    those chunks are read; within the chosen chunks, values are subsampled if needed.

    Parameters
    ----------
    data : numpy.ndarray or dask.array.Array
        Array to sample.
    max_values : int
        Upper bound on the number of values returned.
    seed : int
        Seed of the generator; the same seed and array give the same sample.

    Returns
    -------
    values : numpy.ndarray
        1-D float64 array of sampled values (may contain NaN and inf).
    exact : bool
        True when every value of ``data`` is in the sample.
    """
    if max_values < 1:
        raise ValueError(f"max_values must be >= 1, got {max_values}")
    rng = np.random.default_rng(seed)
    if data.size <= max_values:
        return np.asarray(data, dtype=np.float64).ravel(), True
    if not isinstance(data, da.Array):
        picked = rng.choice(data.size, size=max_values, replace=False)
        picked.sort()
        return np.asarray(data, dtype=np.float64).ravel()[picked], False
    block_indices = list(itertools.product(*(range(n) for n in data.numblocks)))
    order = rng.permutation(len(block_indices))
    values_per_block = max(1, int(np.prod([max(c) for c in data.chunks])))
    n_blocks = min(len(block_indices), max(1, int(np.ceil(max_values / values_per_block))))
    chosen = [data.blocks[block_indices[i]] for i in sorted(order[:n_blocks])]
    blocks = dask.compute(*chosen)
    values = np.concatenate([np.asarray(b, dtype=np.float64).ravel() for b in blocks])
    if values.size > max_values:
        keep = np.sort(rng.choice(values.size, size=max_values, replace=False))
        values = values[keep]
    return values, False
