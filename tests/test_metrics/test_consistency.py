import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from srgan_sci.degrade.chain import degrade
from srgan_sci.degrade.scenes import render_scene
from srgan_sci.degrade.spec import preset
from srgan_sci.infer.tiling import BicubicModel, upscale_plane_numpy
from srgan_sci.metrics.consistency import (
    data_consistency,
    lr_pedestal,
    noise_sigma_lr,
    reblur_and_bin,
)

CASES = {"ground-seeing": "stars", "confocal": "nuclei"}


def _units(spec):
    return spec.scale**2 if spec.binning == "sum" else 1.0


@pytest.fixture(scope="module", params=sorted(CASES))
def simulated(request):
    spec = preset(request.param)
    hr = render_scene(CASES[request.param], (512, 512), seed=3)
    hr_adu, lr = degrade(hr, spec, seed=1)
    return spec, hr, hr_adu * np.float32(_units(spec)), lr


def test_perfect_prediction_has_unit_chi2(simulated):
    spec, _, truth, lr = simulated
    result = data_consistency(truth, lr, spec)
    assert result.chi2_per_pixel == pytest.approx(1.0, rel=0.05)
    assert result.residual_rms_sigma == pytest.approx(1.0, rel=0.05)
    sigma = noise_sigma_lr(reblur_and_bin(truth, spec) + lr_pedestal(spec), spec)
    assert result.residual_rms == pytest.approx(np.sqrt(np.mean(sigma**2)), rel=0.05)
    assert result.flux_ratio == pytest.approx(1.0, abs=0.01)
    assert result.residual.shape == lr.shape


def test_blurred_and_bicubic_predictions_are_inconsistent(simulated):
    spec, hr, _, _ = simulated
    spec = spec.with_overrides(photons=3000.0)  # bright enough for structure to dominate
    hr_adu, lr = degrade(hr, spec, seed=1)
    truth = hr_adu * np.float32(_units(spec))
    perfect = data_consistency(truth, lr, spec).chi2_per_pixel
    blurred = data_consistency(gaussian_filter(truth, 3.0), lr, spec).chi2_per_pixel
    bicubic = upscale_plane_numpy(BicubicModel(spec.scale), lr)
    interpolated = data_consistency(bicubic, lr, spec).chi2_per_pixel
    assert perfect == pytest.approx(1.0, rel=0.05)
    assert blurred > 1.5 * perfect
    assert interpolated > 1.5 * perfect


def test_noise_free_chain_is_reproduced_exactly(simulated):
    spec, hr, _, _ = simulated
    spec = spec.with_overrides(poisson=False, read_noise=0.0)
    hr_adu, lr = degrade(hr, spec, seed=1)
    result = data_consistency(hr_adu * np.float32(_units(spec)), lr, spec)
    assert result.residual_rms < 1e-5 * np.abs(lr).max()
    assert result.chi2_per_pixel is None  # sigma is zero everywhere
    assert np.isnan(result.residual_rms_sigma)


def test_noise_false_gives_no_chi2(simulated):
    spec, _, truth, lr = simulated
    result = data_consistency(truth, lr, spec, noise=False)
    assert result.chi2_per_pixel is None
    assert np.isnan(result.residual_rms_sigma)


@pytest.mark.parametrize("binning", ["sum", "mean"])
def test_constant_is_kept_by_block_mean(binning):
    spec = preset("confocal").with_overrides(binning=binning)
    out = reblur_and_bin(np.full((40, 48), 3.0), spec)
    assert out.shape == (10, 12)
    np.testing.assert_allclose(out, 3.0, rtol=1e-12)


def test_nan_blocks_only():
    spec = preset("confocal")
    rng = np.random.default_rng(0)
    image = rng.uniform(1, 2, size=(64, 64))
    holed = image.copy()
    holed[21, 30] = np.nan
    out = reblur_and_bin(holed, spec)
    assert np.isnan(out[5, 7])
    assert np.isfinite(np.delete(out.ravel(), 5 * 16 + 7)).all()
    filled = image.copy()
    filled[21, 30] = 0.0
    expected = reblur_and_bin(filled, spec)
    expected[5, 7] = np.nan
    np.testing.assert_allclose(out, expected, equal_nan=True)


def test_sigma_matches_detector_model():
    spec = preset("ground-seeing")  # gain 2, sky 100 e- subtracted, read noise 5 e-
    expected_lr = np.array([0.0, 50.0])  # ADU, sky-subtracted: 0 and 100 signal e-
    sigma = noise_sigma_lr(expected_lr, spec)
    np.testing.assert_allclose(sigma**2, (np.array([0, 100]) + 100 + 25) / 4)
    quiet = spec.with_overrides(poisson=False)
    np.testing.assert_allclose(noise_sigma_lr(expected_lr, quiet), 2.5)
    raw = spec.with_overrides(subtract_offset=False, subtract_sky=False)
    assert lr_pedestal(raw) == 1000 + 50
    np.testing.assert_allclose(noise_sigma_lr(expected_lr + 1050, raw), sigma)


def test_mismatched_shapes_raise():
    spec = preset("confocal")
    with pytest.raises(ValueError, match="scale"):
        data_consistency(np.ones((16, 16)), np.ones((5, 4)), spec)
    with pytest.raises(ValueError, match="divisible"):
        reblur_and_bin(np.ones((15, 16)), spec)
