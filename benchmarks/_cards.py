"""Tables, result files and ``srgan_sci/zoo/NAME/MODEL_CARD.md`` from :mod:`benchmarks.model_cards`.

Every number in a card comes either from the bundle's ``model.json`` (training summary) or
from the measured evaluation result; nothing is typed in by hand.
"""

from __future__ import annotations

import math
from typing import Any

from benchmarks._machine import write_results
from srgan_sci.models.bundle import read_bundle_metadata
from srgan_sci.zoo import CARD_FILE, resolve_model

REAL_NOTE = {
    "astro": "`hubble_deep_field` is an 8-bit RGB press photograph converted to grey, not "
    "calibrated linear flux",
    "fluo": "`cell` is a quantitative phase image of a cell, not fluorescence: smooth, with "
    "a banded background",
}
DOMAIN_TEXT = {
    "astro": (
        "astronomical images",
        "Calibrated, sky-subtracted single-band frames (FITS) from an instrument whose PSF "
        "and noise are close to one of the degradations above, upscaled with "
        "`srsci upscale IN.fits OUT.zarr` (without `--model`, FITS input at x{scale} gets "
        "`astro-x4`, or the space-diffraction specialist `astro-x4-space` when its header's "
        "TELESCOP names a space telescope). "
        "For inspection and for finding and separating faint, blended sources; check any "
        "measurement that matters against the LR data.",
    ),
    "fluo": (
        "fluorescence microscopy images",
        "Single-channel widefield or confocal fluorescence images (TIFF/Zarr) whose PSF and "
        "noise are close to one of the degradations above, upscaled with "
        "`srsci upscale IN.tif OUT.zarr --scale {scale}` (the default model for TIFF/Zarr "
        "input at x{scale}). For visual inspection and segmentation aids; confirm fine "
        "structure at the optical resolution before quantifying it.",
    ),
}


def _triple(scores: dict[str, dict[str, float]], metric: str, fmt: str) -> str:
    """``model / bicubic / RL`` values of one metric, in the order the scores were made."""
    values = (by_method.get(metric, float("nan")) for by_method in scores.values())
    return " / ".join(format(value, fmt) for value in values)


