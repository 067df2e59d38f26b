"""``simulate_pairs``: degrade high-resolution images into a paired Zarr dataset.

Layout of the dataset (a Zarr v3 group)::

    pairs.zarr/
      hr/0, hr/1, ...   noise-free truth, ADU per HR pixel, float32
      lr/0, lr/1, ...   simulated readout, ADU per LR pixel, float32
      attrs["srgan_sci"] = {"kind": "sr-pairs", "spec": DegradationSpec, "seed": ...,
                            "images": [{"name", "source", "val_y_start_lr", ...}], ...}

Real HR observations (``hr_psf``, ``hr_noise``): the attributes add ``psf_matching``
(``hr_psf``, ``kernel_fwhm``) and, per image, ``noise`` (the HR sigma and how it was found,
the inherited and the added read-noise variances in ADU² per LR pixel).

Validation split: for each image the bottom ``val_fraction`` of its LR rows (and the HR rows
above them) are held out, so training and validation patches never overlap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
import zarr

from srgan_sci import __version__
from srgan_sci.degrade.chain import TILE_LR, degrade_lazy
from srgan_sci.degrade.matching import estimate_noise_sigma
from srgan_sci.degrade.psf import format_psf, parse_psf
from srgan_sci.degrade.scenes import synthetic_scene
from srgan_sci.degrade.spec import DegradationSpec, SpecError, preset
from srgan_sci.errors import InvalidImageError, OutputExistsError
from srgan_sci.io import open_array
from srgan_sci.io.api import replace_atomically
from srgan_sci.sampling import DEFAULT_MAX_SAMPLES, sample_finite_values
from srgan_sci.streaming import store_in_bands


@dataclass(frozen=True)
class SimulateConfig:
    """Options of ``srsci simulate``.

    Parameters
    ----------
    out : str
        Output Zarr path.
    inputs : list of str
        HR images (FITS/TIFF/Zarr); may be empty when ``scene`` is given.
    scene : str or None
        Synthesise a scene instead (``galaxies``, ``stars``, ``deep-field``, ``nuclei``,
        ``filaments``).
    size : int
        Side of the synthetic scene, HR pixels.
    preset : str
        Name of the degradation preset that the overrides below modify.
    scale, psf, photons, read_noise : optional
        Overrides of the preset (``psf`` as text, e.g. ``"moffat:fwhm=3,beta=3.5"``).
    hr_psf : str or None
        PSF the HR inputs already have (same syntax as ``psf``); the chain blurs by the
        matching kernel to the target PSF instead of the target PSF itself.
    hr_noise : str or None
        White noise the HR inputs already have: a sigma in input units per HR pixel (as
        text), or ``"auto"`` to estimate it per image (:func:`estimate_noise_sigma`).
    seed : int
        Seed of scenes and noise.
    val_fraction : float
        Fraction of LR rows of each image held out for validation.
    crop : bool
        Trim images whose size is not a multiple of the scale instead of failing.
    overwrite : bool
        Replace an existing output.
    progress : bool
        Show a progress bar.
    """

    out: str
    inputs: list[str] = field(default_factory=list)
    scene: str | None = None
    size: int = 1024
    preset: str = "ground-seeing"
    scale: int | None = None
    psf: str | None = None
    photons: float | None = None
    read_noise: float | None = None
    hr_psf: str | None = None
    hr_noise: str | None = None
    seed: int = 0
    val_fraction: float = 0.1
    crop: bool = False
    overwrite: bool = False
    progress: bool = True

    def spec(self) -> DegradationSpec:
        """The preset with this config's overrides applied."""
        return preset(self.preset).with_overrides(
            scale=self.scale,
            psf=parse_psf(self.psf) if self.psf else None,
            photons=self.photons,
            read_noise=self.read_noise,
            hr_psf=parse_psf(self.hr_psf) if self.hr_psf else None,
        )

    def hr_noise_sigma(self) -> float | None:
        """The given HR noise sigma, 0 when none is given, None for ``"auto"``."""
        text = "0" if self.hr_noise is None else str(self.hr_noise).strip().lower()
        if text == "auto":
            return None
        try:
            sigma = float(text)
        except ValueError:
            sigma = -1.0
        if not (np.isfinite(sigma) and sigma >= 0):
            raise SpecError(
                f"--hr-noise must be 'auto' or a non-negative sigma per HR pixel, got {text!r}"
            )
        return sigma


