"""PNG figures of an evaluation: image panels with zoomed crops, FRC curves, residual maps.

Every function takes arrays and an output path, draws on a standalone
:class:`matplotlib.figure.Figure` (no display needed, and pyplot's global backend is left
alone, so inline plots in a notebook keep working) and returns the path.  All image
panels of one figure share one display stretch, computed from the truth, so brightness
differences between panels are real.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from astropy.visualization import AsinhStretch, ImageNormalize
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

ZOOM_SIDE = 96
"""Side of the zoomed crop, HR pixels (smaller images use a quarter of their side)."""


def display_norm(
    truth: np.ndarray, others: tuple[np.ndarray, ...] = (), stretch: str = "asinh"
) -> ImageNormalize:
    """A shared display normalisation for the truth and the images compared with it.

    The top is the truth's 99.9th percentile; the bottom is the lowest 1st percentile of
    the truth and ``others``, so noise below zero in noisy images stays visible.
    """
    finite = truth[np.isfinite(truth)]
    if not finite.size:
        return ImageNormalize(vmin=0.0, vmax=1.0)
    vmax = float(np.percentile(finite, 99.9))
    lows = [float(np.percentile(finite, 1.0))]
    lows += [float(np.nanpercentile(o, 1.0)) for o in others if np.isfinite(o).any()]
    vmin = min(lows)
    vmax = vmax if vmax > vmin else vmin + 1.0
    if stretch == "asinh":
        return ImageNormalize(vmin=vmin, vmax=vmax, stretch=AsinhStretch(0.05))
    return ImageNormalize(vmin=vmin, vmax=vmax)


def zoom_box(truth: np.ndarray, side: int | None = None) -> tuple[int, int, int]:
    """``(y, x, side)`` of the crop with the most structure (largest variance) in the truth.

    Candidates are a grid of windows at half-window steps; NaN pixels count as empty.
    """
    height, width = truth.shape
    side = side or min(ZOOM_SIDE, max(8, min(height, width) // 4))
    filled = np.nan_to_num(truth.astype(np.float64), nan=0.0)
    best, best_score = (0, 0), -1.0
    step = max(side // 2, 1)
    for y in range(0, max(height - side, 0) + 1, step):
        for x in range(0, max(width - side, 0) + 1, step):
            score = float(np.var(filled[y : y + side, x : x + side]))
            if score > best_score:
                best, best_score = (y, x), score
    return best[0], best[1], side


def _nearest(lr: np.ndarray, scale: int) -> np.ndarray:
    return np.repeat(np.repeat(lr, scale, axis=0), scale, axis=1)


def panel_figure(
    path: str | Path,
    truth: np.ndarray | None,
    images: dict[str, np.ndarray],
    *,
    lr: np.ndarray | None = None,
    scale: int = 1,
    error_of: str | None = None,
    stretch: str = "asinh",
) -> Path:
    """LR | methods... | truth | |error| panels, with a zoomed crop of each underneath.

    Parameters
    ----------
    path : str or pathlib.Path
        PNG to write.
    truth : numpy.ndarray or None
        Ground truth, 2-D; without it, no truth and no error panel (the stretch and the
        zoomed crop come from the ``error_of`` image).
    images : dict
        ``{label: image}`` in display order, each shaped like ``truth``.
    lr : numpy.ndarray, optional
        The low-resolution input, shown with nearest-neighbour pixels.
    scale : int
        Resolution factor between ``lr`` and ``truth``.
    error_of : str, optional
        Label of the image whose absolute error map is shown last (default: the last).
    stretch : {"asinh", "linear"}
        Display stretch (asinh suits high-dynamic-range sky images).
    """
    panels: list[tuple[str, np.ndarray, Any]] = []
    reference = truth if truth is not None else images[error_of or list(images)[-1]]
    norm = display_norm(reference, tuple(images.values()), stretch)
    if lr is not None:
        panels.append((f"LR (x{scale} nearest)", _nearest(lr, scale), norm))
    panels += [(label, image, norm) for label, image in images.items()]
    if truth is not None:
        panels.append(("truth", truth, norm))
    if images and truth is not None:
        label = error_of or list(images)[-1]
        error = np.abs(images[label] - truth)
        finite = error[np.isfinite(error)]
        top = float(np.percentile(finite, 99.5)) if finite.size else 1.0
        panels.append((f"|{label} − truth|", error, ImageNormalize(vmin=0, vmax=top or 1.0)))
    y, x, side = zoom_box(reference)
    columns = len(panels)
    figure = Figure(figsize=(2.6 * columns, 5.4))
    axes = figure.subplots(2, columns, squeeze=False)
    for column, (title, image, panel_norm) in enumerate(panels):
        cmap = "magma" if title.startswith("|") else "gray"
        top_axis, zoom_axis = axes[0, column], axes[1, column]
        top_axis.imshow(image, cmap=cmap, norm=panel_norm, interpolation="nearest")
        top_axis.add_patch(Rectangle((x - 0.5, y - 0.5), side, side, fill=False, ec="cyan", lw=1))
        top_axis.set_title(title, fontsize=9)
        crop = image[y : y + side, x : x + side]
        zoom_axis.imshow(crop, cmap=cmap, norm=panel_norm, interpolation="nearest")
        zoom_axis.set_xlabel(f"zoom {side}² px", fontsize=8)
        for axis in (top_axis, zoom_axis):
            axis.set_xticks([])
            axis.set_yticks([])
    figure.tight_layout()
    return _save(figure, path)


def frc_figure(path: str | Path, curves: dict[str, Any], threshold: float) -> Path:
    """FRC curves (``{label: FRCResult}``) against the truth, with the threshold line."""
    figure = Figure(figsize=(6, 4))
    axis = figure.subplots()
    for label, result in curves.items():
        axis.plot(
            result.frequency, result.correlation, label=f"{label} ({result.resolution:.2f} px)"
        )
    axis.axhline(threshold, color="k", ls="--", lw=1, label=f"threshold {threshold:.3f}")
    axis.set_xlabel("spatial frequency (cycles / HR pixel)")
    axis.set_ylabel("Fourier ring correlation with truth")
    axis.set_xlim(0, 0.5)
    axis.set_ylim(-0.1, 1.05)
    axis.legend(fontsize=8)
    axis.grid(alpha=0.3)
    figure.tight_layout()
    return _save(figure, path)


def residual_figure(path: str | Path, residuals: dict[str, np.ndarray], unit: str) -> Path:
    """Data-consistency residual maps (LR grid) of each method, with histograms."""
    columns = max(len(residuals), 1)
    figure = Figure(figsize=(3.2 * columns, 6))
    axes = figure.subplots(2, columns, squeeze=False)
    finite_all = [r[np.isfinite(r)] for r in residuals.values()]
    top = max((float(np.percentile(np.abs(f), 99)) for f in finite_all if f.size), default=1.0)
    for column, (label, residual) in enumerate(residuals.items()):
        image = axes[0, column].imshow(residual, cmap="RdBu_r", vmin=-top, vmax=top)
        axes[0, column].set_title(f"{label}: LR − degrade(SR)", fontsize=9)
        axes[0, column].set_xticks([])
        axes[0, column].set_yticks([])
        figure.colorbar(image, ax=axes[0, column], fraction=0.046, label=unit)
        values = residual[np.isfinite(residual)]
        axes[1, column].hist(values, bins=80, range=(-top, top), color="0.3")
        axes[1, column].set_xlabel(f"residual ({unit})")
    figure.tight_layout()
    return _save(figure, path)


def _save(figure: Figure, path: str | Path) -> Path:
    path = Path(path)
    figure.savefig(path, dpi=110)
    return path