def markdown_tables(result: dict[str, Any]) -> list[str]:
    """One table per degradation: synthetic means, the real image and the OOD image."""
    lines = []
    seeds = result["synthetic"]["seeds"]
    for entry in result["degradations"]:
        goal = entry["goal"]
        lines += [
            f"**{entry['spec']['name']}** (x{result['scale']}); each cell: model / bicubic / "
            "RL+bicubic; synthetic rows: mean of seeds "
            f"{', '.join(map(str, seeds))} ({result['synthetic']['size']}² HR)",
            "",
            "| image | set | PSNR (dB) | SSIM | CARE PSNR (dB) | CARE SSIM | FRC res. (HR px) "
            "| PSNR norm. (dB) | flux ratio |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for row in entry["summary"]:
            s = row["scores"]
            lines.append(
                f"| {row['image']} | {row['set']} | {_triple(s, 'psnr', '.2f')} | "
                f"{_triple(s, 'ssim', '.3f')} | {_triple(s, 'care_psnr', '.2f')} | "
                f"{_triple(s, 'care_ssim', '.3f')} | {_triple(s, 'frc_resolution', '.1f')} | "
                f"{_triple(s, 'psnr_normalized', '.2f')} | {_triple(s, 'flux_ratio', '.3f')} |"
            )
        verdict = "met" if goal["met"] else "NOT met"
        lines += [
            "",
            f"Quality goal on the real image ({result['goal_db']:+.0f} dB over bicubic, "
            f"higher SSIM, beats RL+bicubic): **{verdict}** (PSNR gain "
            f"{goal['psnr_gain_over_bicubic_db']:+.2f} dB){_ceiling(goal)}.",
            "",
        ]
    return lines


def _ceiling(goal: dict[str, Any]) -> str:
    """The goal's PSNR next to the noise-free band-limited oracle's, when measured."""
    ceiling = goal.get("band_limited_psnr_db", float("nan"))
    if not math.isfinite(ceiling):  # not measured, or a result from before it was
        return ""
    return (
        f"; the goal asks for {goal['goal_psnr_db']:.2f} dB, and the noise-free truth "
        f"band-limited to the LR Nyquist frequency scores {ceiling:.2f} dB"
    )


def save_results(models: dict[str, Any], machine: dict[str, Any]) -> list[str]:
    """Write ``results/model_cards.{json,md}`` for ``models``; returns the Markdown lines."""
    lines = ["Noise seed, border crop and machine of each model's run are in the JSON.", ""]
    for name in sorted(models):
        lines += [f"## {name}", "", *markdown_tables(models[name])]
    write_results("model_cards", {"machine": machine, "models": models}, lines)
    return lines


def _psf(psf: dict[str, Any]) -> str:
    beta = f", beta {psf['beta']:g}" if psf["kind"] == "moffat" else ""
    return f"{psf['kind']} FWHM {psf['fwhm']:g} HR px{beta}"


def _what_it_does(result: dict[str, Any]) -> list[str]:
    s = result["scale"]
    lines = [
        "## What it does",
        "",
        f"x{s} super-resolution of {DOMAIN_TEXT[result['domain']][0]}: it inverts blur, "
        f"x{s} pixel binning and detector noise of the degradations it was trained on "
        "(electrons per LR pixel):",
        "",
        "| degradation | PSF | binning | photons (mean signal) | sky | read noise | gain "
        "(e-/ADU) | sky subtracted |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for entry in result["degradations"]:
        d = entry["spec"]
        lines.append(
            f"| {d['name']} | {_psf(d['psf'])} | {d['binning']} {d['scale']}x{d['scale']} | "
            f"{d['photons']:g} | {d['sky']:g} | {d['read_noise']:g} | {d['gain']:g} | "
            f"{'yes' if d['subtract_sky'] else 'no'} |"
        )
    per = (
        f"input units per LR-pixel area (divide by {s * s} for flux per HR pixel)"
        if result["degradations"][0]["spec"]["binning"] == "sum"
        else "the input's intensity units"
    )
    return [*lines, "", f"Input: the LR image in ADU, offset removed. Output: {per}.", ""]


def _training(name: str, result: dict[str, Any]) -> list[str]:
    metadata = read_bundle_metadata(resolve_model(name))
    t, config = metadata.training, metadata.training.get("config", {})
    arch = metadata.arch_config
    data = ", ".join(_training_run(run) for run in t.get("simulate", []))
    val = t.get("last_validation", {})
    loss = config.get("weights", {}).get("pixel_kind", "?").upper()
    return [
        "## Training",
        "",
        f"- Recipe: `{t.get('recipe', '?')}`",
        f"- Data: HR images degraded by the table above: {data}.",
        f"- Model: {metadata.arch}, {arch.get('channels')} channels, {arch.get('blocks')} "
        f"blocks{'' if arch.get('bias', True) else ', no biases (output ∝ input brightness)'}; "
        f"{result['normalizer']} normaliser; {loss} pixel loss only "
        f"(pretrain {t['phases']['pretrain']} steps, GAN {t['phases']['gan']} steps).",
        f"- Steps {t['steps']}, batch {config.get('batch_size')}, patch "
        f"{config.get('patch_size')} LR px, wall time {t.get('wall_seconds', 0):.0f} s.",
        f"- Final validation ({config.get('val_fraction', 0) * 100:g} % of the training pairs "
        f"held out, normalised units): PSNR {val.get('val_psnr', float('nan')):.2f} dB vs "
        f"bicubic {val.get('val_bicubic_psnr', float('nan')):.2f} dB; SSIM "
        f"{val.get('val_ssim', float('nan')):.3f} vs "
        f"{val.get('val_bicubic_ssim', float('nan')):.3f}.",
        "",
    ]


def _training_run(run: dict[str, Any]) -> str:
    """One ``[[simulate]]`` run of a recipe, in words."""
    if "samples" in run:
        names = ", ".join(f"`{sample}`" for sample in run["samples"])
        return f"scikit-image photographs {names} (noise seed {run['seed']}, {run['preset']})"
    return f"synthetic {run['scene']} (seed {run['seed']}, {run['preset']}, {run['size']}²)"


def _evaluation(name: str, result: dict[str, Any]) -> list[str]:
    machine = result.get("machine", {})
    kept = [e["spec"]["name"] for e in result["degradations"] if not e["spec"]["subtract_sky"]]
    background = (
        f" With {' and '.join(kept)} the LR keeps its background (sky not subtracted): the "
        "baselines carry it as an offset (flux ratio > 1), the model was trained to remove it."
        if kept
        else ""
    )
    return [
        "## Evaluation",
        "",
        f"Reproduce: `python -m benchmarks.model_cards {name} --write-cards` "
        f"(srgan_sci {machine.get('srgan_sci', '?')}, CPU). LR simulated from each HR image "
        f"with the degradation (noise seed {result['noise_seed']}); truth = the noise-free "
        f"HR in the output's units; {result['crop']} HR px border cropped. PSNR/SSIM use the "
        "truth's 0.1-99.9 percentile range; CARE metrics fit the prediction affinely to the "
        "percentile-normalised truth; FRC resolution is the period (HR px) where the FRC "
        "with the truth drops below 1/7; PSNR norm. is PSNR in the model's normalised units "
        "(normaliser fitted on the LR). Real images are scikit-image samples never used "
        f"in training ({REAL_NOTE[result['domain']]}); `moon` is out of distribution (OOD)."
        f"{background}",
        "",
        *markdown_tables(result),
    ]


def _failure_modes(result: dict[str, Any]) -> list[str]:
    config = read_bundle_metadata(resolve_model(result["name"])).training.get("config", {})
    loss = config.get("weights", {}).get("pixel_kind", "pixel").upper()
    lines = [
        "## Known failure modes",
        "",
        "- Hallucination: at low signal-to-noise the model invents plausible small-scale "
        "structure (point-like sources, texture, filament fragments) that the data do not "
        "support. Compare with the LR input.",
        "- Out-of-distribution inputs: content unlike its training images, see the OOD rows above.",
        "- A different PSF, pixel scale or noise level than in the table above: results "
        "degrade without warning; retrain for your instrument.",
        "- Saturated or clipped sources: training data had no saturation.",
        f"- PSNR-oriented ({loss}) generator without an adversarial phase: fine texture comes "
        "out smooth rather than sharp.",
    ]
    lines += VALIDATION_FINDINGS.get(result["name"], [])
    for entry in result["degradations"]:
        for row in entry["summary"]:
            lines += _measured(row, entry["spec"]["name"], result["normalizer"] == "asinh")
    return [*lines, ""]


VALIDATION_FINDINGS: dict[str, list[str]] = {
    "astro-x4": [
        "- Faint-source photometry and catalogues: on a 512² ground-seeing galaxy field (`srsci "
        "simulate --scene galaxies --size 512 --preset ground-seeing`, `srsci upscale --model "
        "astro-x4`, `srsci evaluate --astro --model astro-x4`) the median |Δmag| of aperture "
        "photometry is 0.39 mag at LR S/N < 5 and 0.08 mag at S/N 10–20 (bicubic 0.54 and "
        "0.05); injected point sources are recovered at 5 LR σ as often as with bicubic "
        "(43 % at S/N 5–8, all above 8). The sky noise is mostly removed (sky RMS 0.14 LR σ), "
        "so a catalogue run on the output with its own σ finds ~0.7 spurious sources per "
        "1000 LR px² of pure noise and ~2.3 false detections per 1000 LR px² around injected "
        "sources (bicubic 0): threshold catalogues on the LR noise, not the output's.",
        "- Space-telescope data: trained on both degradations, it has to guess from each patch "
        "how much to sharpen and over-sharpens crowded diffraction-limited fields (the "
        "space-diffraction rows above); `astro-x4-space`, the default for FITS whose TELESCOP "
        "is a space telescope, does better there (see its card).",
    ],
}
"""Findings of ``srsci evaluate --astro`` for a model, with the commands that produced them."""


def _measured(row: dict[str, Any], degradation: str, nonlinear: bool) -> list[str]:
    """Failure bullets from a non-OOD row: PSNR below bicubic, flux off by more than 5 %."""
    model, bicubic = row["scores"]["model"], row["scores"]["bicubic"]
    where = f"{row['image']} ({row['set']}, {degradation})"
    lines = []
    if row["set"] != "OOD" and model["psnr"] < bicubic["psnr"]:
        normed = (
            f"; in normalised (asinh) units {model['psnr_normalized']:.2f} vs "
            f"{bicubic['psnr_normalized']:.2f} dB"
            if nonlinear
            else ""
        )
        lines.append(
            f"- Measured on {where}: PSNR below bicubic ({model['psnr']:.2f} vs "
            f"{bicubic['psnr']:.2f} dB{normed})."
        )
    if row["set"] != "OOD" and abs(model["flux_ratio"] - 1) > 0.05:
        lines.append(
            f"- Measured on {where}: total flux off by {100 * (model['flux_ratio'] - 1):+.1f} % "
            f"(bicubic {100 * (bicubic['flux_ratio'] - 1):+.1f} %): do not measure fluxes or "
            "intensities on the output."
        )
    return lines


def render_card(result: dict[str, Any]) -> str:
    """The Markdown model card of one evaluated model (a ``evaluate_model`` result)."""
    name, scale = result["name"], result["scale"]
    goals = [
        f"{e['spec']['name']}: {'met' if e['goal']['met'] else 'NOT met'} "
        f"({e['goal']['psnr_gain_over_bicubic_db']:+.2f} dB)"
        for e in result["degradations"]
    ]
    verdict = "met" if result["goal_met"] else "**not met**"
    lines = [
        f"# {name}",
        "",
        f"Quality goal (real images, each trained degradation: >= +2 dB PSNR over bicubic, "
        f"higher SSIM, better than RL+bicubic): {verdict} — {'; '.join(goals)}.",
        "",
        *_what_it_does(result),
        *_training(name, result),
        *_evaluation(name, result),
        "## Intended use",
        "",
        DOMAIN_TEXT[result["domain"]][1].format(scale=scale),
        "",
        *_failure_modes(result),
        "## How to retrain",
        "",
        f"`python -m benchmarks.train_zoo {name} --install` (simulates the data of the "
        "recipe, trains, installs the bundle), then "
        f"`python -m benchmarks.model_cards {name} --write-cards` to re-measure this card.",
    ]
    return "\n".join(lines) + "\n"


def write_card(result: dict[str, Any]) -> None:
    """Write the card of ``result["name"]`` into its bundle directory."""
    (resolve_model(result["name"]) / CARD_FILE).write_text(render_card(result), encoding="utf-8")
