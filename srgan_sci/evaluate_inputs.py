"""What both kinds of ``srsci evaluate`` read: prediction, LR, degradation and baselines.

:func:`evaluation_images` opens the prediction and the LR of an
:class:`~srgan_sci.evaluate.EvaluateConfig`, resolves the degradation (bundle > preset >
the pairs dataset > none) and makes the baselines from the LR, all lazily and in one
convention: pedestal-free values in LR units per HR pixel position.
:func:`srgan_sci.evaluate.evaluate_files` compares them with a truth;
:func:`srgan_sci.evaluate_lr.evaluate_without_truth` runs the truth-free checks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
import zarr

from srgan_sci.baselines import upscale_baseline_lazy
from srgan_sci.compare import EvaluateError, calibrated_lr, scale_of
from srgan_sci.degrade.spec import DegradationSpec, preset
from srgan_sci.errors import InvalidImageError
from srgan_sci.io import open_array
from srgan_sci.io.fits_output import applied_value_factor
from srgan_sci.metrics.consistency import lr_pedestal

__all__ = [
    "EvaluationImages",
    "central_region",
    "evaluation_images",
    "lr_window",
    "pairs_attrs",
    "plane_2d",
    "resolve_spec",
]


@dataclass
class EvaluationImages:
    """The lazy images of one evaluation.

    Attributes
    ----------
    images : dict
        ``{label: dask array}``: the baselines, then the prediction under its label;
        pedestal-free, LR units per HR pixel position.
    baselines : tuple of str
        The baselines that were made.
    lr : dask.array.Array or None
        The raw LR readout (pedestal included).
    spec : DegradationSpec or None
        The degradation assumed, and ``spec_source`` where it came from.
    scale : int or None
        HR / LR pixel ratio (None without an LR).
    flux_factor : float
        What ``srsci upscale`` divided the prediction's values by (``SRFLUXC``); undone.
    pedestal : float
        The degradation's pedestal removed from the prediction (0 if none).
    notes : list of str
        Report notes on what was skipped or changed.
    """

    images: dict[str, da.Array]
    baselines: tuple[str, ...]
    lr: da.Array | None
    spec: DegradationSpec | None
    spec_source: str
    scale: int | None
    flux_factor: float
    pedestal: float
    notes: list[str] = field(default_factory=list)


def evaluation_images(config: Any, hr_shape: tuple[int, ...] | None = None) -> EvaluationImages:
    """Open ``config.pred`` and ``config.lr``, resolve the degradation, make the baselines.

    Parameters
    ----------
    config : srgan_sci.evaluate.EvaluateConfig
        The evaluation's options.
    hr_shape : tuple of int, optional
        Shape the prediction must have (the truth's); checked when given.
    """
    pred_image = open_array(config.pred)
    pred = plane_2d(pred_image.data, "prediction")
    # `srsci upscale` divides per-pixel FITS values by s² (flux conserved); compare in the
    # LR's units per HR pixel position, like the baselines and the models' raw output
    flux_factor = applied_value_factor(pred_image.meta.fits_header)
    notes = []
    if flux_factor != 1.0:
        pred = pred / np.float32(flux_factor)
        notes.append(
            f"Prediction multiplied by {1 / flux_factor:g}: its header says srsci upscale "
            "divided per-pixel values by the scale squared (SRFLUXC)."
        )
    if hr_shape is not None and pred.shape != hr_shape:
        raise EvaluateError(
            f"prediction shape {pred.shape} differs from truth shape {hr_shape}; "
            "evaluate needs images on the same pixel grid"
        )
    lr = plane_2d(open_array(config.lr).data, "LR") if config.lr else None
    spec, spec_source = resolve_spec(config)
    scale = scale_of(pred.shape, lr.shape) if lr is not None else None
    if spec is not None and scale is not None and config.preset and not config.model:
        spec = spec.with_overrides(scale=scale)  # a preset describes an instrument, any scale
    if spec is not None and scale is not None and spec.scale != scale:
        raise EvaluateError(
            f"the degradation ({spec_source}) is x{spec.scale} but the images are x{scale}"
        )
    baselines = tuple(config.baselines) if lr is not None else ()
    if "richardson-lucy" in baselines and spec is None:
        baselines = tuple(b for b in baselines if b != "richardson-lucy")
        notes.append(
            "Richardson–Lucy baseline skipped: no degradation known (pass --model or --preset)."
        )
    calibrated = calibrated_lr(lr, spec) if lr is not None else None
    images = {name: upscale_baseline_lazy(name, calibrated, scale, spec) for name in baselines}
    pedestal = lr_pedestal(spec) if spec is not None and config.pred_zero_point == "lr" else 0.0
    images[config.label] = pred - np.float32(pedestal) if pedestal else pred
    return EvaluationImages(
        images, baselines, lr, spec, spec_source, scale, flux_factor, pedestal, notes
    )


def resolve_spec(config: Any) -> tuple[DegradationSpec | None, str]:
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


def plane_2d(data: da.Array, what: str) -> da.Array:
    """Drop leading length-1 axes; evaluation works on 2-D images."""
    while data.ndim > 2 and data.shape[0] == 1:
        data = data[0]
    if data.ndim != 2:
        raise InvalidImageError(
            f"the {what} has shape {data.shape}; evaluate works on 2-D images "
            "(select one plane, e.g. FILE.fits[SCI] or one channel of a Zarr array)"
        )
    return data


def central_region(shape: tuple[int, ...], scale: int, side: int) -> tuple[slice, slice]:
    """Central window of at most ``side`` HR pixels, aligned to the LR grid."""
    window = []
    for size in shape:
        length = min(size, side) // scale * scale
        start = (size - length) // 2 // scale * scale
        window.append(slice(start, start + length))
    return tuple(window)


def lr_window(window: tuple[slice, slice], scale: int) -> tuple[slice, slice]:
    """The LR pixels under an LR-aligned HR ``window``."""
    return tuple(slice(w.start // scale, w.stop // scale) for w in window)
