import numpy as np
import pytest
from scipy import ndimage
from skimage import data
from skimage.metrics import normalized_root_mse, peak_signal_noise_ratio, structural_similarity

from srgan_sci.errors import SrsciError
from srgan_sci.metrics import (
    MetricError,
    default_data_range,
    mae,
    metrics_table,
    nrmse,
    psnr,
    ssim,
    ssim_map,
)

R = 5  # SSIM window radius


def sk_ssim(truth, pred, data_range, full=False):
    return structural_similarity(
        truth,
        pred,
        data_range=data_range,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        full=full,
    )


def random_pair(shape, seed=0, scale=1.0, noise=0.2):
    rng = np.random.default_rng(seed)
    truth = ndimage.gaussian_filter(rng.normal(size=shape), 2.0) * scale
    return truth, truth + rng.normal(0.0, noise * scale, shape)


def camera_pair(seed=0):
    truth = data.camera().astype(np.float64)
    rng = np.random.default_rng(seed)
    return truth, ndimage.gaussian_filter(truth, 1.0) + rng.normal(0.0, 8.0, truth.shape)


PAIRS = {
    "random-square": random_pair((64, 64)),
    "random-wide": random_pair((40, 97), seed=1, scale=300.0),
    "camera": camera_pair(),
    "moon": (data.moon().astype(np.float64), data.moon().astype(np.float64)[::-1] * 0.5 + 20),
}


@pytest.mark.parametrize("name", sorted(PAIRS))
@pytest.mark.parametrize("data_range", [1.0, 255.0, 4000.0])
def test_matches_skimage(name, data_range):
    truth, pred = PAIRS[name]
    assert psnr(truth, pred, data_range=data_range) == pytest.approx(
        peak_signal_noise_ratio(truth, pred, data_range=data_range), abs=1e-6
    )
    assert ssim(truth, pred, data_range=data_range) == pytest.approx(
        sk_ssim(truth, pred, data_range), abs=1e-6
    )
    for normalization in ("euclidean", "min-max", "mean"):
        expected = normalized_root_mse(truth, pred, normalization=normalization)
        assert nrmse(truth, pred, normalization=normalization) == pytest.approx(expected, abs=1e-6)
    assert mae(truth, pred) == pytest.approx(np.mean(np.abs(truth - pred)), abs=1e-12)


@pytest.mark.parametrize("crop", [1, 4, 13])
def test_crop_matches_skimage_on_cropped_arrays(crop):
    truth, pred = camera_pair(seed=3)
    t, p = truth[crop:-crop, crop:-crop], pred[crop:-crop, crop:-crop]
    assert psnr(truth, pred, data_range=255, crop=crop) == pytest.approx(
        peak_signal_noise_ratio(t, p, data_range=255), abs=1e-6
    )
    assert ssim(truth, pred, data_range=255, crop=crop) == pytest.approx(
        sk_ssim(t, p, 255), abs=1e-6
    )
    assert nrmse(truth, pred, crop=crop) == pytest.approx(normalized_root_mse(t, p), abs=1e-6)
    assert mae(truth, pred, crop=crop) == pytest.approx(np.mean(np.abs(t - p)), abs=1e-12)
    assert ssim(truth, pred, data_range=255, crop=crop) != ssim(truth, pred, data_range=255)


def test_float32_input_is_computed_in_float64():
    truth, pred = random_pair((48, 48), seed=2)
    t32, p32 = truth.astype(np.float32), pred.astype(np.float32)
    t64, p64 = t32.astype(np.float64), p32.astype(np.float64)
    assert ssim(t32, p32, data_range=1.0) == ssim(t64, p64, data_range=1.0)
    assert psnr(t32, p32, data_range=1.0) == psnr(t64, p64, data_range=1.0)
    assert ssim_map(t32, p32, data_range=1.0).dtype == np.float64


def test_ssim_map_interior_equals_skimage_full_map_and_border_is_nan():
    truth, pred = random_pair((50, 61), seed=4)
    local = ssim_map(truth, pred, data_range=2.0)
    _, full = sk_ssim(truth, pred, 2.0, full=True)
    assert local.shape == truth.shape
    np.testing.assert_allclose(local[R:-R, R:-R], full[R:-R, R:-R], rtol=0, atol=1e-12)
    border = np.ones(truth.shape, bool)
    border[R:-R, R:-R] = False
    assert np.isnan(local[border]).all()
    assert np.isfinite(local[~border]).all()


def test_nan_pixels_are_excluded_from_pixel_metrics():
    truth, pred = random_pair((40, 40), seed=5)
    truth[3, 4], pred[10, 20:25] = np.nan, np.nan
    valid = np.isfinite(truth) & np.isfinite(pred)
    t, p = truth[valid], pred[valid]
    assert mae(truth, pred) == pytest.approx(np.mean(np.abs(t - p)), rel=1e-12)
    assert psnr(truth, pred, data_range=3.0) == pytest.approx(
        10 * np.log10(9.0 / np.mean((t - p) ** 2)), rel=1e-12
    )
    assert nrmse(truth, pred) == pytest.approx(
        np.sqrt(np.mean((t - p) ** 2) / np.mean(t**2)), rel=1e-12
    )


