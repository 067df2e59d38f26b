"""``srsci evaluate``: compare a super-resolved image with the truth and with classical baselines.

Two entry points:

* :func:`evaluate_arrays` — in-memory arrays, for notebooks; returns a :class:`Report`
  whose table displays in Jupyter.
* :func:`evaluate_files` — files of any size: PSNR, SSIM, NRMSE and MAE are accumulated
  chunk by chunk over the whole image; the metrics that need a whole image (CARE
  normalisation, FRC, data consistency, photometry) and the figures use a central
  analysis region of at most ``region`` x ``region`` HR pixels, recorded in the report.

Units: the prediction, the baselines (interpolated from the LR input) and the truth must
be in the same units.  Models output values in LR units per HR pixel position; a truth
made by ``srsci simulate`` with sum binning is in LR units per HR *pixel area*, so it is
multiplied by ``scale**2`` (``truth_factor``, detected automatically for ``pairs.zarr``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dask
import dask.array as da
import numpy as np
import zarr

from srgan_sci.baselines import BASELINES, upscale_baseline_lazy
from srgan_sci.compare import (
    EvaluateError,
    calibrated_lr,
    evaluate_arrays,
    pedestal_note,
    scale_of,
)
from srgan_sci.degrade.spec import DegradationSpec, preset
from srgan_sci.errors import InvalidImageError, OutputExistsError
from srgan_sci.io import open_array
from srgan_sci.io.api import replace_atomically
from srgan_sci.io.fits_output import applied_value_factor
from srgan_sci.metrics.consistency import lr_pedestal
from srgan_sci.metrics.image import default_data_range
from srgan_sci.metrics.streaming import lazy_image_metrics
from srgan_sci.report import Report
from srgan_sci.sampling import sample_finite_values

__all__ = ["EvaluateConfig", "EvaluateError", "evaluate_arrays", "evaluate_files", "resolve_spec"]

DEFAULT_REGION = 1024
"""Side (HR pixels) of the central region used for whole-image metrics and figures."""


@dataclass(frozen=True)
class EvaluateConfig:
    """Options of ``srsci evaluate``.

    Parameters
    ----------
    pred : str
        The super-resolved image (FITS, TIFF or Zarr).
    truth : str or None
        The ground truth, same shape.  None (a real observation) needs ``astro`` and
        ``lr``: the truth-free checks of :mod:`srgan_sci.evaluate_lr` run instead.
    out : str
        Report folder (``report.json``, ``report.md``, ``report.html``, PNG figures).
    lr : str, optional
        The low-resolution input; needed for baselines, data consistency and LR panels.
    baselines : tuple of str
        Baselines computed from ``lr`` (``bicubic``, ``lanczos``, ``richardson-lucy``).
    model : str, optional
        Model bundle whose recorded degradation gives the PSF and noise model.
    preset : str, optional
        Degradation preset to use instead (or when the bundle records none).
    data_range : float, optional
        Data range of PSNR/SSIM; default: 0.1–99.9 percentile range of the truth.
    crop : int
        HR pixels removed at every border before the metrics.
    truth_factor : float, optional
        Multiplies the truth into the prediction's units (default: automatic).
    label : str
        Name of the prediction in tables and figures.
    region : int
        Side of the central analysis region, HR pixels.
    astro : bool
        Add source photometry and astrometry (photutils) to the report, and with ``lr``
        the seven checks of :mod:`srgan_sci.astro_validation`; with ``model`` too, the
        model is run for the hallucination and seam checks.
    pred_zero_point : {"lr", "truth"}
        Whether the prediction keeps the raw LR's zero point (made from it by
        ``srsci upscale``; the degradation's pedestal is removed before comparing) or is
        already calibrated.
    overwrite : bool
        Replace an existing report folder.
    progress : bool
        Show progress bars.
    """

    pred: str
    truth: str | None
    out: str
    lr: str | None = None
    baselines: tuple[str, ...] = BASELINES
    model: str | None = None
    preset: str | None = None
    data_range: float | None = None
    crop: int = 0
    truth_factor: float | None = None
    label: str = "SR"
    region: int = DEFAULT_REGION
    astro: bool = False
    pred_zero_point: str = "lr"
    overwrite: bool = False
    progress: bool = True

    def __post_init__(self) -> None:
        unknown = sorted(set(self.baselines) - set(BASELINES))
        if unknown:
            raise EvaluateError(f"unknown baselines {unknown}; choose from {', '.join(BASELINES)}")
        if self.crop < 0 or self.region < 16:
            raise EvaluateError("--crop must be >= 0 and --region >= 16")
        if self.data_range is not None and not self.data_range > 0:
            raise EvaluateError(f"--data-range must be > 0, got {self.data_range}")
        if self.truth is None and not (self.astro and self.lr):
            raise EvaluateError(
                "--truth is required, except with --astro and --lr (the truth-free checks: "
                "consistency, stars, sky noise, hallucination, seams)"
            )


def evaluate_files(config: EvaluateConfig) -> Report:
    """Evaluate files of any size and write the report folder ``config.out``.

    Returns
    -------
    Report
        The report that was written (figures are paths inside ``config.out``).
    """
    if config.truth is None:
        from srgan_sci.evaluate_lr import evaluate_without_truth

        return evaluate_without_truth(config)
    out = Path(config.out)
    if out.exists() and not config.overwrite:
        raise OutputExistsError(f"{out} exists; pass --overwrite to replace it")
    truth_image, pred_image = open_array(config.truth), open_array(config.pred)
    truth, pred = _plane(truth_image.data, "truth"), _plane(pred_image.data, "prediction")
    # `srsci upscale` divides per-pixel FITS values by s² (flux conserved); compare in the
    # LR's units per HR pixel position, like the baselines and the models' raw output
    flux_factor = applied_value_factor(pred_image.meta.fits_header)
    if flux_factor != 1.0:
        pred = pred / np.float32(flux_factor)
    lr = _plane(open_array(config.lr).data, "LR") if config.lr else None
    spec, spec_source = resolve_spec(config)
    factor = config.truth_factor or auto_truth_factor(config.truth)
    if factor != 1.0:
        truth = truth * np.float32(factor)
    if pred.shape != truth.shape:
        raise EvaluateError(
            f"prediction shape {pred.shape} differs from truth shape {truth.shape}; "
            "evaluate needs images on the same pixel grid"
        )
    scale = scale_of(truth.shape, lr.shape) if lr is not None else None
    if spec is not None and scale is not None and config.preset and not config.model:
        spec = spec.with_overrides(scale=scale)  # a preset describes an instrument, any scale
    if spec is not None and scale is not None and spec.scale != scale:
        raise EvaluateError(
            f"the degradation ({spec_source}) is x{spec.scale} but the images are x{scale}"
        )
    baselines = config.baselines if lr is not None else ()
    skipped = []
    if "richardson-lucy" in baselines and spec is None:
        baselines = tuple(b for b in baselines if b != "richardson-lucy")
        skipped.append(
            "Richardson–Lucy baseline skipped: no degradation known (pass --model or --preset)."
        )
    calibrated = calibrated_lr(lr, spec) if lr is not None else None
    full = {name: upscale_baseline_lazy(name, calibrated, scale, spec) for name in baselines}
    pedestal = lr_pedestal(spec) if spec is not None and config.pred_zero_point == "lr" else 0.0
    full[config.label] = pred - np.float32(pedestal) if pedestal else pred
    data_range = config.data_range or default_data_range(sample_finite_values(truth))
    core = _core_metrics(truth, full, data_range, config)
    window = _region(truth.shape, scale or 1, config.region)
    region = {label: image[window] for label, image in full.items()}
    truth_region = truth[window]
    lr_region = lr[_lr_window(window, scale)] if lr is not None else None
    (truth_region, lr_region, region) = dask.compute(
        truth_region, lr_region, region, scheduler="threads"
    )
    inputs = {"truth": config.truth, "pred": config.pred, "lr": config.lr, "model": config.model}
    runner = None
    if config.astro and config.model and lr is not None:
        from srgan_sci.validation_runs import model_runner

        runner = model_runner(config.model)

    def write(folder: Path) -> Report:
        folder.mkdir(parents=True)
        predictions = {label: region[label] for label in (*baselines, config.label)}
        report = evaluate_arrays(
            truth_region,
            predictions,
            lr=lr_region,
            spec=spec,
            data_range=data_range,
            crop=min(config.crop, min(truth_region.shape) // 4),
            astro=config.astro,
            figures_dir=folder,
            core_metrics=core,
            title=Path(config.pred).name,
            inputs=inputs,
            pred_zero_point="truth",  # the pedestal was removed above
            model_runner=runner,
            data_range_source="given"
            if config.data_range
            else "0.1–99.9 percentile range of the truth, from a sample of its pixels",
        )
        report.details |= {
            "truth_factor": factor,
            "degradation_source": spec_source,
            "full_shape": list(truth.shape),
            "region": {
                "y": [window[0].start, window[0].stop],
                "x": [window[1].start, window[1].stop],
            },
        }
        report.notes.insert(
            0,
            f"PSNR, SSIM, NRMSE, MAE over the whole {truth.shape[0]}x{truth.shape[1]} image; "
            f"other metrics and figures over rows {window[0].start}:{window[0].stop}, "
            f"columns {window[1].start}:{window[1].stop}.",
        )
        if factor != 1.0:
            report.notes.append(f"Truth multiplied by {factor:g} into the prediction's units.")
        report.notes += skipped
        if flux_factor != 1.0:
            report.notes.append(
                f"Prediction multiplied by {1 / flux_factor:g}: its header says srsci upscale "
                "divided per-pixel values by the scale squared (SRFLUXC)."
            )
        if spec is not None and lr_pedestal(spec) and (baselines or pedestal):
            report.notes.append(pedestal_note(spec, config.pred_zero_point))
        if spec is None and lr is not None:
            report.notes.append(
                "Data consistency not computed: no degradation known (pass --model or --preset)."
            )
        report.write(folder)
        report.figures = {name: out / path.name for name, path in report.figures.items()}
        return report

    return replace_atomically(out, write)


def _core_metrics(
    truth: da.Array, images: dict[str, da.Array], data_range: float, config: EvaluateConfig
) -> dict[str, dict[str, float]]:
    """Whole-image PSNR/SSIM/NRMSE/MAE of every image, accumulated chunk by chunk."""
    from tqdm.auto import tqdm

    result = {}
    for label, image in tqdm(images.items(), desc="metrics", disable=not config.progress):
        result[label] = lazy_image_metrics(truth, image, data_range=data_range, crop=config.crop)
    return result


def resolve_spec(config: EvaluateConfig) -> tuple[DegradationSpec | None, str]:
    """The degradation to assume: bundle > preset > the truth's pairs dataset > none."""
    if config.model:
        from srgan_sci.models.bundle import read_bundle_metadata
        from srgan_sci.zoo import resolve_model

        degradation = read_bundle_metadata(resolve_model(config.model)).degradation
        if degradation:
            return DegradationSpec.from_dict(degradation), f"model {config.model}"
    if config.preset:
        return preset(config.preset), f"preset {config.preset}"
    attrs = pairs_attrs(config.truth or config.lr or "")
    if attrs is not None:
        return DegradationSpec.from_dict(attrs["spec"]), "the truth's pairs dataset"
    return None, "none"


