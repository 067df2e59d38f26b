"""PNG figures of the astronomical validation protocol (:mod:`srgan_sci.astro_validation`).

As in :mod:`srgan_sci.report.figures`: every function draws on a standalone
:class:`matplotlib.figure.Figure` (pyplot's global state is left alone), writes ``path``
and returns it.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from srgan_sci.metrics.validation import SourceTable, delta_mag
from srgan_sci.report.figures import _save

__all__ = [
    "astrometry_figure",
    "consistency_maps_figure",
    "hallucination_figure",
    "noise_figure",
    "photometry_figure",
    "psf_figure",
    "seams_figure",
]


def _grid(columns: int, rows: int = 1, width: float = 3.2, height: float = 3.0) -> Any:
    figure = Figure(figsize=(width * columns, height * rows))
    return figure, figure.subplots(rows, columns, squeeze=False)


def consistency_maps_figure(path: str | Path, checks: dict[str, Any]) -> Path:
    """Check 1: residual maps (σ) above the tile flux-ratio maps of each method."""
    figure, axes = _grid(max(len(checks), 1), 2)
    for column, (label, check) in enumerate(checks.items()):
        top = axes[0, column].imshow(check.residual_sigma, cmap="RdBu_r", vmin=-4, vmax=4)
        axes[0, column].set_title(f"{label}: (LR − bin(SR)) / σ", fontsize=9)
        figure.colorbar(top, ax=axes[0, column], fraction=0.046)
        ratio = axes[1, column].imshow(check.tile_ratio, cmap="PuOr_r", vmin=0.5, vmax=1.5)
        axes[1, column].set_title("tile flux SR / LR", fontsize=9)
        figure.colorbar(ratio, ax=axes[1, column], fraction=0.046)
        for axis in axes[:, column]:
            axis.set_xticks([])
            axis.set_yticks([])
    figure.tight_layout()
    return _save(figure, path)


def photometry_figure(path: str | Path, table: SourceTable, bins: tuple[float, ...]) -> Path:
    """Check 2: Δmag against LR S/N for every method, with binned medians."""
    figure, axes = _grid(1, width=6.4, height=4.2)
    axis = axes[0, 0]
    for label, flux in table.fluxes.items():
        dmag = delta_mag(flux, table.truth_flux)
        points = axis.scatter(table.snr, dmag, s=10, alpha=0.6, label=label)
        centres, medians = [], []
        for low, high in itertools.pairwise(bins):
            inside = (table.snr >= low) & (table.snr < high) & np.isfinite(dmag)
            if inside.any():
                centres.append(np.median(table.snr[inside]))
                medians.append(np.median(dmag[inside]))
        axis.plot(centres, medians, color=points.get_facecolor()[0], lw=1.5)
    axis.axhline(0.0, color="k", lw=0.8)
    finite = table.snr[table.snr > 0]
    if finite.size:
        _log_ticks(
            axis,
            [
                v
                for v in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
                if finite.min() / 2 <= v <= finite.max() * 2
            ],
        )
    axis.set_ylim(-1.5, 5.0)
    axis.set_xlabel("source S/N in the LR")
    axis.set_ylabel("Δmag = −2.5 log10(flux / truth flux)")
    axis.legend(fontsize=8)
    axis.grid(alpha=0.3)
    figure.tight_layout()
    return _save(figure, path)


def astrometry_figure(path: str | Path, table: SourceTable, min_snr: float) -> Path:
    """Check 3: centroid offsets (LR px) of each method, with the ±(s-1)/(2s) lines."""
    labels = list(table.offsets)
    figure, axes = _grid(max(len(labels), 1), width=3.0, height=3.2)
    half = (table.scale - 1) / (2 * table.scale)
    bright = table.snr >= min_snr
    for axis, label in zip(axes[0], labels, strict=False):
        offsets = table.offsets[label]
        axis.scatter(offsets[~bright, 0], offsets[~bright, 1], s=6, color="0.7")
        axis.scatter(offsets[bright, 0], offsets[bright, 1], s=10, color="C0")
        for value in (-half, half):
            axis.axvline(value, color="C3", lw=0.8, ls="--")
            axis.axhline(value, color="C3", lw=0.8, ls="--")
        if bright.any():
            axis.plot(*offsets[bright].mean(axis=0), "k+", ms=14, mew=2)
        axis.set_xlim(-1.5, 1.5)
        axis.set_ylim(-1.5, 1.5)
        axis.set_aspect("equal")
        axis.set_title(label, fontsize=9)
        axis.set_xlabel("dx (LR px)")
    axes[0, 0].set_ylabel("dy (LR px)")
    figure.tight_layout()
    return _save(figure, path)


def psf_figure(path: str | Path, result: dict[str, dict[str, Any]]) -> Path:
    """Check 4: FWHM of every fitted star per method, with the median marked."""
    figure, axes = _grid(1, width=6.4, height=3.6)
    axis = axes[0, 0]
    for position, entry in enumerate(result.values()):
        values = np.asarray(entry["fwhm_per_star"], dtype=np.float64)
        values = values[np.isfinite(values)]
        jitter = np.linspace(-0.15, 0.15, values.size) if values.size > 1 else np.zeros(values.size)
        axis.scatter(position + jitter, values, s=10, alpha=0.6)
        if math.isfinite(entry["fwhm"]):
            axis.plot([position - 0.3, position + 0.3], [entry["fwhm"]] * 2, "k", lw=2)
    axis.set_xticks(range(len(result)), list(result), fontsize=8)
    axis.set_ylabel("star FWHM (HR px)")
    axis.grid(alpha=0.3, axis="y")
    figure.tight_layout()
    return _save(figure, path)


def noise_figure(path: str | Path, result: dict[str, dict[str, Any]], mask: np.ndarray) -> Path:
    """Check 5: sky autocorrelation curves of each method and the blank-sky mask."""
    figure, axes = _grid(2, width=4.2, height=3.6)
    for label, entry in result.items():
        acf = [1.0, *entry["acf"]]
        axes[0, 0].plot(range(len(acf)), acf, marker="o", label=f"{label} ({entry['sky_rms']:.3g})")
    axes[0, 0].axhline(0.5, color="k", lw=0.8, ls="--")
    axes[0, 0].set_xlabel("lag (HR px)")
    axes[0, 0].set_ylabel("sky autocorrelation")
    axes[0, 0].legend(fontsize=7, title="sky RMS", title_fontsize=7)
    axes[0, 0].grid(alpha=0.3)
    axes[0, 1].imshow(mask, cmap="gray", interpolation="nearest")
    axes[0, 1].set_title("blank sky (white)", fontsize=9)
    axes[0, 1].set_xticks([])
    axes[0, 1].set_yticks([])
    figure.tight_layout()
    return _save(figure, path)


def hallucination_figure(
    path: str | Path, summary: dict[str, dict[str, Any]], noise_images: dict[str, np.ndarray]
) -> Path:
    """Check 6: completeness against injected S/N, and the upscaled pure-noise images."""
    figure, axes = _grid(1 + len(noise_images), width=3.4, height=3.4)
    for index, (label, entry) in enumerate(summary.items()):
        for key, style in (("completeness", "-"), ("own_sigma_completeness", "--")):
            rows = entry[key]
            centres = [math.sqrt(r["snr_min"] * r["snr_max"]) for r in rows]
            axes[0, 0].plot(
                centres,
                [r["fraction"] for r in rows],
                style,
                marker="o",
                color=f"C{index}",
                label=label if style == "-" else None,
            )
    _log_ticks(axes[0, 0], [r["snr_min"] for r in rows] + [rows[-1]["snr_max"]])
    axes[0, 0].set_xlabel("injected S/N (LR)")
    axes[0, 0].set_ylabel("completeness")
    axes[0, 0].set_ylim(-0.05, 1.05)
    axes[0, 0].legend(fontsize=7, title="solid: 5 LR σ, dashed: own σ", title_fontsize=7)
    axes[0, 0].grid(alpha=0.3)
    for axis, (label, image) in zip(axes[0, 1:], noise_images.items(), strict=True):
        spread = float(np.nanpercentile(np.abs(image), 99.5)) or 1.0
        axis.imshow(image, cmap="gray", vmin=-spread, vmax=spread)
        entry = summary[label]
        axis.set_title(
            f"{label} on pure noise; sources / 1000 LR px²:\n"
            f"{entry['pure_noise_per_1000_lr_px2']:.2f} (5 LR σ), "
            f"{entry['own_sigma_pure_noise_per_1000_lr_px2']:.2f} (own σ)",
            fontsize=7,
        )
        axis.set_xticks([])
        axis.set_yticks([])
    figure.tight_layout()
    return _save(figure, path)


def _log_ticks(axis: Any, values: list[float]) -> None:
    """Log x axis with plain-number ticks at ``values``."""
    axis.set_xscale("log")
    axis.set_xticks(values, [f"{v:g}" for v in values])
    axis.minorticks_off()


def seams_figure(path: str | Path, arrays: dict[str, dict[str, np.ndarray]], period: float) -> Path:
    """Check 7: difference of the two chunkings and power spectra with the grid harmonics."""
    figure, axes = _grid(1 + len(arrays), width=3.6, height=3.4)
    for axis, (label, entry) in zip(axes[0, 1:], arrays.items(), strict=True):
        difference = entry["difference"]
        top = float(np.nanmax(np.abs(difference))) or 1e-12
        image = axis.imshow(difference, cmap="RdBu_r", vmin=-top, vmax=top)
        axis.set_title(f"{label}: run A − run B", fontsize=9)
        figure.colorbar(image, ax=axis, fraction=0.046)
        axis.set_xticks([])
        axis.set_yticks([])
        spectrum = entry["spectrum"]
        frequency = np.arange(spectrum.size) / (2 * (spectrum.size - 1))
        line = axes[0, 0].semilogy(frequency[1:], spectrum[1:], lw=0.8, label=label)[0]
        grid = np.round(np.arange(1, period / 2 + 1) * (2 * (spectrum.size - 1)) / period)
        grid = grid[(grid > 0) & (grid < spectrum.size)].astype(int)
        axes[0, 0].plot(frequency[grid], spectrum[grid], ".", color=line.get_color(), ms=4)
    axes[0, 0].set_title(f"dots: chunk-grid harmonics (period {period:g} HR px)", fontsize=8)
    axes[0, 0].set_xlabel("frequency (cycles / HR px)")
    axes[0, 0].set_ylabel("power of x differences")
    axes[0, 0].legend(fontsize=7)
    figure.tight_layout()
    return _save(figure, path)
