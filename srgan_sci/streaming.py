"""Store lazy arrays into on-disk targets band by band, so memory stays bounded.

Graphs with halos (``dask.array.overlap``) are ordered poorly by dask's schedulers when the
whole array is stored at once: memory grows with the image.  Storing one band of chunk
rows at a time keeps the working set to a band plus its halo, whatever the image size.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import dask.array as da
from tqdm.auto import tqdm

DEFAULT_BAND_BYTES = 64 * 2**20


def band_edges(chunks: tuple[int, ...], rows_per_band: int) -> list[tuple[int, int]]:
    """Row ranges covering an axis chunked as ``chunks``, each band whole chunks.

    Parameters
    ----------
    chunks : tuple of int
        Chunk lengths along the row axis.
    rows_per_band : int
        Target band height; a band holds at least one chunk.

    Returns
    -------
    list of (start, stop)
    """
    edges, start, stop = [], 0, 0
    for length in chunks:
        stop += length
        if stop - start >= rows_per_band:
            edges.append((start, stop))
            start = stop
    if stop > start:
        edges.append((start, stop))
    return edges


def store_in_bands(
    sources: Sequence[da.Array],
    targets: Sequence[Any],
    *,
    band_bytes: int = DEFAULT_BAND_BYTES,
    progress: bool = True,
    description: str = "writing",
    journal: Path | None = None,
) -> None:
    """Compute ``sources`` band by band (along y, the second-last axis) into ``targets``.

    All sources must cover the same field of view: their row chunks, scaled by each
    array's height ratio to the first, must align (as HR and LR of a pair do).

    Parameters
    ----------
    sources : sequence of dask.array.Array
        Lazy arrays, last two axes (y, x).
    targets : sequence
        Array-likes supporting slice assignment (zarr arrays), shaped like ``sources``.
    band_bytes : int
        Approximate float32 bytes of the first source computed per band.
    progress : bool
        Show a progress bar over bands.
    description : str
        Label of the progress bar.
    journal : pathlib.Path, optional
        Folder of completion markers, one per band, written after the band is stored.
        Bands with a marker are skipped, so a killed run continues where it stopped; a
        band interrupted mid-write has no marker and is written again whole.
    """
    first = sources[0]
    row_bytes = first.nbytes // max(1, first.shape[-2])
    rows_per_band = max(1, band_bytes // max(1, row_bytes))
    bands = band_edges(first.chunks[-2], rows_per_band)
    ratios = [source.shape[-2] / first.shape[-2] for source in sources]
    if journal is not None:
        journal.mkdir(parents=True, exist_ok=True)
    for start, stop in tqdm(bands, desc=description, disable=not progress, unit="band"):
        marker = None if journal is None else journal / f"{start}-{stop}"
        if marker is not None and marker.exists():
            continue
        pieces, regions = [], []
        for source, ratio in zip(sources, ratios, strict=True):
            rows = slice(round(start * ratio), round(stop * ratio))
            pieces.append(source[..., rows, :])
            regions.append((slice(None),) * (source.ndim - 2) + (rows, slice(None)))
        da.store(pieces, list(targets), regions=regions, lock=False)
        if marker is not None:
            marker.touch()
