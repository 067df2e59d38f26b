"""Training patches: random LR/HR windows read lazily from image pairs.

A :class:`PatchSource` is one image pair (Zarr or numpy, last two axes y, x, leading axes
independent single-channel planes) with the rows its split may use and a normaliser
fitted once on the whole LR image.  The HR image is multiplied by ``hr_to_lr_units``
(``s**2`` for sum binning, where the block sum of HR equals LR; 1 for mean binning) and
then normalised with the *same* normaliser, so LR and HR patches share one intensity scale.

:meth:`PatchSampler.batch` is a pure function of ``(seed, step, rank)``: resuming at step
``k`` reproduces the exact batches, and data-parallel ranks draw different ones.  Only the
windows drawn are read from the Zarr store.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
import torch
import zarr

from srgan_sci.degrade.chain import degrade
from srgan_sci.degrade.spec import DegradationSpec
from srgan_sci.errors import InputNotFoundError, SrsciError
from srgan_sci.metrics.consistency import lr_pedestal
from srgan_sci.normalize import Normalizer, fit_asinh, fit_percentile

MAX_TRIES = 10
"""Draws per patch before the best rejected candidate is kept anyway."""
MAX_NAN_FRACTION = 0.01
"""Training patches with more missing (NaN) pixels than this are redrawn."""


class DatasetError(SrsciError, ValueError):
    """A paired dataset or patch source cannot provide the patches asked for."""


@dataclass(frozen=True, eq=False)
class PatchSource:
    """One LR/HR image pair, read lazily, restricted to the LR rows of one split.

    Parameters
    ----------
    lr : zarr.Array or numpy.ndarray
        LR image ``(..., H, W)``; leading axes are flattened into single-channel planes.
    hr : zarr.Array or numpy.ndarray
        HR image ``(..., scale * H, scale * W)``.
    scale : int
        Resolution factor.
    y_range_lr : tuple of int
        ``[start, stop)`` LR rows this split may use (train: ``[0, val_y_start_lr)``,
        val: ``[val_y_start_lr, H)``); HR rows are ``scale`` times these.
    normalizer : PercentileNormalizer or AsinhNormalizer
        Fitted once on the whole LR image; applied to LR and to HR in LR units.
    hr_to_lr_units : float
        Factor taking HR pixels to LR units: ``scale**2`` for sum binning, 1 for mean.
    name : str, optional
        Label for messages.
    channel_axis : int, optional
        Index of the leading axis holding channels (e.g. 0 for ``(c, y, x)``): patches
        then have that many channels; the other leading axes stay independent planes.
        ``None``: every plane is a single-channel image.
    lr_pedestal : float
        Calibration constant the degradation left in the LR readout (bias, sky that was
        not subtracted; :func:`srgan_sci.metrics.consistency.lr_pedestal`), removed from
        LR patches.  Models then learn resolution only: with an affine normaliser they
        are affine-equivariant, so applied to a raw LR image their output keeps the LR's
        zero point, as bicubic interpolation does.
    """

    lr: zarr.Array | np.ndarray
    hr: zarr.Array | np.ndarray
    scale: int
    y_range_lr: tuple[int, int]
    normalizer: Normalizer
    hr_to_lr_units: float
    name: str = ""
    channel_axis: int | None = None
    lr_pedestal: float = 0.0

    def __post_init__(self) -> None:
        s, lr_shape, hr_shape = self.scale, tuple(self.lr.shape), tuple(self.hr.shape)
        expected = (*lr_shape[:-2], s * lr_shape[-2], s * lr_shape[-1])
        if len(lr_shape) < 2 or hr_shape != expected:
            raise DatasetError(
                f"{self.name or 'source'}: HR shape {hr_shape} is not LR shape {lr_shape} "
                f"times the scale {s}; pair each LR image with its own HR image"
            )
        if self.channel_axis is not None and not 0 <= self.channel_axis < len(lr_shape) - 2:
            raise DatasetError(
                f"{self.name or 'source'}: channel_axis {self.channel_axis} is not a leading "
                f"axis of the LR shape {lr_shape}"
            )
        start, stop = self.y_range_lr
        if not 0 <= start < stop <= lr_shape[-2]:
            raise DatasetError(
                f"{self.name or 'source'}: y_range_lr {self.y_range_lr} is not a non-empty "
                f"range of the {lr_shape[-2]} LR rows"
            )

    @property
    def channels(self) -> int:
        """Channels per patch: the size of ``channel_axis``, or 1."""
        return 1 if self.channel_axis is None else int(self.lr.shape[self.channel_axis])

    @property
    def _plane_shape(self) -> tuple[int, ...]:
        """Leading axes that are independent planes (all but ``channel_axis``)."""
        lead = self.lr.shape[:-2]
        return tuple(n for i, n in enumerate(lead) if i != self.channel_axis)

    @property
    def planes(self) -> int:
        """Number of independent planes (product of the non-channel leading axes)."""
        return int(np.prod(self._plane_shape, dtype=np.int64))

    def corners(self, patch_size: int) -> int:
        """Number of distinct ``patch_size`` LR windows inside this source's rows."""
        rows = self.y_range_lr[1] - self.y_range_lr[0] - patch_size + 1
        cols = self.lr.shape[-1] - patch_size + 1
        return self.planes * max(rows, 0) * max(cols, 0)

    def read(self, plane: int, y: int, x: int, size: int) -> tuple[np.ndarray, np.ndarray]:
        """Normalised ``(C, p, p)`` LR window at corner ``(y, x)`` of ``plane``, and its HR."""
        index = [int(i) for i in np.unravel_index(plane, self._plane_shape)]
        if self.channel_axis is not None:
            index.insert(self.channel_axis, slice(None))
        lead = tuple(index)
        s = self.scale
        lr = np.asarray(self.lr[(*lead, slice(y, y + size), slice(x, x + size))], np.float32)
        if self.lr_pedestal:
            lr = lr - np.float32(self.lr_pedestal)
        hr_window = (*lead, slice(s * y, s * (y + size)), slice(s * x, s * (x + size)))
        hr = np.asarray(self.hr[hr_window], np.float32) * np.float32(self.hr_to_lr_units)
        if self.channel_axis is None:
            lr, hr = lr[None], hr[None]
        return self.normalizer.forward(lr), self.normalizer.forward(hr)


