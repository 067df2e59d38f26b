import numpy as np
import pytest

from srgan_sci.degrade.camera import bin_pixels, detect, noise_variance_adu, photon_scale


def test_sum_binning_conserves_total_flux():
    rng = np.random.default_rng(1)
    image = rng.gamma(2.0, 10.0, size=(3, 64, 96)).astype(np.float32)
    binned = bin_pixels(image, 4, "sum")
    assert binned.shape == (3, 16, 24)
    np.testing.assert_allclose(binned.sum(axis=(-2, -1)), image.sum(axis=(-2, -1)), rtol=1e-6)
    np.testing.assert_allclose(binned[0, 0, 0], image[0, :4, :4].sum(), rtol=1e-6)


def test_mean_binning_keeps_intensity_scale():
    image = np.full((12, 12), 7.5, dtype=np.float32)
    binned = bin_pixels(image, 3, "mean")
    assert binned.dtype == np.float32
    np.testing.assert_array_equal(binned, np.full((4, 4), 7.5, dtype=np.float32))


@pytest.mark.parametrize("factor, mode", [(3, "sum"), (0, "sum"), (2, "median")])
def test_binning_rejects_bad_arguments(factor, mode):
    with pytest.raises(ValueError):
        bin_pixels(np.zeros((8, 8), np.float32), factor, mode)


def test_photon_scale_hits_target_and_rejects_empty_images():
    assert photon_scale(4.0, 200.0) == pytest.approx(50.0)
    with pytest.raises(ValueError, match="positive flux"):
        photon_scale(0.0, 100.0)


@pytest.mark.parametrize(
    "signal, sky, read_noise, gain",
    [(15.0, 0.0, 0.0, 1.0), (50.0, 5.0, 1.5, 0.5), (600.0, 100.0, 5.0, 2.0), (2.0, 0.0, 3.0, 1.0)],
)
def test_noise_variance_matches_the_model_within_3_percent(signal, sky, read_noise, gain):
    rng = np.random.default_rng(42)
    electrons = np.full((400, 400), signal)
    adu = detect(electrons, rng, sky=sky, read_noise=read_noise, gain=gain, offset=100.0)
    expected_var = noise_variance_adu(signal, sky=sky, read_noise=read_noise, gain=gain)
    assert adu.dtype == np.float32
    assert np.var(adu) == pytest.approx(expected_var, rel=0.03)
    assert np.mean(adu) == pytest.approx((signal + sky) / gain + 100.0, rel=0.01)


def test_detect_keeps_nan_and_applies_saturation_and_seed():
    electrons = np.full((50, 50), 1000.0)
    electrons[3, 4] = np.nan
    first = detect(electrons, np.random.default_rng(7), gain=1.0, saturation=1010.0)
    second = detect(electrons, np.random.default_rng(7), gain=1.0, saturation=1010.0)
    np.testing.assert_array_equal(first, second)
    assert np.isnan(first[3, 4]) and np.isnan(first).sum() == 1
    assert np.nanmax(first) == pytest.approx(1010.0)


def test_noise_free_readout_is_the_expectation():
    electrons = np.array([[0.0, 10.0], [20.0, 30.0]])
    adu = detect(electrons, np.random.default_rng(0), sky=2.0, gain=2.0, offset=5.0, poisson=False)
    np.testing.assert_allclose(adu, (electrons + 2.0) / 2.0 + 5.0)