def test_ssim_excludes_every_window_touching_nan():
    truth, pred = random_pair((80, 90), seed=6)
    holes = np.zeros(truth.shape, bool)
    holes[30, 40] = holes[60:63, 10:12] = holes[8, 85] = True
    truth_nan = np.where(holes, np.nan, truth)
    pred_nan = np.where(holes[::-1, ::-1], np.nan, pred)
    invalid = np.isnan(truth_nan) | np.isnan(pred_nan)
    # Any fill value must give the same result if the windows touching holes are dropped.
    fill = np.random.default_rng(0).normal(0, 1e3, truth.shape)
    _, full = sk_ssim(np.where(invalid, fill, truth), np.where(invalid, -fill, pred), 2.0, True)
    keep = ~ndimage.binary_dilation(invalid, np.ones((11, 11), bool))
    keep[:R], keep[-R:], keep[:, :R], keep[:, -R:] = False, False, False, False
    local = ssim_map(truth_nan, pred_nan, data_range=2.0)
    np.testing.assert_array_equal(np.isfinite(local), keep)
    np.testing.assert_allclose(local[keep], full[keep], rtol=0, atol=1e-12)
    assert ssim(truth_nan, pred_nan, data_range=2.0) == pytest.approx(full[keep].mean(), abs=1e-12)


def test_ssim_window_reach_is_exactly_five_pixels():
    truth, pred = random_pair((41, 41), seed=7)
    truth[20, 20] = np.nan
    local = ssim_map(truth, pred, data_range=1.0)
    assert np.isnan(local[20, 25]) and np.isnan(local[15, 15])
    assert np.isfinite(local[20, 26]) and np.isfinite(local[14, 20])


def test_all_nan_raises():
    truth, pred = random_pair((20, 20))
    nan = np.full_like(truth, np.nan)
    for metric in (mae, nrmse):
        with pytest.raises(MetricError, match="finite"):
            metric(nan, pred)
    with pytest.raises(MetricError, match="finite"):
        psnr(truth, nan, data_range=1.0)
    with pytest.raises(MetricError, match="finite"):
        ssim(nan, nan, data_range=1.0)
    holes = truth.copy()
    holes[::8, ::8] = np.nan  # every 11x11 window touches a hole
    with pytest.raises(MetricError, match="window"):
        ssim(holes, pred, data_range=1.0)


def test_identical_images():
    truth, _ = camera_pair()
    table = metrics_table(truth, truth.copy(), data_range=255.0)
    assert table == {"psnr": np.inf, "ssim": 1.0, "nrmse": 0.0, "mae": 0.0}


def test_metrics_table_equals_single_metrics():
    truth, pred = random_pair((64, 70), seed=8, scale=50.0)
    table = metrics_table(truth, pred, data_range=100.0, crop=3)
    assert list(table) == ["psnr", "ssim", "nrmse", "mae"]
    assert table["psnr"] == psnr(truth, pred, data_range=100.0, crop=3)
    assert table["ssim"] == ssim(truth, pred, data_range=100.0, crop=3)
    assert table["nrmse"] == nrmse(truth, pred, crop=3)
    assert table["mae"] == mae(truth, pred, crop=3)


def test_data_range_is_required_and_validated():
    truth, pred = random_pair((16, 16))
    with pytest.raises(TypeError):
        psnr(truth, pred)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        ssim(truth, pred, 1.0)  # type: ignore[misc]
    for bad in (0, -1.0, np.nan, np.inf, "wide"):
        with pytest.raises(MetricError, match="data_range"):
            psnr(truth, pred, data_range=bad)


@pytest.mark.parametrize(
    ("truth_shape", "pred_shape", "crop", "match"),
    [
        ((16, 16), (16, 17), 0, "same shape"),
        ((16, 16, 3), (16, 16, 3), 0, "2-D"),
        ((16, 16), (16, 16), 8, "smaller"),
        ((16, 16), (16, 16), -1, "crop"),
        ((16, 16), (16, 16), 1.5, "crop"),
    ],
)
def test_bad_shapes_and_crops_raise(truth_shape, pred_shape, crop, match):
    with pytest.raises(MetricError, match=match):
        mae(np.zeros(truth_shape), np.zeros(pred_shape), crop=crop)


def test_ssim_needs_an_11_pixel_image_after_crop():
    truth, pred = random_pair((24, 24))
    assert np.isfinite(ssim(truth, pred, data_range=1.0, crop=6))
    with pytest.raises(MetricError, match="11 px"):
        ssim(truth, pred, data_range=1.0, crop=7)
    with pytest.raises(MetricError, match="11 px"):
        ssim_map(truth[:10], pred[:10], data_range=1.0)


def test_unknown_nrmse_normalization_raises():
    with pytest.raises(MetricError, match="normalization"):
        nrmse(np.ones((4, 4)), np.ones((4, 4)), normalization="max")


def test_metric_error_is_a_project_value_error():
    assert issubclass(MetricError, SrsciError) and issubclass(MetricError, ValueError)


def test_default_data_range_is_robust_percentile_spread():
    rng = np.random.default_rng(9)
    sky = rng.normal(-20.0, 5.0, (200, 200))  # negative sky
    expected = np.subtract(*np.percentile(sky, [99.9, 0.1]))
    assert default_data_range(sky) == pytest.approx(expected, rel=1e-12)
    hot = sky.copy()
    hot[5, 5], hot[6, 6] = 1e9, np.nan  # a hot pixel and a masked one
    assert default_data_range(hot) == pytest.approx(expected, rel=0.02)
    assert default_data_range(hot, (0, 100)) == pytest.approx(1e9 - np.nanmin(hot))
    assert default_data_range(np.arange(11.0), (10, 90)) == pytest.approx(8.0)


@pytest.mark.parametrize(
    ("values", "percentiles", "match"),
    [
        (np.full((4, 4), np.nan), (0.1, 99.9), "no finite"),
        (np.ones((4, 4)), (0.1, 99.9), "both"),
        (np.arange(16.0), (50, 10), "percentiles"),
    ],
)
def test_default_data_range_errors(values, percentiles, match):
    with pytest.raises(MetricError, match=match):
        default_data_range(values, percentiles)
