import dataclasses

import dask.array as da
import numpy as np
import pytest
from scipy.signal import fftconvolve

from srgan_sci.degrade.camera import noise_variance_adu
from srgan_sci.degrade.chain import degrade, degrade_lazy
from srgan_sci.degrade.psf import PSFSpec, render_psf
from srgan_sci.degrade.spec import DegradationSpec, SpecError, preset


def _field(shape=(96, 128), seed=3):
    rng = np.random.default_rng(seed)
    image = rng.gamma(1.5, 20.0, size=shape).astype(np.float32)
    image[20:30, 40:60] += 500.0
    return image


def _noise_free(spec: DegradationSpec) -> DegradationSpec:
    return dataclasses.replace(spec, poisson=False, read_noise=0.0)


def test_chunked_equals_in_memory_bit_for_bit():
    hr = _field((2, 600, 520))
    spec = preset("widefield-lowlight").with_overrides(scale=2)
    _, in_memory = degrade(hr, spec, seed=5)
    pair = degrade_lazy(da.from_array(hr, chunks=(1, 97, 131)), spec, seed=5)
    np.testing.assert_array_equal(pair.lr.compute(), in_memory)
    assert in_memory.shape == (2, 300, 260) and in_memory.dtype == np.float32


def test_noise_free_chain_matches_an_independent_reference():
    hr = _field((96, 120))
    spec = _noise_free(
        DegradationSpec(scale=3, psf=PSFSpec(kind="gaussian", fwhm=3.0), binning="sum", offset=10.0)
    )
    _, lr = degrade(hr, spec)
    psf = render_psf(spec.psf)
    radius = psf.shape[0] // 2
    blurred = fftconvolve(np.pad(hr.astype(np.float64), radius, mode="symmetric"), psf, "valid")
    reference = blurred.reshape(32, 3, 40, 3).sum(axis=(1, 3))
    np.testing.assert_allclose(lr, reference, rtol=1e-5, atol=1e-3)


def test_photon_budget_sets_the_mean_signal():
    spec = _noise_free(preset("confocal").with_overrides(photons=37.0))
    hr_adu, lr = degrade(_field((128, 128)), spec)
    assert lr.mean() * spec.gain == pytest.approx(37.0 + spec.sky, rel=1e-3)
    assert hr_adu.reshape(32, 4, 32, 4).mean(axis=(1, 3)).mean() == pytest.approx(37.0, rel=1e-3)


def test_noise_in_lr_matches_the_detector_model():
    spec = preset("ground-seeing")
    flat = np.full((1024, 1024), 3.0, dtype=np.float32)
    _, lr = degrade(flat, spec, seed=11)
    signal = spec.photons
    expected = noise_variance_adu(signal, sky=spec.sky, read_noise=spec.read_noise, gain=spec.gain)
    inner = lr[8:-8, 8:-8]
    assert np.var(inner) == pytest.approx(expected, rel=0.03)
    # sky-subtracted, offset-subtracted readout: mean is the signal in ADU
    assert np.mean(inner) == pytest.approx(signal / spec.gain, rel=0.01)


def test_seeds_reproduce_and_differ():
    hr = _field((64, 64))
    spec = preset("space-diffraction")
    first, second = degrade(hr, spec, seed=1)[1], degrade(hr, spec, seed=1)[1]
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, degrade(hr, spec, seed=2)[1])


def test_nan_pixels_mask_their_lr_block_only():
    hr = _field((64, 64))
    hr[10, 13] = np.nan
    _, lr = degrade(hr, preset("confocal"))
    assert np.isnan(lr[2, 3])
    assert np.isnan(lr).sum() == 1


def test_scale_that_does_not_divide_is_a_clear_error():
    with pytest.raises(SpecError, match="not divisible by scale 4; crop it to 96x96"):
        degrade(np.ones((99, 97), np.float32), preset("confocal"))
