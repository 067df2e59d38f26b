"""Validation checks that run the model: hallucinated sources (6) and tiling seams (7).

:class:`ModelRunner` wraps a model as a function of a numpy LR plane, normalised as
``srsci upscale`` does (the normaliser kind the model was trained with, fitted once on the
whole input).  :func:`hallucination_check` and :func:`seams_check` feed it simulated or
given LR images; the measurements are numpy functions of
:mod:`srgan_sci.metrics.validation_injection` and :mod:`srgan_sci.metrics.validation_noise`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dask.array as da
import numpy as np

from srgan_sci.baselines import upscale_baseline
from srgan_sci.degrade.chain import blur_kernel
from srgan_sci.degrade.psf import measure_fwhm
from srgan_sci.degrade.spec import DegradationSpec
from srgan_sci.infer.tiling import BicubicModel, upscale_lazy, upscale_plane_numpy
from srgan_sci.metrics.consistency import lr_pedestal
from srgan_sci.metrics.validation import sky_sigma
from srgan_sci.metrics.validation_injection import (
    completeness,
    detect_own_sigma,
    detect_point_sources,
    inject_point_sources,
    pure_noise_lr,
)
from srgan_sci.metrics.validation_noise import grid_peak_ratio, seam_difference
from srgan_sci.normalize import Normalizer, fit_asinh, fit_percentile

__all__ = ["ModelRunner", "bicubic_runner", "hallucination_check", "model_runner", "seams_check"]


@dataclass
class ModelRunner:
    """A super-resolution model as ``runner(lr, chunk=None) -> sr`` on 2-D numpy planes.

    Parameters
    ----------
    model : torch.nn.Module
        Has ``scale`` and ``receptive_field_radius``; in eval mode on ``device``.
    normalizer_kind : {"asinh", "percentile"} or None
        Fitted on the whole input of each call; None: no normalisation (linear models).
    device : str or torch.device
        Where the model runs.
    name : str
        Label of the model in reports.
    """

    model: Any
    normalizer_kind: str | None
    device: Any = "cpu"
    name: str = "model"

    @property
    def scale(self) -> int:
        """The model's upscale factor."""
        return int(self.model.scale)

    def fit(self, lr: np.ndarray) -> Normalizer | None:
        """The normaliser the model expects, fitted on the whole of ``lr``."""
        if self.normalizer_kind is None:
            return None
        return fit_asinh(lr) if self.normalizer_kind == "asinh" else fit_percentile(lr)

    def __call__(
        self, lr: np.ndarray, *, chunk: int | None = None, normalizer: Normalizer | None = None
    ) -> np.ndarray:
        """Upscale ``lr`` (input units in, input units out).

        ``chunk`` None runs the whole plane at once (:func:`upscale_plane_numpy`); an
        integer runs :func:`upscale_lazy` over chunks of that side.  ``normalizer``
        replaces the one fitted on ``lr``.
        """
        lr = np.asarray(lr, dtype=np.float32)
        normalizer = normalizer or self.fit(lr)
        if chunk is None:
            return upscale_plane_numpy(self.model, lr, device=self.device, normalizer=normalizer)
        lazy = upscale_lazy(
            self.model,
            da.from_array(lr, chunks=chunk),
            normalizer,
            device=self.device,
            max_tile_pixels=None,
        )
        return lazy.compute(scheduler="synchronous")


def model_runner(name: str, device: str = "auto") -> ModelRunner:
    """The :class:`ModelRunner` of a bundled model name or bundle path (``--model``)."""
    from srgan_sci.devices import resolve_device
    from srgan_sci.upscale import load_model

    where = resolve_device(device)
    model, description = load_model(name, None, where)
    return ModelRunner(model, description.get("normalizer_kind"), where, str(name))


def _upscalers(
    runner: ModelRunner, spec: DegradationSpec, baselines: tuple[str, ...]
) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    """``{label: f(raw LR) -> pedestal-free SR}`` for the model and the baselines."""
    pedestal, scale = np.float32(lr_pedestal(spec)), runner.scale
    methods = {runner.name: lambda lr: runner(lr) - pedestal}
    for name in baselines:
        methods[name] = lambda lr, name=name: upscale_baseline(name, lr - pedestal, scale, spec)
    return methods


