"""``upscale_file``: super-resolve an image file into a new file, out of core.

Input FITS/TIFF/Zarr is read lazily; normalisation statistics are fitted once on the
whole array (never per tile); tiles are upscaled with a halo from the model's receptive
field and cropped exactly (:mod:`srgan_sci.infer.tiling`); the result is inverse-normalised
to the input's units, NaN regions stay NaN, and metadata (WCS, pixel sizes) is updated
for the scale factor.  The output appears under its final name only once complete.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from srgan_sci.errors import OutputExistsError, SrsciError
from srgan_sci.infer.schedulers import dask_scheduler, parse_scheduler
from srgan_sci.io import detect_format, open_array, upscaled_metadata, write_array
from srgan_sci.normalize import fit_asinh, fit_percentile

BASELINES = ("bicubic", "lanczos")


class UpscaleError(SrsciError, ValueError):
    """An upscale request cannot be carried out as given."""


@dataclass(frozen=True)
class UpscaleConfig:
    """Options of ``srsci upscale``.

    Parameters
    ----------
    input : str
        Image to upscale (FITS may carry an ``[HDU]`` selector).
    output : str
        Output path; ``.zarr``/``.ome.zarr`` (default choice, out of core), ``.fits`` or
        ``.tif`` (results that fit in memory).
    model : str
        ``bicubic``, ``lanczos`` or the path of a model bundle from ``srsci train``.
    scale : int or None
        Upscale factor; required for baselines, checked against a bundle's.
    chunk : int
        Input chunk side (y, x) of the tiled computation.
    normalizer : {"auto", "percentile", "asinh"}
        ``auto``: asinh for FITS (astronomy), percentile otherwise.
    scheduler : str
        ``threads`` (default), ``synchronous``, ``processes``, ``local:N`` (a
        ``distributed.LocalCluster`` of N workers on 127.0.0.1), ``tcp://host:port`` (an
        existing cluster) or ``slurm`` (dask-jobqueue, options from ``slurm_config``).
    slurm_config : str or None
        TOML file with a ``[slurm]`` table: queue, cores, processes, memory, walltime,
        jobs, gpus, job_extra_directives.
    device : str
        ``auto``, ``cpu`` or ``cuda``.
    overwrite : bool
        Replace an existing output.
    progress : bool
        Show a progress bar.
    """

    input: str
    output: str
    model: str = "bicubic"
    scale: int | None = None
    chunk: int = 512
    normalizer: str = "auto"
    scheduler: str = "threads"
    slurm_config: str | None = None
    device: str = "auto"
    overwrite: bool = False
    progress: bool = True


def load_model(name: str, scale: int | None, device: Any) -> tuple[Any, dict[str, Any]]:
    """The torch module for ``name`` (baseline or bundle path) and a description of it."""
    import torch

    from srgan_sci.infer.tiling import BicubicModel, LanczosModel

    if name in BASELINES:
        if scale is None:
            raise UpscaleError(f"--scale is required with the {name} model")
        module = BicubicModel(scale) if name == "bicubic" else LanczosModel(scale)
        return module.to(device).eval(), {"model": name, "scale": scale}
    from srgan_sci.models.bundle import load_bundle

    generator, metadata = load_bundle(name, device=torch.device(device))
    if scale is not None and scale != metadata.scale:
        raise UpscaleError(
            f"--scale {scale} does not match the model's scale {metadata.scale}; "
            "omit --scale or pick a model trained for this factor"
        )
    return generator, {"model": str(name), "scale": metadata.scale, "name": metadata.name}


def upscale_file(config: UpscaleConfig) -> dict[str, Any]:
    """Upscale ``config.input`` into ``config.output`` and return a summary."""
    from srgan_sci.infer.tiling import upscale_lazy
    from srgan_sci.training.distributed import resolve_device

    output = Path(config.output)
    detect_format(output)
    if output.exists() and not config.overwrite:
        raise OutputExistsError(f"{output} exists; pass --overwrite to replace it")
    parse_scheduler(config.scheduler)
    image = open_array(config.input, chunks=config.chunk)
    device = resolve_device(config.device)
    model, description = load_model(config.model, config.scale, device)
    scale = int(model.scale)
    kind = config.normalizer
    if kind == "auto":
        kind = "asinh" if image.meta.format == "fits" else "percentile"
    normalizer = fit_asinh(image.data) if kind == "asinh" else fit_percentile(image.data)
    upscaled = upscale_lazy(model, image.data, normalizer, device=device)
    meta = upscaled_metadata(image.meta, scale)
    options: dict[str, Any] = {}
    if detect_format(output) == "zarr":
        options["progress"] = config.progress
    with dask_scheduler(config.scheduler, slurm_config=config.slurm_config) as where:
        write_array(output, upscaled, meta, overwrite=config.overwrite, **options)
    return {
        "input": image.meta.source,
        "output": str(output),
        "input_shape": list(image.data.shape),
        "output_shape": list(upscaled.shape),
        "normalizer": normalizer.to_dict(),
        "scheduler": where,
        **description,
    }
