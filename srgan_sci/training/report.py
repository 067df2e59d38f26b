"""Training curves as a PNG."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def plot_history(history: list[dict[str, Any]], path: Path) -> Path:
    """Plot losses per step and validation PSNR (model vs bicubic) to ``path``."""
    from matplotlib.figure import Figure  # no pyplot: leaves a notebook's backend alone

    figure = Figure(figsize=(10, 4))
    loss_axis, psnr_axis = figure.subplots(1, 2)
    for key in ("g_pixel", "g", "d"):
        points = [(r["step"], r[key]) for r in history if key in r]
        if points:
            steps, values = zip(*points, strict=True)
            loss_axis.plot(steps, values, label=key, linewidth=0.8)
    loss_axis.set(xlabel="step", ylabel="loss", yscale="log", title="training losses")
    loss_axis.legend()
    for key, label in (("val_psnr", "model (EMA)"), ("val_bicubic_psnr", "bicubic")):
        points = [(r["step"], r[key]) for r in history if key in r]
        if points:
            steps, values = zip(*points, strict=True)
            psnr_axis.plot(steps, values, marker="o", label=label)
    psnr_axis.set(xlabel="step", ylabel="PSNR (dB)", title="validation")
    psnr_axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    return path