def fit_normalizer(lr: Any, kind: str = "percentile", pedestal: float = 0.0) -> Normalizer:
    """Fit a ``"percentile"`` or ``"asinh"`` normaliser once on a whole LR image.

    ``pedestal`` is subtracted first, as :meth:`PatchSource.read` does.
    """
    data = da.from_zarr(lr) if isinstance(lr, zarr.Array) else np.asarray(lr)
    if pedestal:
        data = data - np.float32(pedestal)
    if kind == "percentile":
        return fit_percentile(data)
    if kind == "asinh":
        return fit_asinh(data)
    raise DatasetError(f"unknown normalizer {kind!r}; choose 'percentile' or 'asinh'")


def _split_sources(
    lr: Any,
    hr: Any,
    scale: int,
    val_y_start: int,
    norm: Normalizer,
    units: float,
    name: str,
    channel_axis: int | None = None,
    pedestal: float = 0.0,
) -> dict[str, PatchSource]:
    """The train (``[0, val_y_start)``) and val (``[val_y_start, H)``) sources of one pair.

    A split without rows is left out.
    """
    ranges = {"train": (0, val_y_start), "val": (val_y_start, lr.shape[-2])}
    return {
        split: PatchSource(
            lr,
            hr,
            scale,
            rows,
            norm,
            units,
            name=f"{name}:{split}",
            channel_axis=channel_axis,
            lr_pedestal=pedestal,
        )
        for split, rows in ranges.items()
        if rows[1] > rows[0]
    }


IN_MEMORY_BYTES = 2 * 2**30
"""Pair datasets up to this size are read into memory once: random patch reads from
compressed chunks would otherwise decompress a whole chunk per patch."""


