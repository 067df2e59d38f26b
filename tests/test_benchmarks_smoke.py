"""Smoke test of the zoo model-card evaluation (``benchmarks.model_cards``) on one small case."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/ is not installed

from benchmarks import model_cards


def test_astro_model_beats_bicubic_on_a_small_star_field():
    """One 256² held-out star field, ground-seeing: structure of the scores, model > bicubic."""
    from srgan_sci.degrade.scenes import render_scene
    from srgan_sci.models.bundle import read_bundle_metadata
    from srgan_sci.upscale import load_model
    from srgan_sci.zoo import resolve_model

    metadata = read_bundle_metadata(resolve_model("astro-x4"))
    model, _ = load_model("astro-x4", None, "cpu")
    spec = model_cards.trained_specs(metadata)[0]
    hr = render_scene("stars", (256, 256), seed=1000)

    scores = model_cards.evaluate_case(model, metadata.normalizer["kind"], spec, hr)

    assert set(scores) == set(model_cards.METHODS)
    keys = {"psnr", "ssim", "care_psnr", "care_ssim", "frc_resolution", "psnr_normalized"}
    keys.add("flux_ratio")
    for method in model_cards.METHODS:
        assert set(scores[method]) == keys
        assert all(isinstance(v, float) for v in scores[method].values())
    assert scores["model"]["psnr"] > scores["bicubic"]["psnr"]
    rows = [{"image": "stars 1000", "set": "real", "scores": scores}]
    assert set(model_cards.goal_check(rows)) >= {"met", "psnr_gain_over_bicubic_db"}


def test_band_limited_oracle_keeps_smooth_images_and_loses_pixel_noise():
    """The ceiling the cards quote: near-perfect for smooth truth, poor for pixel-scale texture."""
    import numpy as np

    from srgan_sci.degrade.spec import preset

    spec = preset("ground-seeing")
    yy, xx = np.mgrid[:256, :256]
    smooth = 1.0 + np.exp(-((yy - 128.0) ** 2 + (xx - 120.0) ** 2) / (2 * 30.0**2))
    texture = np.random.default_rng(0).uniform(0.5, 1.5, (256, 256))

    # the same truth evaluate_case scores against (HR in ADU, times s² for sum binning)
    hr_adu, _ = model_cards.degrade(texture.astype(np.float32), spec, seed=model_cards.NOISE_SEED)
    texture_truth = model_cards.truth_in_output_units(texture.astype(np.float32), spec)
    np.testing.assert_allclose(texture_truth, hr_adu * spec.scale**2, rtol=1e-6)

    smooth_truth = model_cards.truth_in_output_units(smooth.astype(np.float32), spec)
    assert model_cards.band_limited_psnr(smooth_truth, spec.scale) > 45.0
    assert model_cards.band_limited_psnr(texture_truth, spec.scale) < 15.0