def hallucination_check(
    runner: ModelRunner,
    spec: DegradationSpec,
    *,
    lr_shape: tuple[int, int] = (128, 128),
    seed: int = 0,
    baselines: tuple[str, ...] = ("bicubic", "richardson-lucy"),
) -> tuple[dict[str, dict[str, Any]], dict[str, np.ndarray]]:
    """Check 6: sources found in upscaled pure noise, and injection–recovery.

    Both LR images are simulated with the spec's detector (seeded by ``seed``), then
    upscaled by the model and by each baseline.  Sources are counted two ways: aperture
    flux of 5 LR sky sigmas
    (:func:`~srgan_sci.metrics.validation_injection.detect_point_sources`, keys without
    prefix) and 5 sigmas of the image's own sky
    (:func:`~srgan_sci.metrics.validation_injection.detect_own_sigma`, ``own_sigma_``).

    Returns
    -------
    summary : dict
        For each method and detection: ``pure_noise_per_1000_lr_px2`` (sources in the
        upscaled pure noise), and from the injection run ``false_per_1000_lr_px2``,
        ``recovered`` (fraction of all injected) and ``completeness`` (per S/N bin, see
        :func:`~srgan_sci.metrics.validation_injection.completeness`).
    noise_images : dict
        The upscaled pure-noise images, for figures.
    """
    rng = np.random.default_rng(seed)
    noise = pure_noise_lr(lr_shape, spec, rng)
    lr_sigma = sky_sigma(noise)
    field = inject_point_sources(lr_shape, spec, rng, lr_sigma=lr_sigma)
    fwhm = measure_fwhm(blur_kernel(spec))
    area = float(lr_shape[0] * lr_shape[1])
    detectors = {
        "": lambda image: detect_point_sources(
            image, scale=spec.scale, fwhm=fwhm, lr_sigma=lr_sigma
        )[0],
        "own_sigma_": detect_own_sigma,
    }
    summary, images = {}, {}
    for label, upscale in _upscalers(runner, spec, baselines).items():
        images[label], injected = upscale(noise), upscale(field.lr)
        summary[label] = {"injected": len(field.xy)}
        for prefix, detect in detectors.items():
            found = completeness(
                field.xy, field.snr, detect(injected), match_radius=fwhm, area_lr=area
            )
            summary[label] |= {
                f"{prefix}pure_noise_per_1000_lr_px2": 1000.0 * len(detect(images[label])) / area,
                f"{prefix}false_per_1000_lr_px2": found["false_per_1000_lr_px2"],
                f"{prefix}recovered": found["recovered"],
                f"{prefix}completeness": found["completeness"],
            }
    return summary, images


def seams_check(
    runner: ModelRunner, lr: np.ndarray, *, chunk: int | None = None
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Check 7: the model run with chunk grids shifted by half a chunk.

    The second run pads ``lr`` symmetrically by ``chunk // 2`` at the top and left (which
    reproduces the mirror halo of the image edge, as ``chunk // 2 >= halo``) and crops the
    result back, so only the grid moves; one normaliser, fitted on ``lr``, serves both.

    Parameters
    ----------
    runner : ModelRunner
        The model.
    lr : numpy.ndarray
        The LR plane.
    chunk : int, optional
        Chunk side, LR px; default the even number ``max(2 halo + 2, min(lr.shape) // 2)``.

    Returns
    -------
    summary : dict
        ``chunk``, ``max_abs_diff_over_range`` (:func:`seam_difference`, ~0 for a seam-free
        tiling), ``grid_peak_ratio`` and ``grid_peak_max`` (:func:`grid_peak_ratio` of
        the first run at the chunk period, ~1 without a grid signature).
    arrays : dict
        ``difference`` of the two runs (HR grid) and ``spectrum``, the power spectrum of
        the first run's x differences (for figures).
    """
    halo = int(runner.model.receptive_field_radius)
    if chunk is None:
        chunk = max(2 * halo + 2, min(lr.shape) // 2)
        chunk += chunk % 2
    shift, scale = chunk // 2, runner.scale
    normalizer = runner.fit(lr)
    first = runner(lr, chunk=chunk, normalizer=normalizer)
    padded = np.pad(np.asarray(lr, np.float32), ((shift, 0), (shift, 0)), mode="symmetric")
    second = runner(padded, chunk=chunk, normalizer=normalizer)[shift * scale :, shift * scale :]
    grid = grid_peak_ratio(first, chunk * scale)
    summary = {
        "chunk": chunk,
        "shift": shift,
        "max_abs_diff_over_range": seam_difference(first, second),
        "grid_peak_ratio": grid["ratio"],
        "grid_peak_max": grid["max_ratio"],
        "period_hr_px": grid["period"],
    }
    return summary, {"difference": first - second, "spectrum": grid["spectrum"]}


def bicubic_runner(scale: int) -> ModelRunner:
    """Bicubic interpolation as a :class:`ModelRunner` (a seam-free control)."""
    return ModelRunner(BicubicModel(scale).eval(), None, "cpu", "bicubic")
