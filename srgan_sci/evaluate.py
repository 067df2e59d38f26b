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

from srgan_sci.baselines import BASELINES, upscale_baseline, upscale_baseline_lazy
from srgan_sci.degrade.psf import render_psf
from srgan_sci.degrade.spec import DegradationSpec, preset
from srgan_sci.errors import InvalidImageError, OutputExistsError, SrsciError
from srgan_sci.io import open_array
from srgan_sci.io.api import replace_atomically
from srgan_sci.metrics.care import care_metrics
from srgan_sci.metrics.consistency import data_consistency, noise_sigma_lr
from srgan_sci.metrics.frc import fourier_ring_correlation
from srgan_sci.metrics.image import default_data_range, metrics_table
from srgan_sci.metrics.streaming import lazy_image_metrics
from srgan_sci.report import MetricsTable, Report, Section
from srgan_sci.report import figures as plots
from srgan_sci.sampling import sample_finite_values

DEFAULT_REGION = 1024
"""Side (HR pixels) of the central region used for whole-image metrics and figures."""


class EvaluateError(SrsciError, ValueError):
    """The inputs of an evaluation do not fit together."""


@dataclass(frozen=True)
class EvaluateConfig:
    """Options of ``srsci evaluate``.

    Parameters
    ----------
    pred, truth : str
        The super-resolved image and the ground truth (FITS, TIFF or Zarr, same shape).
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
        Add source photometry and astrometry (photutils) to the report.
    overwrite : bool
        Replace an existing report folder.
    progress : bool
        Show progress bars.
    """

    pred: str
    truth: str
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


