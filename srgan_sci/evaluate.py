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

import dask
import dask.array as da
import numpy as np

from srgan_sci.baselines import BASELINES
from srgan_sci.compare import (
    EvaluateError,
    evaluate_arrays,
    pedestal_note,
)
from srgan_sci.errors import OutputExistsError
from srgan_sci.evaluate_inputs import (
    central_region,
    evaluation_images,
    lr_window,
    pairs_attrs,
    plane_2d,
    resolve_spec,
)
from srgan_sci.io import open_array
from srgan_sci.io.api import replace_atomically
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
    truth = plane_2d(open_array(config.truth).data, "truth")
    factor = config.truth_factor or auto_truth_factor(config.truth)
    if factor != 1.0:
        truth = truth * np.float32(factor)
    opened = evaluation_images(config, hr_shape=truth.shape)
    full, lr, spec, scale = opened.images, opened.lr, opened.spec, opened.scale
    data_range = config.data_range or default_data_range(sample_finite_values(truth))
    core = _core_metrics(truth, full, data_range, config)
    window = central_region(truth.shape, scale or 1, config.region)
    region = {label: image[window] for label, image in full.items()}
    truth_region = truth[window]
    lr_region = lr[lr_window(window, scale)] if lr is not None else None
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
        predictions = {label: region[label] for label in (*opened.baselines, config.label)}
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
            "degradation_source": opened.spec_source,
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
        report.notes += opened.notes
        if spec is not None and lr_pedestal(spec) and (opened.baselines or opened.pedestal):
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


def auto_truth_factor(truth_path: str) -> float:
    """``scale**2`` for the HR array of a sum-binned ``srsci simulate`` dataset, else 1."""
    attrs = pairs_attrs(truth_path)
    if attrs is None or Path(truth_path).parent.name != "hr":
        return 1.0
    spec = attrs["spec"]
    return float(spec["scale"]) ** 2 if spec["binning"] == "sum" else 1.0
