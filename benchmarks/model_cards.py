"""Evaluate the bundled zoo models and (re)write their model cards from the numbers.

For every zoo model and every degradation it was trained on (``training["degradations"]``),
the model, bicubic and Richardson-Lucy + bicubic upscale the same simulated LR images:

* held-out synthetic scenes of the model's domain (astro: galaxies, stars, deep field;
  fluo: nuclei, filaments), 1024² HR, seeds 1000-1002 (training used seeds 41-64);
* real images never used in training (astro: the Hubble Deep Field; fluo: ``cell``) and
  ``moon`` as an out-of-distribution (OOD) example, all from scikit-image.

The LR is simulated with the degradation noise seed fixed (:data:`NOISE_SEED`).  Inference
runs as ``srsci upscale`` does: the training normaliser kind refitted once on the whole LR,
then :func:`~srgan_sci.infer.tiling.upscale_plane_numpy`.  Metrics compare against the
noise-free truth in the prediction's units (``hr_adu * s**2`` for sum binning, ``hr_adu``
for mean binning) after cropping :data:`CROP` HR pixels at every border.

Run: ``python -m benchmarks.model_cards [NAMES...] [--write-cards]`` (writes
``benchmarks/results/model_cards.{json,md}``, keeping the previous results of models not
named; ``--write-cards`` also writes ``srgan_sci/zoo/NAME/MODEL_CARD.md``).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterator
from typing import Any

import dask.array as da
import numpy as np

from benchmarks._cards import save_results, write_card
from benchmarks._machine import RESULTS, machine_info
from srgan_sci.baselines import upscale_baseline
from srgan_sci.degrade.chain import degrade, degrade_lazy
from srgan_sci.degrade.scenes import render_scene
from srgan_sci.degrade.spec import DegradationSpec
from srgan_sci.infer.tiling import upscale_plane_numpy
from srgan_sci.metrics import (
    care_metrics,
    default_data_range,
    fourier_ring_correlation,
    metrics_table,
    psnr,
)
from srgan_sci.metrics.consistency import lr_pedestal
from srgan_sci.models.bundle import read_bundle_metadata
from srgan_sci.normalize import fit_asinh, fit_percentile
from srgan_sci.upscale import load_model
from srgan_sci.zoo import DEFAULTS, list_models, resolve_model

NOISE_SEED = 0
"""Seed of the simulated detector noise, the same for every case."""
CROP = 16
"""HR pixels removed at every border before the metrics."""
SIZE = 1024
"""Side of the held-out synthetic scenes, HR pixels."""
SEEDS = (1000, 1001, 1002)
"""Seeds of the held-out synthetic scenes (training used 41-44, 51-54, 61-64)."""
METHODS = ("model", "bicubic", "richardson-lucy")
SCENES = {"astro": ("galaxies", "stars", "deep-field"), "fluo": ("nuclei", "filaments")}
REAL = {"astro": "hubble_deep_field", "fluo": "cell"}
OOD = "moon"
GOAL_DB = 2.0
"""PSNR gain over bicubic the quality goal asks for on real images."""


def real_image(name: str) -> np.ndarray:
    """A scikit-image sample as a float32 grey plane (``hubble_deep_field``, ``cell``, ``moon``)."""
    from skimage import color, data

    image = getattr(data, name)()
    if image.ndim == 3:
        image = color.rgb2gray(image)
    return np.asarray(image, dtype=np.float32)


def domain_of_model(name: str, metadata: Any) -> str:
    """``astro`` or ``fluo``: from the zoo defaults, else sum binning means astronomy."""
    for (domain, _), default in DEFAULTS.items():
        if default == name:
            return domain
    return "astro" if (metadata.degradation or {}).get("binning") == "sum" else "fluo"


def trained_specs(metadata: Any) -> list[DegradationSpec]:
    """The distinct degradations a model was trained on, in training order."""
    specs = metadata.training.get("degradations") or [metadata.degradation]
    unique = {spec["name"]: spec for spec in specs}
    return [DegradationSpec.from_dict(spec) for spec in unique.values()]


def _scores(truth: np.ndarray, pred: np.ndarray, normalizer: Any, crop: int) -> dict[str, float]:
    """PSNR/SSIM (truth's percentile range), CARE PSNR/SSIM, FRC, normalised PSNR, flux ratio."""
    table = metrics_table(truth, pred, data_range=default_data_range(truth), crop=crop)
    care = care_metrics(truth, pred, crop=crop)
    inner = (slice(crop, -crop or None),) * 2
    frc = fourier_ring_correlation(truth[inner], pred[inner])
    normed = psnr(normalizer.forward(truth), normalizer.forward(pred), data_range=1.0, crop=crop)
    return {
        "psnr": table["psnr"],
        "ssim": table["ssim"],
        "care_psnr": care["care_psnr"],
        "care_ssim": care["care_ssim"],
        "frc_resolution": frc.resolution,
        "psnr_normalized": normed,
        "flux_ratio": float(pred[inner].sum() / truth[inner].sum()),
    }


def evaluate_case(
    model: Any,
    normalizer_kind: str,
    spec: DegradationSpec,
    hr: np.ndarray,
    *,
    noise_seed: int = NOISE_SEED,
    crop: int = CROP,
) -> dict[str, dict[str, float]]:
    """Degrade ``hr`` by ``spec`` and score the model and the baselines against the truth.

    Parameters
    ----------
    model : torch.nn.Module
        Generator with a ``scale`` attribute equal to ``spec.scale``.
    normalizer_kind : {"asinh", "percentile"}
        Normaliser the model was trained with; refitted once on the whole LR.
    spec : DegradationSpec
        Degradation that makes the LR input.
    hr : numpy.ndarray
        ``(H, W)`` truth, any linear units (the spec's photon budget sets the scale);
        cropped to a multiple of the scale.
    noise_seed : int
        Seed of the detector noise.
    crop : int
        HR pixels removed at every border before the metrics.

    Returns
    -------
    dict
        ``{method: scores}`` for ``"model"``, ``"bicubic"`` and ``"richardson-lucy"``,
        scores as in :func:`_scores` (``frc_resolution`` in HR pixels, FRC against the truth;
        ``psnr_normalized`` in the model's normalised units, data range 1; ``flux_ratio`` the
        summed prediction over the summed truth).
    """
    if normalizer_kind not in ("asinh", "percentile"):
        raise ValueError(f"normalizer_kind must be asinh or percentile, got {normalizer_kind!r}")
    s = spec.scale
    if int(model.scale) != s:
        raise ValueError(f"model scale {model.scale} does not match the spec's scale {s}")
    hr = _crop_to_scale(hr, s)
    hr_adu, lr = degrade(hr, spec, seed=noise_seed)
    truth = _output_units(hr_adu, spec)
    normalizer = fit_asinh(lr) if normalizer_kind == "asinh" else fit_percentile(lr)
    # every method works on the raw LR and keeps its zero point; the pedestal (bias, sky)
    # the degradation leaves in it is removed before comparing, as `srsci evaluate` does
    pedestal = np.float32(lr_pedestal(spec))
    preds = {
        "model": upscale_plane_numpy(model, lr, normalizer=normalizer) - pedestal,
        "bicubic": upscale_baseline("bicubic", lr, s, spec) - pedestal,
        "richardson-lucy": upscale_baseline("richardson-lucy", lr, s, spec) - pedestal,
    }
    return {name: _scores(truth, pred, normalizer, crop) for name, pred in preds.items()}


def truth_in_output_units(hr: np.ndarray, spec: DegradationSpec) -> np.ndarray:
    """The noise-free truth :func:`evaluate_case` scores against, without simulating the LR.

    ``hr`` cropped to a multiple of the scale, in ADU (``hr_adu``), times ``scale**2`` for
    sum binning; only the HR branch of the lazy degradation graph is computed.
    """
    hr = _crop_to_scale(hr, spec.scale)
    return _output_units(degrade_lazy(da.from_array(np.asarray(hr, np.float32)), spec).hr, spec)


def _crop_to_scale(hr: np.ndarray, scale: int) -> np.ndarray:
    """``hr`` cut at the bottom and right to a multiple of ``scale`` on both axes."""
    return hr[: hr.shape[0] - hr.shape[0] % scale, : hr.shape[1] - hr.shape[1] % scale]


def _output_units(hr_adu: Any, spec: DegradationSpec) -> np.ndarray:
    """HR in ADU to the prediction's units: times ``scale**2`` for sum binning (float64)."""
    return np.asarray(hr_adu, dtype=np.float64) * (spec.scale**2 if spec.binning == "sum" else 1)


def band_limited_psnr(truth: np.ndarray, scale: int, *, crop: int = CROP) -> float:
    """PSNR of a noise-free oracle: ``truth`` keeping only what the LR pixel grid can hold.

    ``truth`` is low-passed in Fourier space to the LR Nyquist frequency, ``1 / (2 *
    scale)`` cycles per HR pixel on each axis, with no noise, no PSF and no aliasing.  A
    reconstruction that does not invent structure finer than the LR grid scores at most
    about this; content above it (e.g. pixel-scale texture of a real image) is what no
    upscaler can predict from noisy data.
    """
    fy = np.abs(np.fft.fftfreq(truth.shape[0]))[:, None]
    fx = np.abs(np.fft.fftfreq(truth.shape[1]))[None, :]
    keep = (fy <= 0.5 / scale) & (fx <= 0.5 / scale)
    oracle = np.real(np.fft.ifft2(np.fft.fft2(truth) * keep))
    return psnr(truth, oracle, data_range=default_data_range(truth), crop=crop)


def cases(domain: str, size: int, seeds: tuple[int, ...]) -> Iterator[tuple[str, str, Callable]]:
    """``(image label, set, loader)``: synthetic scenes, then the real image, then OOD."""
    for kind in SCENES[domain]:
        for seed in seeds:
            yield (
                f"{kind} {seed}",
                "synthetic",
                lambda k=kind, s=seed: render_scene(k, (size, size), seed=s),
            )
    yield REAL[domain], "real", lambda: real_image(REAL[domain])
    yield OOD, "OOD", lambda: real_image(OOD)


def mean_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with the synthetic seeds of a scene kind averaged (``image`` = kind)."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        key = row["image"].split(" ")[0] if row["set"] == "synthetic" else row["image"]
        groups.setdefault(key, []).append(row)
    merged = []
    for key, members in groups.items():
        scores = {
            method: {
                metric: float(np.mean([m["scores"][method][metric] for m in members]))
                for metric in members[0]["scores"][method]
            }
            for method in METHODS
        }
        merged.append({"image": key, "set": members[0]["set"], "n": len(members), "scores": scores})
        if "band_limited_psnr" in members[0]:
            merged[-1]["band_limited_psnr"] = members[0]["band_limited_psnr"]
    return merged


def goal_check(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Quality goal on the real (not OOD) rows: +2 dB over bicubic, higher SSIM, beats RL."""
    real = [row["scores"] for row in rows if row["set"] == "real"]
    model, bicubic, rl = (np.mean([r[m]["psnr"] for r in real]) for m in METHODS)
    ssim = {m: float(np.mean([r[m]["ssim"] for r in real])) for m in METHODS}
    ceiling = [row["band_limited_psnr"] for row in rows if "band_limited_psnr" in row]
    checks = {
        "psnr_gain_over_bicubic_db": float(model - bicubic),
        "goal_psnr_db": float(bicubic + GOAL_DB),
        "band_limited_psnr_db": float(np.mean(ceiling)) if ceiling else float("nan"),
        "psnr_gain_ok": bool(model - bicubic >= GOAL_DB),
        "ssim_above_bicubic": ssim["model"] > ssim["bicubic"],
        "beats_richardson_lucy": bool(model > rl and ssim["model"] > ssim["richardson-lucy"]),
    }
    passed = ("psnr_gain_ok", "ssim_above_bicubic", "beats_richardson_lucy")
    return checks | {"met": all(checks[k] for k in passed)}


def evaluate_model(
    name: str, *, size: int = SIZE, seeds: tuple[int, ...] = SEEDS, log: Callable = print
) -> dict[str, Any]:
    """Every degradation of one zoo model on every case; see the module docstring."""
    path = resolve_model(name)
    metadata = read_bundle_metadata(path)
    model, _ = load_model(str(path), None, "cpu")
    domain = domain_of_model(name, metadata)
    kind = metadata.normalizer["kind"]
    results = []
    for spec in trained_specs(metadata):
        rows = []
        for image, subset, load in cases(domain, size, seeds):
            hr = load()
            scores = evaluate_case(model, kind, spec, hr)
            row = {"image": image, "set": subset, "scores": scores}
            if subset == "real":
                truth = truth_in_output_units(hr, spec)
                row["band_limited_psnr"] = band_limited_psnr(truth, spec.scale)
            rows.append(row)
            log(
                f"{name} {spec.name} {image}: PSNR model {scores['model']['psnr']:.2f} dB, "
                f"bicubic {scores['bicubic']['psnr']:.2f} dB"
            )
        summary = mean_rows(rows)
        results.append(
            {"spec": spec.to_dict(), "rows": rows, "summary": summary, "goal": goal_check(rows)}
        )
    return {
        "name": name,
        "domain": domain,
        "scale": metadata.scale,
        "normalizer": kind,
        "noise_seed": NOISE_SEED,
        "crop": CROP,
        "goal_db": GOAL_DB,
        "synthetic": {"size": size, "seeds": list(seeds)},
        "degradations": results,
        "goal_met": all(entry["goal"]["met"] for entry in results),
    }


def main(argv: list[str] | None = None) -> None:
    """Evaluate the named (default: all bundled) models, write results and optionally cards."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="zoo models (default: every bundled one)")
    parser.add_argument("--write-cards", action="store_true", help="write MODEL_CARD.md files")
    args = parser.parse_args(argv)
    names = args.names or [e.name for e in list_models() if e.source == "bundled"]
    previous = RESULTS / "model_cards.json"
    models = json.loads(previous.read_text())["models"] if previous.exists() else {}
    machine, lines = machine_info(), []
    for name in names:
        models[name] = evaluate_model(name) | {"machine": machine}
        lines = save_results(models, machine)  # after every model: a later failure loses nothing
        if args.write_cards:
            write_card(models[name])
    print("\n".join(lines))


if __name__ == "__main__":
    main()