def evaluate_arrays(
    truth: np.ndarray,
    predictions: dict[str, np.ndarray],
    *,
    lr: np.ndarray | None = None,
    spec: DegradationSpec | None = None,
    baselines: tuple[str, ...] = (),
    data_range: float | None = None,
    crop: int = 0,
    astro: bool = False,
    figures_dir: str | Path | None = None,
    core_metrics: dict[str, dict[str, float]] | None = None,
    title: str = "evaluation",
    inputs: dict[str, Any] | None = None,
    data_range_source: str | None = None,
) -> Report:
    """Evaluate in-memory predictions (and baselines from ``lr``) against ``truth``.

    Parameters
    ----------
    truth : numpy.ndarray
        2-D ground truth, in the predictions' units.
    predictions : dict
        ``{label: image}``, each shaped like ``truth``.
    lr : numpy.ndarray, optional
        Low-resolution input: ``truth.shape`` is an integer multiple of its shape.
    spec : DegradationSpec, optional
        Degradation behind ``lr`` (PSF, binning, noise): enables the data-consistency
        check and the Richardson–Lucy baseline.
    baselines : tuple of str
        Baselines to compute from ``lr``.
    data_range : float, optional
        PSNR/SSIM data range (default :func:`default_data_range` of the truth).
    crop : int
        Border removed before the metrics, HR pixels.
    astro : bool
        Add aperture photometry and centroid offsets of sources found in the truth.
    figures_dir : str or pathlib.Path, optional
        Write PNG figures there and add them to the report.
    core_metrics : dict, optional
        Precomputed whole-image PSNR/SSIM/NRMSE/MAE per label (used by
        :func:`evaluate_files`; computed here otherwise).
    title : str
        Report title.
    inputs : dict, optional
        Where the arrays came from, recorded in the report.
    data_range_source : str, optional
        How ``data_range`` was chosen, for the report's notes.

    Returns
    -------
    Report
    """
    truth = np.asarray(truth, dtype=np.float32)
    scale = _scale_of(truth.shape, lr.shape) if lr is not None else None
    images: dict[str, np.ndarray] = {}
    for name in baselines:
        if lr is None:
            raise EvaluateError("baselines need the LR input (--lr)")
        images[name] = upscale_baseline(name, lr, scale, spec)
    images |= {label: np.asarray(image, dtype=np.float32) for label, image in predictions.items()}
    for label, image in images.items():
        if image.shape != truth.shape:
            raise EvaluateError(f"{label} has shape {image.shape}, the truth {truth.shape}")
    default_source = "0.1–99.9 percentile range of the truth"
    range_source = data_range_source or ("given" if data_range else default_source)
    data_range = float(data_range) if data_range else default_data_range(truth)
    rows: dict[str, dict[str, Any]] = {}
    frc = {}
    for label, image in images.items():
        row = dict(core_metrics[label]) if core_metrics else {}
        if not row:
            row = metrics_table(truth, image, data_range=data_range, crop=crop)
        care = care_metrics(truth, image, crop=crop)
        row |= {k: care[k] for k in ("care_psnr", "care_ssim", "care_nrmse")}
        frc[label] = fourier_ring_correlation(_crop(image, crop), _crop(truth, crop))
        row["frc_resolution"] = frc[label].resolution
        rows[label] = row
    details: dict[str, Any] = {
        "data_range": data_range,
        "crop": crop,
        "scale": scale,
        "shape": list(truth.shape),
        "degradation": spec.to_dict() if spec else None,
        "frc": {
            label: {
                "resolution_px": r.resolution,
                "crossed": r.crossed,
                "frequency": r.frequency,
                "correlation": r.correlation,
            }
            for label, r in frc.items()
        },
    }
    notes = [
        f"PSNR/SSIM data range {data_range:.6g} ({range_source}); SSIM: Gaussian window "
        "σ=1.5, K1=0.01, K2=0.03; NaN pixels excluded.",
        "CARE metrics: truth percentile-normalised (0.1–99.9), prediction affinely fitted.",
        "FRC resolution: period (HR px) where the ring correlation with the truth drops below 1/7.",
    ]
    if crop:
        notes.append(f"{crop} HR pixels cropped at every border.")
    sections: list[Section] = []
    residuals: dict[str, np.ndarray] = {}
    if lr is not None and spec is not None:
        residuals = _consistency(rows, images, lr, spec, details)
        notes.append(
            "Data consistency: SR blurred by the PSF and block-averaged to the LR grid, "
            "residual LR − degrade(SR) in units of the modelled noise σ (χ²/pixel ≈ 1 "
            "for a prediction consistent with the data)."
        )
    if astro:
        sections.append(_photometry(truth, images, scale or 1, spec, details))
    table = MetricsTable(rows)
    report = Report(title, table, inputs or {}, details, notes, sections)
    if figures_dir is not None:
        _figures(report, Path(figures_dir), truth, images, lr, scale, frc, residuals)
    return report


def _consistency(
    rows: dict[str, dict[str, Any]],
    images: dict[str, np.ndarray],
    lr: np.ndarray,
    spec: DegradationSpec,
    details: dict[str, Any],
) -> dict[str, np.ndarray]:
    """Data-consistency metrics of every image; returns the residual maps (in σ)."""
    border = int(np.ceil(render_psf(spec.psf).shape[0] / 2 / spec.scale)) + 1
    residuals, summary = {}, {}
    for label, image in images.items():
        result = data_consistency(image, lr, spec)
        rows[label] |= {
            "consistency_rms_sigma": result.residual_rms_sigma,
            "chi2_per_pixel": result.chi2_per_pixel,
            "flux_ratio": result.flux_ratio,
        }
        summary[label] = {
            "residual_mean_adu": result.residual_mean,
            "residual_rms_adu": result.residual_rms,
            "residual_rms_sigma": result.residual_rms_sigma,
            "chi2_per_pixel": result.chi2_per_pixel,
            "flux_ratio": result.flux_ratio,
        }
        sigma = noise_sigma_lr(lr - result.residual, spec)
        with np.errstate(divide="ignore", invalid="ignore"):
            in_sigma = np.where(sigma > 0, result.residual / sigma, np.nan)
        residuals[label] = in_sigma[border:-border, border:-border]
    details["consistency"] = summary
    return residuals


