"""In-memory comparison of predictions with a truth: metrics, baselines, figures.

:func:`evaluate_arrays` is the notebook entry point and the core of ``srsci evaluate``
(which calls it on a central region after accumulating whole-image metrics).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from srgan_sci.baselines import upscale_baseline
from srgan_sci.degrade.chain import blur_kernel
from srgan_sci.degrade.spec import DegradationSpec
from srgan_sci.errors import SrsciError
from srgan_sci.metrics.care import care_metrics
from srgan_sci.metrics.consistency import data_consistency, lr_pedestal, noise_sigma_lr
from srgan_sci.metrics.frc import fourier_ring_correlation
from srgan_sci.metrics.image import default_data_range, metrics_table
from srgan_sci.report import MetricsTable, Report, Section
from srgan_sci.report import figures as plots


class EvaluateError(SrsciError, ValueError):
    """The inputs of an evaluation do not fit together."""


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
    pred_zero_point: str = "lr",
    model_runner: Any = None,
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
        Add aperture photometry and centroid offsets of sources found in the truth, and,
        with ``lr``, the seven checks of :func:`srgan_sci.astro_validation.astro_protocol`.
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
    pred_zero_point : {"lr", "truth"}
        ``"lr"``: the predictions were made from the raw LR and keep its zero point (as
        ``srsci upscale`` output does), so the spec's pedestal is removed from them
        before comparing; ``"truth"``: they are already calibrated.
    model_runner : srgan_sci.validation_runs.ModelRunner, optional
        The model behind the last prediction, for the hallucination and seam checks of
        ``astro`` (skipped without it).

    Returns
    -------
    Report
    """
    truth = np.asarray(truth, dtype=np.float32)
    scale = scale_of(truth.shape, lr.shape) if lr is not None else None
    images: dict[str, np.ndarray] = {}
    for name in baselines:
        if lr is None:
            raise EvaluateError("baselines need the LR input (--lr)")
        images[name] = upscale_baseline(name, calibrated_lr(lr, spec), scale, spec)
    if pred_zero_point not in ("lr", "truth"):
        raise EvaluateError(f"pred_zero_point must be 'lr' or 'truth', got {pred_zero_point!r}")
    pedestal = lr_pedestal(spec) if spec is not None and pred_zero_point == "lr" else 0.0
    images |= {
        label: np.asarray(image, dtype=np.float32) - np.float32(pedestal)
        for label, image in predictions.items()
    }
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
    if spec is not None and lr_pedestal(spec) and (baselines or pedestal):
        notes.append(pedestal_note(spec, pred_zero_point))
    if lr is not None and spec is not None:
        residuals = _consistency(rows, images, lr, spec, details)
        notes.append(
            "Data consistency: SR blurred by the PSF and block-averaged to the LR grid, "
            "residual LR − degrade(SR) in units of the modelled noise σ (χ²/pixel ≈ 1 "
            "for a prediction consistent with the data)."
        )
    protocol = None
    if astro:
        sections.append(_photometry(truth, images, scale or 1, spec, details))
        if lr is not None:
            from srgan_sci.astro_validation import astro_protocol

            protocol = astro_protocol(
                truth,
                images,
                lr=lr,
                scale=scale,
                spec=spec,
                model_runner=model_runner,
                figures_dir=figures_dir,
            )
            details["astro_validation"] = protocol.details
            sections += protocol.sections
    table = MetricsTable(rows)
    report = Report(title, table, inputs or {}, details, notes, sections)
    if protocol is not None:
        report.figures |= protocol.figures
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
    border = int(np.ceil(blur_kernel(spec).shape[0] / 2 / spec.scale)) + 1
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


def calibrated_lr(lr: Any, spec: DegradationSpec | None) -> Any:
    """``lr`` minus the calibration pedestal (bias, unsubtracted sky) the spec leaves in it.

    Baselines interpolate this, so they share the truth's zero point, as the models do
    (they learnt to map the LR readout to the pedestal-free truth).
    """
    pedestal = lr_pedestal(spec) if spec is not None else 0.0
    return lr - np.float32(pedestal) if pedestal else lr


def pedestal_note(spec: DegradationSpec, pred_zero_point: str = "lr") -> str:
    """The report note saying which pedestal was removed from what."""
    what = "every method" if pred_zero_point == "lr" else "the baselines"
    return (
        f"The {lr_pedestal(spec):g} ADU pedestal (bias and sky) the degradation leaves in the "
        f"LR was removed from {what} before comparing with the truth."
    )


def scale_of(hr_shape: tuple[int, ...], lr_shape: tuple[int, ...]) -> int:
    """The integer factor between an HR and an LR shape; :class:`EvaluateError` otherwise."""
    ratios = {hr / lr for hr, lr in zip(hr_shape, lr_shape, strict=True)}
    if len(ratios) != 1 or not float(next(iter(ratios))).is_integer():
        raise EvaluateError(
            f"truth shape {hr_shape} is not an integer multiple of the LR shape {lr_shape}"
        )
    return int(next(iter(ratios)))


def _crop(image: np.ndarray, crop: int) -> np.ndarray:
    return image[crop : image.shape[0] - crop, crop : image.shape[1] - crop] if crop else image