def simulate_pairs(config: SimulateConfig) -> dict[str, Any]:
    """Write the paired dataset described by ``config`` and return its summary attributes."""
    if not 0.0 <= config.val_fraction < 1.0:
        raise SpecError(f"val_fraction must be in [0, 1), got {config.val_fraction}")
    out = Path(config.out)
    if out.exists() and not config.overwrite:
        raise OutputExistsError(f"{out} exists; pass --overwrite to replace it")
    spec = config.spec()
    given_sigma = config.hr_noise_sigma()
    sources = _load_sources(config, spec.scale)

    def write(partial: Path) -> dict[str, Any]:
        group = zarr.open_group(partial, mode="w")
        images = []
        for index, (name, hr) in enumerate(sources):
            sigma = _estimate_hr_noise(hr) if given_sigma is None else given_sigma
            pair = degrade_lazy(hr, spec, seed=config.seed + index, hr_noise=sigma)
            hr_array = _create(group, f"hr/{index}", pair.hr, spec.scale * TILE_LR)
            lr_array = _create(group, f"lr/{index}", pair.lr, TILE_LR)
            store_in_bands(
                [pair.hr, pair.lr],
                [hr_array, lr_array],
                progress=config.progress,
                description=f"simulate {index + 1}/{len(sources)}",
            )
            lr_rows = pair.lr.shape[-2]
            images.append(
                {
                    "name": str(index),
                    "source": name,
                    "hr_shape": list(pair.hr.shape),
                    "lr_shape": list(pair.lr.shape),
                    "val_y_start_lr": lr_rows - round(config.val_fraction * lr_rows),
                    "photon_factor": pair.photon_factor,
                    "noise": {
                        "hr_sigma": sigma,
                        "hr_sigma_from": "auto" if given_sigma is None else "given",
                        "inherited_variance_adu2": pair.inherited_variance,
                        "added_read_variance_adu2": (pair.read_noise / spec.gain) ** 2,
                        "target_read_variance_adu2": (spec.read_noise / spec.gain) ** 2,
                    },
                }
            )
        attrs = {
            "kind": "sr-pairs",
            "version": __version__,
            "spec": spec.to_dict(),
            "seed": config.seed,
            "val_fraction": config.val_fraction,
            "units": {
                "lr": "ADU per LR pixel",
                "hr": f"ADU per HR pixel ({spec.binning} of an s x s block ~ LR)",
            },
            "electrons_per_adu": spec.gain,
            "images": images,
        }
        if spec.hr_psf is not None:
            attrs["psf_matching"] = {
                "hr_psf": format_psf(spec.hr_psf),
                "target_psf": format_psf(spec.psf),
                "kernel_fwhm": pair.kernel_fwhm,
            }
        group.attrs["srgan_sci"] = attrs
        return attrs

    return replace_atomically(out, write)


def _load_sources(config: SimulateConfig, scale: int) -> list[tuple[str, da.Array]]:
    """Open inputs (or synthesise the scene) and check they can be degraded."""
    if not config.inputs and not config.scene:
        raise InvalidImageError("no input images: give HR image paths or --scene KIND")
    sources: list[tuple[str, da.Array]] = []
    if config.scene:
        if config.size < scale:
            raise SpecError(f"--size {config.size} is smaller than the scale {scale}")
        shape = (config.size, config.size)
        sources.append(
            (f"scene:{config.scene}", synthetic_scene(config.scene, shape, seed=config.seed))
        )
    for path in config.inputs:
        sources.append((path, open_array(path).data))
    checked = []
    for name, data in sources:
        data = _crop_to_scale(name, data, scale) if config.crop else data
        _check_not_all_nan(name, data)
        checked.append((name, data))
    return checked


def _estimate_hr_noise(data: da.Array, window: int = 256, per_axis: int = 3) -> float:
    """:func:`estimate_noise_sigma` on a ``per_axis`` x ``per_axis`` grid of windows per plane.

    Windows of ``window`` pixels a side, spread evenly over each of up to 4 planes, so a
    mosaic of any size is read only where the windows are.
    """
    planes = data.reshape(-1, *data.shape[-2:])
    samples = []
    for plane in np.unique(np.linspace(0, planes.shape[0] - 1, 4).round().astype(int)):
        starts = [
            np.unique(np.linspace(0, max(n - window, 0), per_axis).round().astype(int))
            for n in data.shape[-2:]
        ]
        for y in starts[0]:
            for x in starts[1]:
                samples.append(planes[plane, y : y + window, x : x + window])
    return estimate_noise_sigma(np.stack(da.compute(*samples)))


def _crop_to_scale(name: str, data: da.Array, scale: int) -> da.Array:
    """Trim the bottom/right edges so (y, x) are multiples of ``scale``."""
    height, width = data.shape[-2:]
    height, width = height - height % scale, width - width % scale
    if height == 0 or width == 0:
        raise InvalidImageError(f"{name}: image is smaller than the scale {scale}")
    return data[..., :height, :width]


def _check_not_all_nan(name: str, data: da.Array) -> None:
    """Raise if ``data`` has no finite value (sampled first, exact only when needed)."""
    if sample_finite_values(data).size:
        return
    if data.size <= DEFAULT_MAX_SAMPLES or not bool(da.isfinite(data).any().compute()):
        raise InvalidImageError(f"{name}: every pixel is NaN or infinite; nothing to simulate from")


def _create(group: zarr.Group, name: str, data: da.Array, tile: int) -> zarr.Array:
    """Create a float32 array in ``group`` shaped like ``data`` with (1, ..., tile, tile) chunks."""
    chunks = (1,) * (data.ndim - 2) + (min(tile, data.shape[-2]), min(tile, data.shape[-1]))
    # every dask block must start on a store chunk (the degradation merges a short last
    # tile into the one before it, which keeps that true); then no two blocks share a chunk
    for axis_chunks, store in zip(data.chunks, chunks, strict=True):
        starts = np.cumsum((0, *axis_chunks[:-1]))
        if np.any(starts % store):
            raise AssertionError(f"dask chunks {data.chunks} do not align with the store {chunks}")
    return group.create_array(
        name, shape=data.shape, chunks=chunks, dtype="float32", fill_value=np.nan
    )
