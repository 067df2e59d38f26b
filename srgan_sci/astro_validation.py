"""The astronomer's validation protocol of ``srsci evaluate --astro``: seven checks.

:func:`astro_protocol` runs them on in-memory arrays and returns, for each check, numbers
(``details["astro_validation"][check]``) and a report :class:`~srgan_sci.report.Section`
with a table and a figure:

1. ``consistency`` — the SR degraded back to the LR grid against the LR (σ, tile flux);
2. ``photometry`` — Δmag against the truth, by LR S/N;
3. ``astrometry`` — centroid offsets and the half-pixel-convention flag;
4. ``effective_psf`` — FWHM and ellipticity of isolated stars (FITS cards included);
5. ``noise`` — blank-sky RMS and autocorrelation;
6. ``hallucination`` — sources in upscaled pure noise, injection–recovery (needs a model);
7. ``seams`` — two shifted chunk grids and the grid's Fourier signature (needs a model).

Checks 1, 5, 6 and 7 need no truth; without one, check 4 measures the stars each image
shows itself (:func:`~srgan_sci.metrics.validation_psf.star_psf`).  Images are
pedestal-free, in LR units per HR pixel position; ``lr`` is the raw readout.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from srgan_sci.degrade.chain import blur_kernel
from srgan_sci.degrade.psf import measure_fwhm
from srgan_sci.degrade.spec import DegradationSpec
from srgan_sci.metrics.consistency import lr_pedestal, noise_sigma_lr
from srgan_sci.metrics.validation import (
    SNR_BINS,
    astrometry,
    downsample_consistency,
    photometry_vs_snr,
    sky_sigma,
    source_table,
)
from srgan_sci.metrics.validation_noise import sky_mask, sky_noise
from srgan_sci.metrics.validation_psf import effective_psf, psf_header_cards, star_psf
from srgan_sci.report import MetricsTable, Section
from srgan_sci.report import validation_figures as plots

__all__ = ["ProtocolResult", "astro_protocol"]

ASTROMETRY_MIN_SNR = 5.0
PSF_MIN_SNR = 10.0


@dataclass
class ProtocolResult:
    """``details`` (JSON-ready numbers per check), report ``sections`` and ``figures``."""

    details: dict[str, Any]
    sections: list[Section] = field(default_factory=list)
    figures: dict[str, Path] = field(default_factory=dict)


def astro_protocol(
    truth: np.ndarray | None,
    images: dict[str, np.ndarray],
    *,
    lr: np.ndarray,
    scale: int,
    spec: DegradationSpec | None = None,
    prediction: str | None = None,
    model_runner: Any = None,
    figures_dir: str | Path | None = None,
    seed: int = 0,
) -> ProtocolResult:
    """Run the seven checks on ``images`` (the prediction and the baselines).

    Parameters
    ----------
    truth : numpy.ndarray or None
        Ground truth in the images' units; None runs checks 1, 4 (on the stars each image
        shows), 5, 6 and 7 only.
    images : dict
        ``{label: image}``, pedestal-free, LR units per HR pixel position.
    lr : numpy.ndarray
        The LR readout (pedestal included), ``truth.shape / scale``.
    scale : int
        Upscale factor.
    spec : DegradationSpec, optional
        The degradation behind ``lr``: PSF, detector noise, pedestal.  Check 6 needs it.
    prediction : str, optional
        Label of the image under test (default: the last); its PSF gives the FITS cards.
    model_runner : srgan_sci.validation_runs.ModelRunner, optional
        The model, for checks 6 and 7; skipped without it.
    figures_dir : str or pathlib.Path, optional
        Write the PNG figures there (created if missing).
    seed : int
        Seed of the simulated noise of check 6.

    Returns
    -------
    ProtocolResult
    """
    prediction = prediction or list(images)[-1]
    run = _Protocol(np.asarray(lr, dtype=np.float64), scale, spec, figures_dir)
    run.consistency(images)
    if truth is not None:
        run.sources(truth, images, prediction)
    else:
        run.stars(images, prediction)
    run.noise(truth, images, prediction)
    if model_runner is None:
        for key, title in (("hallucination", "6. Hallucination"), ("seams", "7. Seams")):
            run.skip(key, title, "pass --model", " (a bundle name or path) to run the model")
    else:
        run.model_checks(model_runner, seed)
    return run.result


class _Protocol:
    """What the checks share (LR, noise, PSF, figure folder) and the result they fill."""

    def __init__(
        self, lr: np.ndarray, scale: int, spec: DegradationSpec | None, folder: Any
    ) -> None:
        self.lr, self.scale, self.spec = lr, scale, spec
        self.folder = Path(folder) if folder is not None else None
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
        self.lr_sigma = sky_sigma(lr)
        self.psf = blur_kernel(spec) if spec is not None else None
        self.fwhm = measure_fwhm(self.psf) if self.psf is not None else 3.0
        self.result = ProtocolResult({})

    def add(self, key: str, title: str, text: str, numbers: Any, rows: Any, draw: Any) -> None:
        """Record a check's numbers and its section (table, and figure if drawing)."""
        self.result.details[key] = numbers
        figure = None
        if self.folder is not None:
            figure = f"astro_{key}.png"
            self.result.figures[f"astro_{key}"] = draw(self.folder / figure)
        self.result.sections.append(Section(title, text, MetricsTable(rows), figure))

    def skip(self, key: str, title: str, why: str, more: str = "") -> None:
        """Record a check that could not run."""
        self.result.details[key] = {"skipped": f"skipped: {why}"}
        self.result.sections.append(Section(title, f"skipped: {why}{more}."))

    def consistency(self, images: dict[str, np.ndarray]) -> None:
        """Check 1."""
        checks = {
            label: downsample_consistency(image, self.lr, scale=self.scale, spec=self.spec)
            for label, image in images.items()
        }
        numbers = {label: check.summary for label, check in checks.items()}
        blur = "blurred by the PSF and " if self.spec is not None else ""
        self.add(
            "consistency",
            "1. Downsample consistency",
            f"Each image {blur}block-averaged to the LR grid and subtracted from the "
            "pedestal-free LR, in units of the LR noise σ (mean ≈ 0, RMS ≈ 1 when "
            "consistent); flux ratio image / LR in 8 × 8 tiles whose LR flux is above 5σ.",
            numbers,
            numbers,
            lambda path: plots.consistency_maps_figure(path, checks),
        )

    def sources(self, truth: np.ndarray, images: dict[str, np.ndarray], prediction: str) -> None:
        """Checks 2–4, on the sources of the truth."""
        table = source_table(
            truth, images, lr_sigma=self.lr_sigma, scale=self.scale, fwhm=self.fwhm, psf=self.psf
        )
        photometry = photometry_vs_snr(table)
        self.add(
            "photometry",
            "2. Point-source photometry",
            f"{len(table.xy)} sources of the truth (DAOFIND on the truth blurred by the PSF, "
            f"above 1 LR σ), apertures of radius {2 * self.fwhm:.3g} HR px; S/N = LR flux "
            "over the LR sky noise in a circle of radius one PSF FWHM; median |Δmag| by S/N.",
            photometry,
            {label: _photometry_columns(entry) for label, entry in photometry.items()},
            lambda path: plots.photometry_figure(path, table, SNR_BINS),
        )
        offsets = astrometry(table, min_snr=ASTROMETRY_MIN_SNR)
        flags = [f"{k}: {v['message']}" for k, v in offsets.items() if v["half_pixel_flag"]]
        self.add(
            "astrometry",
            "3. Astrometry",
            f"Centroid offsets from the truth (LR px), sources with S/N ≥ "
            f"{ASTROMETRY_MIN_SNR:g}, means weighted by S/N²; the dashed lines mark "
            "±(s−1)/(2s), the half-pixel convention bug. "
            + ("FLAGGED: " + "; ".join(flags) if flags else "No flag."),
            offsets,
            {k: {n: v for n, v in e.items() if n != "message"} for k, e in offsets.items()},
            lambda path: plots.astrometry_figure(path, table, ASTROMETRY_MIN_SNR),
        )
        found = effective_psf(truth, images, table, psf_fwhm=self.fwhm, min_snr=PSF_MIN_SNR)
        header = psf_header_cards(found[prediction])
        self.add(
            "effective_psf",
            "4. Effective PSF",
            f"2-D Gaussian fits of isolated point sources (S/N ≥ {PSF_MIN_SNR:g}, truth FWHM "
            f"below the PSF's {self.fwhm:.3g} HR px); medians. FITS cards for {prediction}: "
            + ", ".join(f"{key} = {value[0]:.4g}" for key, value in header.items())
            + ".",
            {"methods": found, "header": header},
            {k: {n: v for n, v in e.items() if n != "fwhm_per_star"} for k, e in found.items()},
            lambda path: plots.psf_figure(path, found),
        )

    def stars(self, images: dict[str, np.ndarray], prediction: str) -> None:
        """Check 4 without a truth: the most compact isolated sources of each image."""
        found = {label: star_psf(image) for label, image in images.items()}
        header = psf_header_cards(found[prediction])
        cards = ", ".join(f"{key} = {value[0]:.4g}" for key, value in header.items())
        self.add(
            "effective_psf",
            "4. Effective PSF",
            "No truth: 2-D Gaussian fits of the isolated peaks above 20 sky σ of each image, "
            "the most compact of them (the stellar locus); medians. The PSF of the "
            f"degradation is {self.fwhm:.3g} HR px FWHM. FITS cards for {prediction}: "
            f"{cards}.",
            {"methods": found, "header": header},
            {k: {n: v for n, v in e.items() if n != "fwhm_per_star"} for k, e in found.items()},
            lambda path: plots.psf_figure(path, found),
        )

    def noise(
        self, truth: np.ndarray | None, images: dict[str, np.ndarray], prediction: str
    ) -> None:
        """Check 5, on blank sky away from the truth's sources (or the prediction's)."""
        if truth is not None:
            reference, level, psf = truth, 0.2 * self.lr_sigma, self.psf
        else:
            reference, psf = images[prediction], None
            level = 3.0 * sky_sigma(reference)
        mask = sky_mask(reference, level=level, grow=math.ceil(self.fwhm), psf=psf)
        methods = sky_noise(
            ({"truth": truth} if truth is not None else {}) | images, mask, lr_sigma=self.lr_sigma
        )
        noise_free = truth is not None and methods["truth"]["sky_rms"] < 1e-3 * self.lr_sigma
        if noise_free:  # the ACF of the faint wings left in a noise-free sky means nothing
            methods["truth"] |= {
                "acf": [math.nan] * len(methods["truth"]["acf"]),
                "acf_fwhm": math.nan,
            }
        expected = math.nan
        if self.spec is not None:
            expected = float(noise_sigma_lr(np.array(lr_pedestal(self.spec)), self.spec))
        self.add(
            "noise",
            "5. Sky noise",
            f"Blank sky: {mask.mean():.0%} of the pixels, away from the sources of the "
            f"{'truth' if truth is not None else 'prediction'}. LR sky σ = {self.lr_sigma:.4g} "
            f"(detector model {expected:.4g}). ACF at lags 1–3 HR px (white noise: ≈ 0). "
            + (
                "The truth is noise-free: compare each sky RMS with the LR σ "
                "(rms_over_lr_sigma: pixel replication keeps 1, smoothing lowers it)."
                if noise_free
                else ""
            ),
            {
                "methods": methods,
                "lr_sigma": self.lr_sigma,
                "lr_sigma_expected": expected,
                "sky_fraction": float(mask.mean()),
                "truth_noise_free": noise_free,
            },
            {
                k: {n: v for n, v in e.items() if n != "acf"} | _acf_columns(e)
                for k, e in methods.items()
            },
            lambda path: plots.noise_figure(path, methods, mask),
        )

    def model_checks(self, runner: Any, seed: int) -> None:
        """Checks 6 and 7, which run the model."""
        from srgan_sci.validation_runs import bicubic_runner, hallucination_check, seams_check

        if self.spec is None:
            self.skip("hallucination", "6. Hallucination", "no degradation (noise model) known")
        else:
            shape = (min(self.lr.shape[0], 256), min(self.lr.shape[1], 256))
            summary, noise_images = hallucination_check(
                runner, self.spec, lr_shape=shape, seed=seed
            )
            self.add(
                "hallucination",
                "6. Hallucination",
                "(a) LR of pure sky noise from the degradation's noise model, upscaled: "
                "'sources' per 1000 LR px²; (b) point sources injected at known LR S/N into "
                "blank noise: fraction recovered (per S/N bin) and false detections per 1000 "
                "LR px². A source: aperture flux ≥ 5 LR σ (plain keys, solid lines), or ≥ 5σ "
                "of the image's own sky in ≥ 5 connected pixels, as a catalogue made on the "
                "image would find (own_sigma_ keys, dashed lines).",
                summary,
                {label: _hallucination_columns(entry) for label, entry in summary.items()},
                lambda path: plots.hallucination_figure(path, summary, noise_images),
            )
        seams, arrays = {}, {}
        for method in (runner, bicubic_runner(self.scale)):
            seams[method.name], arrays[method.name] = seams_check(method, self.lr)
        period = seams[runner.name]["period_hr_px"]
        self.add(
            "seams",
            "7. Seams",
            "The model run twice with chunk grids shifted by half a chunk: max |A − B| / data "
            "range (≈ 0 without seams); power at the chunk-grid frequencies of run A over "
            "the neighbouring frequencies (≈ 1 without a grid signature); bicubic as a control.",
            seams,
            seams,
            lambda path: plots.seams_figure(path, arrays, period),
        )


def _acf_columns(entry: dict[str, Any]) -> dict[str, float]:
    return {f"acf_{lag}": value for lag, value in enumerate(entry["acf"], start=1)}


def _photometry_columns(entry: dict[str, Any]) -> dict[str, Any]:
    row = {k: v for k, v in entry.items() if k != "bins"}
    for b in entry["bins"]:
        high = "∞" if math.isinf(b["snr_max"]) else f"{b['snr_max']:g}"
        row[f"abs Δm S/N {b['snr_min']:g}–{high}"] = b["median_abs_dmag"]
    return row


def _hallucination_columns(entry: dict[str, Any]) -> dict[str, Any]:
    row = {k: v for k, v in entry.items() if not k.endswith("completeness")}
    for b in entry["completeness"]:
        row[f"complete S/N {b['snr_min']:g}–{b['snr_max']:g}"] = b["fraction"]
    return row
