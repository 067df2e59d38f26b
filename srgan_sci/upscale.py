"""``upscale_file``: super-resolve an image file into a new file, out of core.

Input FITS/TIFF/Zarr is read lazily; normalisation statistics are fitted once on the
whole array (never per tile); tiles are upscaled with a halo from the model's receptive
field and cropped exactly (:mod:`srgan_sci.infer.tiling`); the result is inverse-normalised
to the input's units, NaN regions stay NaN, and metadata (WCS, pixel sizes) is updated
for the scale factor.  The output appears under its final name only once complete.
FITS semantics (units rule, lookup-table distortions, provenance, multi-extension
files) are in :mod:`srgan_sci.upscale_fits`.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from srgan_sci.errors import OutputExistsError, SrsciError
from srgan_sci.infer.schedulers import dask_scheduler, parse_scheduler
from srgan_sci.io import detect_format, open_array, upscaled_metadata, write_array
from srgan_sci.io.api import partial_path
from srgan_sci.io.fits_output import Provenance, finish_science_header
from srgan_sci.io.units import UNIT_CHOICES
from srgan_sci.normalize import fit_asinh, fit_percentile, normalizer_from_dict
from srgan_sci.upscale_fits import (
    decide_fits_units,
    fits_bunit,
    prepare_input,
    scale_values,
    upscale_mef,
)
from srgan_sci.upscale_psf import record_output_psf
from srgan_sci.zoo import default_model, space_telescope

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
    model : str, optional
        ``bicubic``, ``lanczos``, a bundled or user model name (``srsci models``) or the
        path of a model bundle from ``srsci train``; ``None`` picks the bundled default
        for the input (FITS: ``astro-x4``; TIFF/Zarr: ``fluo-x4``, or ``fluo-x2`` at
        ``--scale 2``).
    scale : int or None
        Upscale factor; required for baselines, checked against a bundle's.
    chunk : int
        Input chunk side (y, x) of the tiled computation.
    normalizer : {"auto", "percentile", "asinh"}
        ``auto``: the kind the model was trained with (from its bundle); for the
        bicubic/Lanczos baselines asinh for FITS (astronomy), percentile otherwise.
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
    resume : bool
        Continue a killed run: bands of output chunk rows already written are kept
        (Zarr output only); the statistics of the first run are reused, so the result is
        bit-identical to an uninterrupted run.
    tta : bool
        Test-time augmentation: average the 8 flips/rotations and add their per-pixel
        standard deviation as an uncertainty layer (output channel 1; channel 0 is the
        mean).
    precision : {"float32", "bf16", "fp16"}
        Inference precision (bf16 on CPU or CUDA, fp16 on CUDA; channels-last on CUDA).
    band_bytes : int
        Output bytes computed per band of chunk rows (at least one chunk row).  Larger
        bands keep more workers busy; smaller bands make ``--resume`` lose less work.
    progress : bool
        Show a progress bar.
    units : {"auto", "per-pixel", "surface-brightness"}
        FITS inputs: ``per-pixel`` divides values by ``scale**2`` (flux conserved),
        ``surface-brightness`` keeps them; ``auto`` decides from ``BUNIT`` and keeps values,
        with a warning, when it is unknown.  TIFF/Zarr values are always kept.
    drop_lookup_distortion : bool
        Remove FITS lookup-table distortions (``CPDISn``, ``D2IMDISn``...) instead of
        refusing the input.
    """

    input: str
    output: str
    model: str | None = None
    scale: int | None = None
    chunk: int = 512
    normalizer: str = "auto"
    scheduler: str = "threads"
    slurm_config: str | None = None
    device: str = "auto"
    overwrite: bool = False
    resume: bool = False
    tta: bool = False
    precision: str = "float32"
    band_bytes: int = 32 * 2**20
    progress: bool = True
    units: str = "auto"
    drop_lookup_distortion: bool = False

    def __post_init__(self) -> None:
        if self.units not in UNIT_CHOICES:
            raise UpscaleError(
                f"--units must be one of {', '.join(UNIT_CHOICES)}, got {self.units!r}"
            )


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
    from srgan_sci.zoo import resolve_model

    generator, metadata = load_bundle(resolve_model(name), device=torch.device(device))
    if scale is not None and scale != metadata.scale:
        raise UpscaleError(
            f"--scale {scale} does not match the model's scale {metadata.scale}; "
            "omit --scale or pick a model trained for this factor"
        )
    trained_kind = (metadata.normalizer or {}).get("kind")
    return generator, {
        "model": str(name),
        "scale": metadata.scale,
        "name": metadata.name,
        "normalizer_kind": trained_kind,
    }