def open_pair_sources(
    pairs_path: str | Path,
    split: str = "train",
    normalizer: str = "percentile",
    *,
    in_memory_bytes: int = IN_MEMORY_BYTES,
    channel_axis: int | None = None,
) -> tuple[list[PatchSource], dict[str, Any]]:
    """Open the images of one split of a paired dataset written by ``simulate_pairs``.

    Parameters
    ----------
    pairs_path : str or pathlib.Path
        The ``pairs.zarr`` group.
    split : {"train", "val"}
        Rows above (train) or from (val) each image's ``val_y_start_lr``.
    normalizer : {"percentile", "asinh"}
        Normaliser fitted once per image on its whole LR array.
    in_memory_bytes : int
        Datasets up to this many bytes (HR + LR) are loaded into memory; larger ones stay
        lazy Zarr arrays read patch by patch.
    channel_axis : int, optional
        Leading axis of each image that holds channels (see :class:`PatchSource`).

    Returns
    -------
    sources : list of PatchSource
        One per image with rows in the split.
    attrs : dict
        The dataset's ``attrs["srgan_sci"]`` (``spec``, ``images``, ``seed``...).

    Raises
    ------
    InputNotFoundError
        If ``pairs_path`` does not exist.
    DatasetError
        If it is not a paired dataset, ``split`` is unknown or the split has no rows.
    """
    path = Path(pairs_path)
    if not path.exists():
        raise InputNotFoundError(f"{path} does not exist; create it with `srsci simulate`")
    if split not in ("train", "val"):
        raise DatasetError(f"unknown split {split!r}; choose 'train' or 'val'")
    try:
        group = zarr.open_group(path, mode="r")
    except (ValueError, OSError) as error:
        raise DatasetError(f"{path} is not a Zarr group ({error}); give a pairs.zarr") from error
    attrs = dict(group.attrs).get("srgan_sci")
    if not isinstance(attrs, dict) or attrs.get("kind") != "sr-pairs":
        raise DatasetError(
            f"{path} is not a paired SR dataset (attrs['srgan_sci']['kind'] != 'sr-pairs'); "
            "create one with `srsci simulate`"
        )
    spec = attrs["spec"]
    scale = int(spec["scale"])
    units = float(scale**2) if spec["binning"] == "sum" else 1.0
    pedestal = lr_pedestal(DegradationSpec.from_dict(spec))
    sources = []
    total_bytes = sum(
        group[f"{kind}/{image['name']}"].nbytes
        for image in attrs["images"]
        for kind in ("lr", "hr")
    )
    for image in attrs["images"]:
        name = image["name"]
        lr, hr = group[f"lr/{name}"], group[f"hr/{name}"]
        if total_bytes <= in_memory_bytes:
            lr, hr = lr[...], hr[...]
        val_y = int(image["val_y_start_lr"])
        norm = fit_normalizer(lr, normalizer, pedestal)
        splits = _split_sources(
            lr, hr, scale, val_y, norm, units, f"{path.name}:{name}", channel_axis, pedestal
        )
        if split in splits:
            sources.append(splits[split])
    if not sources:
        raise DatasetError(
            f"{path} has no LR rows in the {split!r} split (val_fraction="
            f"{attrs.get('val_fraction')}); re-simulate with a val_fraction in (0, 1)"
        )
    return sources, attrs


def sources_from_hr_images(
    images: list[np.ndarray],
    spec: DegradationSpec,
    seed: int,
    val_fraction: float,
    *,
    normalizer: str = "percentile",
    channel_axis: int | None = None,
) -> tuple[list[PatchSource], list[PatchSource]]:
    """Degrade in-memory HR images once and split them into train and val sources.

    Each image (cropped at the bottom/right to a multiple of ``spec.scale``) is degraded
    with :func:`srgan_sci.degrade.chain.degrade` using seed ``seed + index``; the bottom
    ``val_fraction`` of its LR rows is held out for validation.

    Returns
    -------
    train, val : list of PatchSource
        Sources of the two splits; an image contributes to a split only if it has rows there.
    """
    if not 0.0 <= val_fraction < 1.0:
        raise DatasetError(f"val_fraction must be in [0, 1), got {val_fraction}")
    s = spec.scale
    units = float(s**2) if spec.binning == "sum" else 1.0
    train: list[PatchSource] = []
    val: list[PatchSource] = []
    for index, image in enumerate(images):
        image = np.asarray(image, dtype=np.float32)
        height, width = image.shape[-2:]
        hr, lr = degrade(image[..., : height - height % s, : width - width % s], spec, seed + index)
        rows = lr.shape[-2]
        val_y = rows - round(val_fraction * rows)
        pedestal = lr_pedestal(spec)
        norm = fit_normalizer(lr, normalizer, pedestal)
        splits = _split_sources(
            lr, hr, s, val_y, norm, units, f"image {index}", channel_axis, pedestal
        )
        train += [splits["train"]] if "train" in splits else []
        val += [splits["val"]] if "val" in splits else []
    return train, val