def pairs_attrs(path: str) -> dict[str, Any] | None:
    """``attrs["srgan_sci"]`` of the ``srsci simulate`` dataset holding ``path``, if any."""
    candidate = Path(path)
    for parent in (candidate.parent.parent, candidate.parent):
        if parent.suffix != ".zarr" or not parent.is_dir():
            continue
        try:
            attrs = dict(zarr.open_group(parent, mode="r").attrs).get("srgan_sci")
        except (ValueError, OSError, KeyError):
            continue
        if isinstance(attrs, dict) and attrs.get("kind") == "sr-pairs":
            return attrs
    return None


def auto_truth_factor(truth_path: str) -> float:
    """``scale**2`` for the HR array of a sum-binned ``srsci simulate`` dataset, else 1."""
    attrs = pairs_attrs(truth_path)
    if attrs is None or Path(truth_path).parent.name != "hr":
        return 1.0
    spec = attrs["spec"]
    return float(spec["scale"]) ** 2 if spec["binning"] == "sum" else 1.0


def _plane(data: da.Array, what: str) -> da.Array:
    """Drop leading length-1 axes; evaluation works on 2-D images."""
    while data.ndim > 2 and data.shape[0] == 1:
        data = data[0]
    if data.ndim != 2:
        raise InvalidImageError(
            f"the {what} has shape {data.shape}; evaluate works on 2-D images "
            "(select one plane, e.g. FILE.fits[SCI] or one channel of a Zarr array)"
        )
    return data


def _region(shape: tuple[int, ...], scale: int, side: int) -> tuple[slice, slice]:
    """Central window of at most ``side`` HR pixels, aligned to the LR grid."""
    window = []
    for size in shape:
        length = min(size, side) // scale * scale
        start = (size - length) // 2 // scale * scale
        window.append(slice(start, start + length))
    return tuple(window)


def _lr_window(window: tuple[slice, slice], scale: int) -> tuple[slice, slice]:
    return tuple(slice(w.start // scale, w.stop // scale) for w in window)