def _fit(kind: str, image: Any, trained_kind: str | None = None) -> Any:
    """Normaliser fitted once on the whole input.

    ``auto`` uses the kind the model was trained with (recorded in its bundle); for the
    interpolation baselines, which have none, asinh for FITS and percentile otherwise.
    """
    if kind == "auto":
        kind = trained_kind or ("asinh" if image.meta.format == "fits" else "percentile")
    return fit_asinh(image.data) if kind == "asinh" else fit_percentile(image.data)


def _model_identity(name: str) -> str:
    """Baseline name, or the sha256 of a bundle's weights as recorded in its model.json."""
    if name in BASELINES:
        return name
    from srgan_sci.zoo import resolve_model

    record = resolve_model(name) / "model.json"
    try:
        return json.loads(record.read_text())["weights"]["sha256"]
    except (OSError, ValueError, KeyError):
        return str(name)


def _resumed_normalizer(journal: Path, job: dict[str, Any]) -> Any:
    """The first run's normaliser if ``journal`` describes the same job, else None."""
    if not journal.exists():
        return None
    saved = json.loads(journal.read_text())
    if saved["job"] != job:
        raise UpscaleError(
            f"{journal} records a different run (input, model, scale or chunk changed); "
            "run without --resume to start again"
        )
    return normalizer_from_dict(saved["normalizer"])


def _with_uncertainty(model: Any, image: Any, normalizer: Any, device: Any, meta: Any) -> Any:
    """TTA mean and spread stacked on a new leading ``c`` axis (0: mean, 1: spread)."""
    import dask.array as da

    from srgan_sci.infer.tta import upscale_lazy_tta

    if "c" in image.meta.axes:
        raise UpscaleError("--tta needs an input without a channel axis (c); split channels first")
    mean, spread = upscale_lazy_tta(model, image.data, normalizer, device=device)
    stacked = da.stack([mean, spread], axis=0)
    extra = meta.extra | {"channels": ["super-resolved (TTA mean)", "uncertainty (TTA std)"]}
    return stacked, meta.with_updates(axes="c" + meta.axes, extra=extra)


def _science_runner(config: UpscaleConfig, model: Any, trained_kind: Any, device: Any) -> Any:
    """Model run on one science image of a multi-extension file: (data, spread, normaliser)."""
    from srgan_sci.infer.tiling import upscale_lazy
    from srgan_sci.infer.tta import upscale_lazy_tta

    def run(image: Any) -> tuple[Any, Any, dict[str, Any]]:
        normalizer = _fit(config.normalizer, image, trained_kind)
        if config.tta:
            mean, spread = upscale_lazy_tta(model, image.data, normalizer, device=device)
            return mean, spread, normalizer.to_dict()
        return (
            upscale_lazy(model, image.data, normalizer, device=device),
            None,
            normalizer.to_dict(),
        )

    return run


