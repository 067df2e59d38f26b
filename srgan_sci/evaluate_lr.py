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
from srgan_sci.compare import pedestal_note
from srgan_sci.errors import OutputExistsError
from srgan_sci.evaluate_inputs import central_region, evaluation_images, lr_window
from srgan_sci.io.api import replace_atomically
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
    out = Path(config.out)
    if out.exists() and not config.overwrite:
        raise OutputExistsError(f"{out} exists; pass --overwrite to replace it")
    opened = evaluation_images(config)
    lr, spec, scale = opened.lr, opened.spec, opened.scale
    window = central_region(opened.images[config.label].shape, scale, config.region)
    region, lr_region = dask.compute(
        {label: image[window] for label, image in opened.images.items()},
        lr[lr_window(window, scale)],
        scheduler="threads",
    )
    runner = None
    if config.model:
        from srgan_sci.validation_runs import model_runner

        runner = model_runner(config.model)

    def write(folder: Path) -> Report:
        folder.mkdir(parents=True)
        labels = (*opened.baselines, config.label)
        images = {label: np.asarray(region[label], np.float32) for label in labels}
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
            "degradation_source": opened.spec_source,
            "full_shape": list(opened.images[config.label].shape),
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
        notes += opened.notes
        if spec is not None and lr_pedestal(spec):
            notes.append(pedestal_note(spec, config.pred_zero_point))
        if spec is None:
            notes.append("No degradation known (pass --model or --preset): no PSF in check 1.")
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
