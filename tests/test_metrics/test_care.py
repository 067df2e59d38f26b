import numpy as np
import pytest
from scipy import ndimage
from skimage import data

from srgan_sci.metrics import (
    MetricError,
    affine_fit,
    care_metrics,
    percentile_normalize,
    psnr,
    ssim,
)


def camera():
    return data.camera().astype(np.float64)


def test_percentile_normalize_maps_percentiles_to_0_and_1():
    rng = np.random.default_rng(0)
    x = rng.normal(100.0, 20.0, (100, 100))
    x[0, 0] = np.nan
    y = percentile_normalize(x, 2, 98)
    finite = y[np.isfinite(y)]
    assert np.isnan(y[0, 0])
    assert np.percentile(finite, [2, 98]) == pytest.approx([0.0, 1.0], abs=1e-12)
    assert finite.min() < 0 and finite.max() > 1  # not clipped
    assert y.dtype == np.float64


@pytest.mark.parametrize(
    ("x", "pmin", "pmax", "match"),
    [
        (np.full((4, 4), np.nan), 0.1, 99.9, "finite"),
        (np.ones((4, 4)), 0.1, 99.9, "both"),
        (np.arange(16.0), 60, 40, "percentiles"),
    ],
)
def test_percentile_normalize_errors(x, pmin, pmax, match):
    with pytest.raises(MetricError, match=match):
        percentile_normalize(x, pmin, pmax)


def test_affine_fit_recovers_scale_and_offset():
    rng = np.random.default_rng(1)
    truth = rng.normal(size=(64, 64))
    pred = (truth - 0.25) / 3.5  # truth = 3.5 * pred + 0.25
    pred[5, 5] = np.nan
    scale, offset = affine_fit(truth, pred)
    assert scale == pytest.approx(3.5, rel=1e-12)
    assert offset == pytest.approx(0.25, rel=1e-12)


def test_affine_fit_is_least_squares_with_noise():
    rng = np.random.default_rng(2)
    pred = rng.normal(size=5000)
    truth = 2.0 * pred - 1.0 + rng.normal(0.0, 0.5, pred.size)
    design = np.stack([pred, np.ones_like(pred)], axis=1)
    expected, *_ = np.linalg.lstsq(design, truth, rcond=None)
    assert affine_fit(truth, pred) == pytest.approx(tuple(expected), rel=1e-10)


def test_affine_fit_constant_prediction_gets_the_mean():
    truth = np.arange(10.0)
    assert affine_fit(truth, np.full(10, 3.0)) == (0.0, pytest.approx(4.5))


def test_affine_fit_errors():
    with pytest.raises(MetricError, match="same shape"):
        affine_fit(np.zeros(3), np.zeros(4))
    with pytest.raises(MetricError, match="finite"):
        affine_fit(np.full(3, np.nan), np.zeros(3))


def test_affine_prediction_scores_perfectly():
    truth = camera()
    pred = -3.2 * truth + 700.0
    result = care_metrics(truth, pred)
    assert set(result) == {"care_nrmse", "care_psnr", "care_ssim", "care_scale", "care_offset"}
    assert result["care_psnr"] > 100
    assert result["care_nrmse"] < 1e-10
    assert result["care_ssim"] == pytest.approx(1.0, abs=1e-10)
    low, high = np.percentile(truth, [0.1, 99.9])
    assert result["care_scale"] == pytest.approx(-1 / (3.2 * (high - low)), rel=1e-10)


def test_care_metrics_are_invariant_to_affine_changes_of_the_prediction():
    truth = camera()
    rng = np.random.default_rng(3)
    pred = ndimage.gaussian_filter(truth, 1.5) + rng.normal(0.0, 5.0, truth.shape)
    first, second = care_metrics(truth, pred), care_metrics(truth, 0.01 * pred - 42.0)
    for key in ("care_nrmse", "care_psnr", "care_ssim"):
        assert second[key] == pytest.approx(first[key], rel=1e-9)
    assert second["care_scale"] == pytest.approx(100 * first["care_scale"], rel=1e-9)
    # ... which the raw metrics are not.
    assert psnr(truth, 0.01 * pred - 42.0, data_range=255) < psnr(truth, pred, data_range=255) - 10


def test_care_metrics_definitions():
    truth = camera()[100:228, 200:328]
    rng = np.random.default_rng(4)
    pred = truth * 0.8 + 10 + rng.normal(0.0, 10.0, truth.shape)
    pred[3, 3] = np.nan
    result = care_metrics(truth, pred)
    truth_n = percentile_normalize(truth)
    fitted = result["care_scale"] * pred + result["care_offset"]
    valid = np.isfinite(fitted)
    rmse = np.sqrt(np.mean((truth_n[valid] - fitted[valid]) ** 2))
    assert result["care_nrmse"] == pytest.approx(rmse, rel=1e-12)
    assert result["care_psnr"] == pytest.approx(-20 * np.log10(rmse), rel=1e-12)
    assert result["care_ssim"] == ssim(truth_n, fitted, data_range=1.0)
    assert 0 < result["care_ssim"] < 1


def test_care_metrics_crop_equals_metrics_of_cropped_images():
    truth = camera()
    pred = ndimage.gaussian_filter(truth, 2.0)
    truth[:4] = 0.0  # a border artefact that crop=8 removes
    assert care_metrics(truth, pred, crop=8) == pytest.approx(
        care_metrics(truth[8:-8, 8:-8], pred[8:-8, 8:-8]), rel=1e-12
    )
    assert care_metrics(truth, pred, crop=8)["care_psnr"] > care_metrics(truth, pred)["care_psnr"]


def test_care_metrics_shape_errors():
    with pytest.raises(MetricError, match="same shape"):
        care_metrics(np.zeros((20, 20)), np.zeros((20, 21)))
    with pytest.raises(MetricError, match="smaller"):
        care_metrics(np.zeros((20, 20)), np.zeros((20, 20)), crop=10)