def _photometry(
    truth: np.ndarray,
    images: dict[str, np.ndarray],
    scale: int,
    spec: DegradationSpec | None,
    details: dict[str, Any],
) -> Section:
    """Aperture photometry and centroids of sources detected in the truth."""
    from srgan_sci.metrics.astro import photometry_comparison

    fwhm = spec.psf.fwhm if spec is not None else 3.0
    result = photometry_comparison(truth, images, scale=scale, fwhm=fwhm)
    details["photometry"] = result
    return Section(
        "Photometry and astrometry",
        f"Sources detected in the truth (FWHM {fwhm:g} HR px); fluxes in circular apertures, "
        "centroid offsets from the truth's centroids in LR pixels.",
        MetricsTable(result),
    )


def _figures(
    report: Report,
    folder: Path,
    truth: np.ndarray,
    images: dict[str, np.ndarray],
    lr: np.ndarray | None,
    scale: int | None,
    frc: dict[str, Any],
    residuals: dict[str, np.ndarray],
) -> None:
    """Draw the panels, FRC and residual figures and add their sections to the report."""
    folder.mkdir(parents=True, exist_ok=True)
    prediction = list(images)[-1]
    panels = plots.panel_figure(
        folder / "panels.png", truth, images, lr=lr, scale=scale or 1, error_of=prediction
    )
    report.figures["panels"] = panels
    report.sections.insert(
        0,
        Section(
            "Images",
            "One display stretch (from the truth) for every panel; the cyan box is the "
            f"zoomed crop; the last panel is |{prediction} − truth|.",
            figure=panels.name,
        ),
    )
    threshold = next(iter(frc.values())).threshold
    report.figures["frc"] = plots.frc_figure(folder / "frc.png", frc, threshold)
    report.sections.insert(1, Section("Fourier ring correlation", figure="frc.png"))
    if residuals:
        path = plots.residual_figure(folder / "consistency.png", residuals, "σ")
        report.figures["consistency"] = path
        report.sections.insert(
            2,
            Section(
                "Data consistency",
                "LR − degrade(prediction) in units of the modelled noise σ: structure "
                "here is signal the prediction invented or lost.",
                figure=path.name,
            ),
        )


def evaluate_files(config: EvaluateConfig) -> Report:
    """Evaluate files of any size and write the report folder ``config.out``.

    Returns
    -------
    Report
        The report that was written (figures are paths inside ``config.out``).
    """
    out = Path(config.out)
    if out.exists() and not config.overwrite:
        raise OutputExistsError(f"{out} exists; pass --overwrite to replace it")
    truth_image, pred_image = open_array(config.truth), open_array(config.pred)
    truth, pred = _plane(truth_image.data, "truth"), _plane(pred_image.data, "prediction")
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
    scale = _scale_of(truth.shape, lr.shape) if lr is not None else None
    if spec is not None and scale is not None and spec.scale != scale:
        raise EvaluateError(
            f"the degradation ({spec_source}) is x{spec.scale} but the images are x{scale}"
        )
    baselines = config.baselines if lr is not None else ()
    if "richardson-lucy" in baselines and spec is None:
        baselines = tuple(b for b in baselines if b != "richardson-lucy")
    full = {name: upscale_baseline_lazy(name, lr, scale, spec) for name in baselines}
    full[config.label] = pred
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

        degradation = read_bundle_metadata(config.model).degradation
        if degradation:
            return DegradationSpec.from_dict(degradation), f"model {config.model}"
    if config.preset:
        return preset(config.preset), f"preset {config.preset}"
    attrs = pairs_attrs(config.truth)
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


def _scale_of(hr_shape: tuple[int, ...], lr_shape: tuple[int, ...]) -> int:
    ratios = {hr / lr for hr, lr in zip(hr_shape, lr_shape, strict=True)}
    if len(ratios) != 1 or not float(next(iter(ratios))).is_integer():
        raise EvaluateError(
            f"truth shape {hr_shape} is not an integer multiple of the LR shape {lr_shape}"
        )
    return int(next(iter(ratios)))


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


def _crop(image: np.ndarray, crop: int) -> np.ndarray:
    return image[crop : image.shape[0] - crop, crop : image.shape[1] - crop] if crop else image
