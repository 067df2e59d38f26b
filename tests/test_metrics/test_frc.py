import dataclasses

import numpy as np
import pytest
from scipy import ndimage
from skimage import data

from srgan_sci.metrics import FRCResult, MetricError, fourier_ring_correlation


def scene(size=256):
    image = data.camera().astype(np.float64)
    top = (image.shape[0] - size) // 2
    return image[top : top + size, top : top + size]


def noisy(image, sigma, seed):
    return image + np.random.default_rng(seed).normal(0.0, sigma, image.shape)


@pytest.mark.parametrize("window", ["hann", "none"])
@pytest.mark.parametrize("bin_width", [1.0, 2.5])
def test_image_with_itself_is_one_in_every_ring(window, bin_width):
    image = scene(128)
    result = fourier_ring_correlation(image, image, window=window, bin_width=bin_width)
    np.testing.assert_allclose(result.correlation, 1.0, rtol=0, atol=1e-9)
    assert not result.crossed
    assert result.resolution == 2.0


def test_frequency_axis():
    result = fourier_ring_correlation(scene(128), scene(128))
    np.testing.assert_allclose(result.frequency, np.arange(65) / 128)
    assert result.frequency[0] == 0 and result.frequency[-1] == 0.5
    assert result.correlation.shape == result.frequency.shape
    wide = fourier_ring_correlation(scene(128), scene(128), bin_width=2.0)
    np.testing.assert_allclose(wide.frequency, np.arange(33) * 2 / 128)
    odd = fourier_ring_correlation(scene(99), scene(99))
    assert odd.frequency[-1] <= 0.5 and odd.frequency.size == 50


def test_independent_noise_is_uncorrelated():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(256, 256)), rng.normal(size=(256, 256))
    result = fourier_ring_correlation(a, b)
    assert abs(np.mean(result.correlation)) < 0.05
    assert np.all(np.abs(result.correlation[8:]) < 0.4)
    assert result.crossed and result.resolution > 20


def test_more_noise_gives_a_coarser_resolution():
    image = scene()
    sigmas = [100.0, 200.0, 400.0, 800.0]
    results = [fourier_ring_correlation(image, noisy(image, s, seed=1)) for s in sigmas]
    resolutions = [r.resolution for r in results]
    assert all(r.crossed for r in results)
    assert all(np.diff(resolutions) > 0), resolutions
    assert 2.0 < resolutions[0] and resolutions[-1] < 128


def test_more_blur_gives_a_coarser_resolution():
    # Two independent noisy acquisitions of the same scene, blurred by a wider and wider PSF.
    image = scene()
    resolutions = []
    for blur in [1.0, 2.0, 4.0]:
        blurred = ndimage.gaussian_filter(image, blur)
        result = fourier_ring_correlation(noisy(blurred, 5.0, 2), noisy(blurred, 5.0, 3))
        assert result.crossed
        resolutions.append(result.resolution)
    assert all(np.diff(resolutions) > 0), resolutions
    # A Gaussian of sigma s passes periods above about 2 pi s / 3 (exp(-2 pi² s² f²) ~ 1e-2).
    assert resolutions[-1] > 2 * np.pi * 4.0 / 3


def test_resolution_is_interpolated_at_the_first_crossing():
    image = scene()
    result = fourier_ring_correlation(image, noisy(image, 300.0, seed=4))
    below = np.flatnonzero(result.correlation[1:] < result.threshold) + 1
    k = below[0]
    assert result.correlation[k - 1] >= result.threshold > result.correlation[k]
    assert 1 / result.frequency[k - 1] > result.resolution > 1 / result.frequency[k]
    c0, c1 = result.correlation[k - 1], result.correlation[k]
    f0, f1 = result.frequency[k - 1], result.frequency[k]
    expected = f0 + (c0 - result.threshold) / (c0 - c1) * (f1 - f0)
    assert result.resolution == pytest.approx(1 / expected, rel=1e-12)


def test_threshold_changes_the_crossing():
    image = scene()
    other = noisy(image, 300.0, seed=5)
    strict = fourier_ring_correlation(image, other, threshold=0.5)
    loose = fourier_ring_correlation(image, other, threshold=0.05)
    assert strict.threshold == 0.5
    assert strict.resolution > loose.resolution


def test_non_square_images_use_the_central_square():
    rng = np.random.default_rng(6)
    a, b = rng.normal(size=(64, 101)), rng.normal(size=(64, 101))
    wide = fourier_ring_correlation(a, b)
    square = fourier_ring_correlation(a[:, 18:82], b[:, 18:82])
    np.testing.assert_array_equal(wide.correlation, square.correlation)


def test_nan_is_replaced_by_the_finite_mean():
    image = scene(64)
    other = noisy(image, 20.0, seed=7)
    holed = image.copy()
    holed[10, 12] = holed[40, 3] = np.nan
    filled = np.where(np.isnan(holed), np.nanmean(holed), holed)
    result = fourier_ring_correlation(holed, other)
    assert np.isfinite(result.correlation).all()
    np.testing.assert_allclose(
        result.correlation, fourier_ring_correlation(filled, other).correlation, atol=1e-12
    )


def test_window_matters_for_non_periodic_images():
    # A ramp has a strong edge discontinuity when treated as periodic.
    ramp = np.add.outer(np.arange(64.0), np.arange(64.0)) * 10
    a, b = noisy(ramp, 1.0, 8), noisy(ramp, 1.0, 9)
    plain = fourier_ring_correlation(a, b, window="none")
    hann = fourier_ring_correlation(a, b)
    assert plain.correlation[20:].mean() > 0.5  # the edge correlates every ring
    assert abs(hann.correlation[20:].mean()) < 0.2


def test_result_is_frozen():
    result = fourier_ring_correlation(scene(32), scene(32))
    assert isinstance(result, FRCResult)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.resolution = 3.0  # type: ignore[misc]


@pytest.mark.parametrize(
    ("a", "b", "options", "match"),
    [
        (np.zeros((32, 32)), np.zeros((32, 33)), {}, "same shape"),
        (np.zeros((4, 4)), np.zeros((4, 4)), {}, "8x8"),
        (np.zeros((32, 32)), np.zeros((32, 32)), {"window": "tukey"}, "window"),
        (np.zeros((32, 32)), np.zeros((32, 32)), {"bin_width": 0.5}, "bin_width"),
        (np.zeros((32, 32)), np.zeros((32, 32)), {"threshold": 1.5}, "threshold"),
        (np.full((32, 32), np.nan), np.zeros((32, 32)), {}, "finite"),
    ],
)
def test_errors(a, b, options, match):
    with pytest.raises(MetricError, match=match):
        fourier_ring_correlation(a, b, **options)
