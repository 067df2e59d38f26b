"""Validation checks that run a model (6, 7) and the protocol without a truth."""

import numpy as np
import pytest
import torch
from torch import nn

from srgan_sci.astro_validation import astro_protocol
from srgan_sci.baselines import upscale_baseline
from srgan_sci.degrade.chain import degrade
from srgan_sci.degrade.scenes import synthetic_scene
from srgan_sci.degrade.spec import preset
from srgan_sci.validation_runs import (
    ModelRunner,
    bicubic_runner,
    hallucination_check,
    model_runner,
    seams_check,
)


class BlindBlur(nn.Module):
    """A 7x7 box blur then nearest x4 upsampling that claims it needs no halo: seams."""

    scale = 4
    receptive_field_radius = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        blurred = nn.functional.avg_pool2d(x, 7, stride=1, padding=3, count_include_pad=True)
        return nn.functional.interpolate(blurred, scale_factor=4, mode="nearest")


@pytest.fixture(scope="module")
def lr():
    spec = preset("ground-seeing").with_overrides(photons=300.0)
    scene = synthetic_scene("galaxies", (256, 256), seed=2).compute()
    return degrade(scene, spec, seed=1)[1]


def test_runner_matches_the_baseline_and_does_not_depend_on_chunks(lr):
    runner = bicubic_runner(4)
    whole = runner(lr)
    np.testing.assert_allclose(whole, upscale_baseline("bicubic", lr, 4), atol=1e-4)
    np.testing.assert_allclose(runner(lr, chunk=24), whole, atol=1e-4)


def test_a_deterministic_tiled_model_has_no_seams(lr):
    summary, arrays = seams_check(bicubic_runner(4), lr)
    assert summary["max_abs_diff_over_range"] < 1e-5
    assert summary["grid_peak_ratio"] == pytest.approx(1.0, abs=0.2)
    assert arrays["difference"].shape == (256, 256)


def test_a_model_without_enough_halo_has_seams(lr):
    runner = ModelRunner(BlindBlur().eval(), None, "cpu", "blind")
    summary, _ = seams_check(runner, lr, chunk=16)
    assert summary["max_abs_diff_over_range"] > 0.01
    assert summary["grid_peak_max"] > 2.0


def test_hallucination_check_counts_sources_for_every_method():
    spec = preset("ground-seeing")
    summary, images = hallucination_check(
        bicubic_runner(4), spec, lr_shape=(64, 64), seed=3, baselines=("richardson-lucy",)
    )
    assert set(summary) == set(images) == {"bicubic", "richardson-lucy"}
    bicubic = summary["bicubic"]
    assert bicubic["injected"] == 25
    assert bicubic["pure_noise_per_1000_lr_px2"] <= 0.5
    assert bicubic["own_sigma_pure_noise_per_1000_lr_px2"] <= 0.5
    assert bicubic["completeness"][-1]["fraction"] == 1.0
    assert images["bicubic"].shape == (256, 256)


def test_protocol_without_truth_runs_the_checks_that_need_none(lr, tmp_path):
    spec = preset("ground-seeing").with_overrides(photons=300.0)
    sr = upscale_baseline("bicubic", lr, 4)
    result = astro_protocol(
        None,
        {"bicubic": sr},
        lr=lr,
        scale=4,
        spec=spec,
        model_runner=bicubic_runner(4),
        figures_dir=tmp_path,
    )
    assert set(result.details) == {
        "consistency", "effective_psf", "noise", "hallucination", "seams"
    }  # fmt: skip
    assert "SRPSFN" in result.details["effective_psf"]["header"]
    assert result.details["noise"]["methods"]["bicubic"]["sky_rms"] > 0
    assert set(result.figures) == {f"astro_{key}" for key in result.details}
    assert all(path.exists() for path in result.figures.values())


def test_model_runner_uses_the_bundles_normaliser():
    from srgan_sci.models.bundle import read_bundle_metadata
    from srgan_sci.zoo import resolve_model

    trained = read_bundle_metadata(resolve_model("astro-x4")).normalizer["kind"]
    runner = model_runner("astro-x4", device="cpu")
    assert (runner.scale, runner.normalizer_kind, runner.name) == (4, trained, "astro-x4")
    assert trained in ("asinh", "percentile")