class PatchSampler:
    """Deterministic random LR/HR patch batches from a list of sources.

    Each patch picks a source with probability proportional to its number of possible
    windows (its usable area), then a plane and an LR corner inside the source's rows, and
    reads only that window and the matching HR window.  Background filtering: with
    ``min_signal`` set, a patch whose normalised LR standard deviation is below it is
    redrawn; a patch with more than 1% NaN pixels is redrawn too.  After
    :data:`MAX_TRIES` draws the best candidate is kept.  Remaining NaN pixels become 0
    after normalisation.  With ``augment``, the same random flip and rot90 is applied to
    the LR and the HR patch.

    Parameters
    ----------
    sources : list of PatchSource
        Sources sharing one scale.
    patch_size : int
        LR patch side; HR patches are ``scale * patch_size``.
    batch_size : int
        Patches per batch.
    seed : int
        Seed of the whole stream.
    augment : bool
        Random flips and rotations (the 8 symmetries of the square).
    min_signal : float or None
        Minimum normalised LR standard deviation of a patch, or None to keep all.
    rank, world_size : int
        Data-parallel rank and number of ranks; each rank draws its own batches.
    """

    def __init__(
        self,
        sources: list[PatchSource],
        *,
        patch_size: int = 32,
        batch_size: int = 16,
        seed: int = 0,
        augment: bool = True,
        min_signal: float | None = 0.05,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        if not sources:
            raise DatasetError("no patch sources given; open a dataset with open_pair_sources")
        if patch_size < 1 or batch_size < 1:
            raise DatasetError(
                f"patch_size and batch_size must be >= 1, got {patch_size}, {batch_size}"
            )
        if not 0 <= rank < world_size:
            raise DatasetError(f"rank must be in [0, world_size={world_size}), got {rank}")
        scales = {source.scale for source in sources}
        if len(scales) != 1:
            raise DatasetError(f"sources mix scales {sorted(scales)}; train one scale at a time")
        channels = {source.channels for source in sources}
        if len(channels) != 1:
            raise DatasetError(
                f"sources mix channel counts {sorted(channels)}; train images with the same "
                "channels together"
            )
        corners = np.array([source.corners(patch_size) for source in sources], dtype=np.float64)
        if corners.sum() == 0:
            largest = max(s.y_range_lr[1] - s.y_range_lr[0] for s in sources)
            raise DatasetError(
                f"no source has room for a {patch_size}x{patch_size} LR patch (at most "
                f"{largest} usable rows); lower patch_size, or for validation raise val_fraction"
            )
        self.sources = list(sources)
        self.patch_size, self.batch_size, self.seed = patch_size, batch_size, seed
        self.augment, self.min_signal = augment, min_signal
        self.rank, self.world_size = rank, world_size
        self.scale = scales.pop()
        self._weights = corners / corners.sum()

    def batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Batch ``step``: ``(lr (B, C, p, p), hr (B, C, s*p, s*p))``, float32, normalised."""
        rng = np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(step, self.rank)))
        pairs = [self._patch(rng) for _ in range(self.batch_size)]
        lr = np.stack([p[0] for p in pairs])
        hr = np.stack([p[1] for p in pairs])
        return torch.from_numpy(lr), torch.from_numpy(hr)

    def _patch(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Draw one accepted (or the best of ``MAX_TRIES``) patch pair, augmented."""
        best: tuple[tuple[bool, float], np.ndarray, np.ndarray] | None = None
        for _ in range(MAX_TRIES):
            lr, hr = self._draw(rng)
            nan_fraction = max(np.isnan(lr).mean(), np.isnan(hr).mean())
            std = float(np.nanstd(lr)) if nan_fraction < 1 else 0.0
            score = (bool(nan_fraction <= MAX_NAN_FRACTION), std)
            if best is None or score > best[0]:
                best = (score, lr, hr)
            if score[0] and (self.min_signal is None or std >= self.min_signal):
                break
        _, lr, hr = best
        if self.augment:
            k, flip = int(rng.integers(4)), bool(rng.integers(2))
            lr, hr = (np.rot90(a, k, axes=(-2, -1)) for a in (lr, hr))
            lr, hr = (a[..., ::-1] if flip else a for a in (lr, hr))
        return _finite(lr), _finite(hr)

    def _draw(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Read one random window pair (normalised, possibly with NaN)."""
        source = self.sources[int(rng.choice(len(self.sources), p=self._weights))]
        p, (start, stop) = self.patch_size, source.y_range_lr
        plane = int(rng.integers(source.planes))
        y = int(rng.integers(start, stop - p + 1))
        x = int(rng.integers(source.lr.shape[-1] - p + 1))
        return source.read(plane, y, x, p)


def _finite(a: np.ndarray) -> np.ndarray:
    """Contiguous float32 copy with NaN and inf replaced by 0."""
    return np.ascontiguousarray(np.where(np.isfinite(a), a, 0), dtype=np.float32)


def validation_patches(
    sources: list[PatchSource],
    patch_size: int = 64,
    count: int = 16,
    seed: int = 0,
    *,
    min_signal: float | None = 0.05,
) -> tuple[torch.Tensor, torch.Tensor]:
    """A fixed set of ``count`` non-augmented patch pairs from validation sources.

    The same arguments always give the same patches (batch 0 of a non-augmenting
    :class:`PatchSampler`), so validation metrics are comparable across a run.
    """
    options = {"patch_size": patch_size, "batch_size": count, "seed": seed, "augment": False}
    return PatchSampler(sources, min_signal=min_signal, **options).batch(0)
