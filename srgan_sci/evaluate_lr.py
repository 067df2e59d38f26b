"""``srsci evaluate --astro`` without a truth: what a real observation can tell.

A real image has no high-resolution truth, yet five of the seven checks of
:mod:`srgan_sci.astro_validation` still apply: downsample consistency with the LR (1),
the effective PSF of the stars the prediction shows (4), sky noise (5) and, with a
model, pure-noise hallucination and seams (6, 7).  :func:`evaluate_without_truth` runs
them on a central region of the prediction, next to baselines made from the same LR,
and writes the same report files as :func:`srgan_sci.evaluate.evaluate_files`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import dask
import numpy as np

from srgan_sci.astro_validation import astro_protocol
from srgan_sci.baselines import upscale_baseline_lazy
from srgan_sci.compare import EvaluateError, calibrated_lr, pedestal_note, scale_of
from srgan_sci.errors import OutputExistsError
from srgan_sci.io import open_array
from srgan_sci.io.api import replace_atomically
from srgan_sci.io.fits_output import applied_value_factor
from srgan_sci.metrics.consistency import lr_pedestal
from srgan_sci.report import MetricsTable, Report, Section
from srgan_sci.report import figures as plots

__all__ = ["TRUTH_FREE_CHECKS", "evaluate_without_truth", "summary_rows"]

TRUTH_FREE_CHECKS = ("consistency", "effective_psf", "noise", "hallucination", "seams")
"""Checks of the protocol that run without a truth (``details["astro_validation"]``)."""


def evaluate_without_truth(config: Any) -> Report:
    """Truth-free astronomy validation of files; writes the report folder ``config.out``.

    Parameters
    ----------
    config : srgan_sci.evaluate.EvaluateConfig
        With ``truth`` None, ``astro`` set and ``lr`` given.

    Returns
    -------
    Report
        The report that was written.
    """
    from srgan_sci.evaluate import _lr_window, _plane, _region, resolve_spec

    out = Path(config.out)
    if out.exists() and not config.overwrite:
        raise OutputExistsError(f"{out} exists; pass --overwrite to replace it")
    pred_image = open_array(config.pred)
    pred = _plane(pred_image.data, "prediction")
    flux_factor = applied_value_factor(pred_image.meta.fits_header)
    if flux_factor != 1.0:
        pred = pred / np.float32(flux_factor)
    lr = _plane(open_array(config.lr).data, "LR")
    scale = scale_of(pred.shape, lr.shape)
    spec, spec_source = resolve_spec(config)
    if spec is not None and config.preset and not config.model:
        spec = spec.with_overrides(scale=scale)
    if spec is not None and spec.scale != scale:
        raise EvaluateError(
            f"the degradation ({spec_source}) is x{spec.scale}, the images x{scale}"
        )
    baselines = tuple(b for b in config.baselines if spec is not None or b != "richardson-lucy")
    calibrated = calibrated_lr(lr, spec)
    full = {name: upscale_baseline_lazy(name, calibrated, scale, spec) for name in baselines}
    pedestal = lr_pedestal(spec) if spec is not None and config.pred_zero_point == "lr" else 0.0
    full[config.label] = pred - np.float32(pedestal) if pedestal else pred
    window = _region(pred.shape, scale, config.region)
    region, lr_region = dask.compute(
        {label: image[window] for label, image in full.items()},
        lr[_lr_window(window, scale)],
        scheduler="threads",
    )
    runner = None
    if config.model:
        from srgan_sci.validation_runs import model_runner

        runner = model_runner(config.model)

    def write(folder: Path) -> Report:
        folder.mkdir(parents=True)
        images = {
            label: np.asarray(region[label], np.float32) for label in (*baselines, config.label)
        }
        protocol = astro_protocol(
            None,
            images,
            lr=lr_region,
            scale=scale,
            spec=spec,
            prediction=config.label,
            model_runner=runner,
            figures_dir=folder,
        )
        details = {
            "astro_validation": protocol.details,
            "scale": scale,
            "degradation": spec.to_dict() if spec else None,
            "degradation_source": spec_source,
            "full_shape": list(pred.shape),
            "region": {
                "y": [window[0].start, window[0].stop],
                "x": [window[1].start, window[1].stop],
            },
            "truth": None,
        }
        inputs = {"truth": None, "pred": config.pred, "lr": config.lr, "model": config.model}
        notes = [
            "No truth: PSNR, SSIM, photometry and astrometry against a truth are not defined. "
            "Checks 1 and 4–7 of the astronomy protocol, on rows "
            f"{window[0].start}:{window[0].stop}, columns {window[1].start}:{window[1].stop}.",
        ]
        if spec is not None and lr_pedestal(spec):
            notes.append(pedestal_note(spec, config.pred_zero_point))
        if spec is None:
            notes.append("No degradation known (pass --model or --preset): no PSF in check 1.")
        if flux_factor != 1.0:
            notes.append(
                f"Prediction multiplied by {1 / flux_factor:g}: its header says srsci upscale "
                "divided per-pixel values by the scale squared (SRFLUXC)."
            )
        table = MetricsTable(summary_rows(protocol.details, list(images)))
        report = Report(Path(config.pred).name, table, inputs, details, notes, protocol.sections)
        report.figures |= protocol.figures
        panels = plots.panel_figure(folder / "panels.png", None, images, lr=lr_region, scale=scale)
        report.figures["panels"] = panels
        report.sections.insert(
            0,
            Section(
                "Images", "One display stretch for every panel (no truth).", figure=panels.name
            ),
        )
        report.write(folder)
        report.figures = {name: out / path.name for name, path in report.figures.items()}
        return report

    return replace_atomically(out, write)


def summary_rows(details: dict[str, Any], labels: list[str]) -> dict[str, dict[str, float]]:
    """One row per image: consistency (σ), flux ratio, star FWHM, sky RMS over LR σ."""
    rows: dict[str, dict[str, float]] = {}
    for label in labels:
        consistency = details["consistency"][label]
        psf = details["effective_psf"]["methods"][label]
        noise = details["noise"]["methods"][label]
        rows[label] = {
            "residual_mean_sigma": consistency.get("residual_mean_sigma", math.nan),
            "residual_rms_sigma": consistency.get("residual_rms_sigma", math.nan),
            "tile_flux_ratio": consistency.get("tile_flux_ratio_median", math.nan),
            "star_fwhm_hr_px": psf["fwhm"],
            "star_ellipticity": psf["ellipticity"],
            "n_stars": psf["n_stars"],
            "sky_rms_over_lr_sigma": noise.get("rms_over_lr_sigma", math.nan),
        }
    return rows