def upscale_file(config: UpscaleConfig) -> dict[str, Any]:
    """Upscale ``config.input`` into ``config.output`` and return a summary.

    The summary's ``warnings`` lists the :class:`~srgan_sci.io.fits_output.FitsOutputWarning`
    messages also raised as Python warnings (unknown units, extensions left out).
    """
    import torch

    from srgan_sci.devices import resolve_device
    from srgan_sci.infer.precision import ReducedPrecision
    from srgan_sci.infer.tiling import upscale_lazy

    output = Path(config.output)
    kind = detect_format(output)
    if config.resume and kind != "zarr":
        raise UpscaleError(f"{output}: --resume needs a Zarr/OME-Zarr output")
    if output.exists() and not config.overwrite:
        hint = " (it is complete: nothing to resume)" if config.resume else ""
        raise OutputExistsError(f"{output} exists{hint}; pass --overwrite to replace it")
    parse_scheduler(config.scheduler)
    image = open_array(config.input, chunks=config.chunk)
    fits_input = image.meta.format == "fits"
    lookup = "drop" if config.drop_lookup_distortion else "refuse"
    notes: list[str] = []
    layout = prepare_input(image, config.input, output, config.units, lookup, notes)
    device = resolve_device(config.device)
    input_header = image.meta.fits_header
    model_name = config.model or default_model(image.meta.format, config.scale, input_header)
    model, description = load_model(model_name, config.scale, device)
    if config.model is None:
        telescope = space_telescope(input_header)
        source = f" from a space telescope (TELESCOP {telescope})" if telescope else ""
        description["model_choice"] = (
            f"no --model given: {model_name}, the bundled default for "
            f"{image.meta.format.upper()} input{source}"
        )
    if config.precision != "float32":
        try:
            model = ReducedPrecision(model, config.precision, torch.device(device))
        except ValueError as error:
            raise UpscaleError(str(error)) from error
    scale = int(model.scale)
    provenance = Provenance(
        model=description.get("name") or Path(model_name).name,
        model_hash=_model_identity(model_name),
        scale=scale,
    )
    summary = {"input": image.meta.source, "output": str(output), "warnings": notes}
    if layout and kind == "fits":
        runner = _science_runner(config, model, description.get("normalizer_kind"), device)
        with dask_scheduler(config.scheduler, slurm_config=config.slurm_config) as where:
            result = upscale_mef(
                Path(config.input), layout, output, run=runner, scale=scale,
                units=config.units, lookup=lookup, provenance=provenance,
                chunk=config.chunk, notes=notes,
            )  # fmt: skip
        return {**summary, **result, "scheduler": where, **description}
    decision = None
    if fits_input:
        bunit = fits_bunit(image)
        decision = decide_fits_units(bunit, config.units, image.meta.source, notes)
    journal = output.with_name(f".{output.name}.resume.json")
    job = {
        "input": image.meta.source,
        "shape": list(image.data.shape),
        "chunk": config.chunk,
        "model": provenance.model_hash,
        "scale": scale,
        "normalizer": config.normalizer,
        "tta": config.tta,
        "precision": config.precision,
        "units": decision.rule if decision else None,
    }
    normalizer = _resumed_normalizer(journal, job) if config.resume else None
    if normalizer is None:
        journal.unlink(missing_ok=True)
        shutil.rmtree(partial_path(output), ignore_errors=True)  # a stale unfinished run
        normalizer = _fit(config.normalizer, image, description.get("normalizer_kind"))
        journal.write_text(json.dumps({"job": job, "normalizer": normalizer.to_dict()}))
    flux = bool(decision and decision.conserves_flux)
    meta = upscaled_metadata(image.meta, scale, flux_conserving=flux, lookup=lookup)
    if decision is not None and meta.fits_header is not None:
        header = finish_science_header(meta.fits_header, scale, decision, provenance)
        meta = meta.with_updates(fits_header=header)
    if config.tta:
        upscaled, meta = _with_uncertainty(model, image, normalizer, device, meta)
    else:
        upscaled = upscale_lazy(model, image.data, normalizer, device=device)
    if decision is not None:
        upscaled = scale_values(upscaled, decision, scale)  # lazy: a multiply per chunk
    options: dict[str, Any] = {}
    if kind == "zarr":
        options = {"progress": config.progress, "resume": True, "band_bytes": config.band_bytes}
    with dask_scheduler(config.scheduler, slurm_config=config.slurm_config) as where:
        write_array(output, upscaled, meta, overwrite=config.overwrite, **options)
    journal.unlink(missing_ok=True)
    if meta.fits_header is not None and kind in ("fits", "zarr"):
        summary["effective_psf"] = record_output_psf(output, kind)
    return {
        **summary,
        "input_shape": list(image.data.shape),
        "output_shape": list(upscaled.shape),
        "normalizer": normalizer.to_dict(),
        "units": decision.rule if decision else None,
        "scheduler": where,
        **description,
    }
