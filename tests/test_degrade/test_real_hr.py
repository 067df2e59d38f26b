"""The degradation chain on real HR observations: PSF matching and the noise difference."""

import dask.array as da
import numpy as np
import pytest

from srgan_sci.degrade.camera import noise_variance_adu
from srgan_sci.degrade.chain import degrade, degrade_lazy
from srgan_sci.degrade.matching import MatchingError, inherited_variance, psf_matching_kernel
from srgan_sci.degrade.psf import PSFSpec, parse_psf
from srgan_sci.degrade.spec import DegradationSpec, preset

LEVEL = 10.0
"""Constant HR level of the flat test images (input units per HR pixel)."""


def _real_spec(name: str, **overrides) -> DegradationSpec:
    return preset(name).with_overrides(hr_psf=parse_psf("gaussian:fwhm=2"), **overrides)


def _flat_with_noise(spec: DegradationSpec, fraction: float, seed: int = 1):
    """Flat HR image with white noise bringing ``fraction`` of the read-noise variance."""
    kernel = psf_matching_kernel(spec.hr_psf, spec.psf)
    binned_level = LEVEL * (spec.scale**2 if spec.binning == "sum" else 1)
    factor = spec.photons / binned_level
    unit = inherited_variance(kernel, spec.scale, spec.binning)
    sigma = float(np.sqrt(fraction * spec.read_noise**2 / (factor**2 * unit)))
    noise = np.random.default_rng(seed).normal(0.0, sigma, (1024, 1024))
    margin = kernel.shape[0] // 2 // spec.scale + 2
    return (LEVEL + noise).astype(np.float32), sigma, margin


@pytest.mark.parametrize(
    "name, overrides",
    [("ground-seeing", {}), ("widefield-lowlight", {"read_noise": 4.0})],
    ids=["sum-binning", "mean-binning"],
)
def test_lr_noise_of_a_noisy_flat_hr_image_meets_the_target(name, overrides):
    spec = _real_spec(name, **overrides)
    hr, sigma, margin = _flat_with_noise(spec, fraction=0.6)
    target = noise_variance_adu(
        spec.photons, sky=spec.sky, read_noise=spec.read_noise, gain=spec.gain
    )

    pair = degrade_lazy(da.from_array(hr), spec, seed=3, hr_noise=sigma)
    lr = pair.lr.compute(scheduler="synchronous")[margin:-margin, margin:-margin]
    assert lr.size > 30_000
    assert np.var(lr) == pytest.approx(target, rel=0.03)
    # the photon factor comes from the noisy image's mean, so not exactly 0.6
    assert pair.inherited_variance == pytest.approx(0.6 * spec.read_noise**2 / spec.gain**2, 0.01)
    assert pair.read_noise == pytest.approx(np.sqrt(0.4) * spec.read_noise, rel=0.02)

    # without the correction the full read noise comes on top of the HR noise: too noisy
    _, uncorrected = degrade(hr, spec, seed=3)
    assert np.var(uncorrected[margin:-margin, margin:-margin]) > 1.06 * target


def test_hr_noise_above_the_read_noise_budget_is_refused():
    spec = _real_spec("ground-seeing")
    hr, sigma, _ = _flat_with_noise(spec, fraction=1.5)
    with pytest.raises(MatchingError, match="more than the read-noise variance"):
        degrade(hr, spec, hr_noise=sigma)


def test_matching_kernel_replaces_the_target_psf_in_the_chain():
    spec = _real_spec("ground-seeing")
    pair = degrade_lazy(da.zeros((64, 64), dtype=np.float32) + 1, spec)
    assert pair.kernel_fwhm == pytest.approx(np.sqrt(6.0**2 - 2.0**2), rel=0.05)
    broad = spec.with_overrides(hr_psf=PSFSpec(kind="gaussian", fwhm=7.0))
    with pytest.raises(MatchingError, match="not narrower"):
        degrade_lazy(da.ones((64, 64), dtype=np.float32), broad)


def test_spec_round_trips_hr_psf_and_reads_old_dicts():
    spec = _real_spec("confocal")
    data = spec.to_dict()
    assert data["hr_psf"]["fwhm"] == 2.0
    assert DegradationSpec.from_dict(data) == spec
    old = preset("confocal").to_dict()
    assert "hr_psf" not in old  # specs without it serialise as before
    assert DegradationSpec.from_dict(old).hr_psf is None
