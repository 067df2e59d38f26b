import numpy as np
import pytest
from astropy.io import fits
from scipy.signal import fftconvolve

from srgan_sci.degrade.camera import bin_pixels
from srgan_sci.degrade.matching import (
    MatchingError,
    estimate_noise_sigma,
    inherited_variance,
    kernel_fwhm,
    matching_kernel,
    psf_matching_kernel,
    reduced_read_noise,
)
from srgan_sci.degrade.psf import measure_fwhm, parse_psf, render_psf


@pytest.mark.parametrize(
    "hr_psf, target",
    [
        ("gaussian:fwhm=2", "gaussian:fwhm=4"),
        ("gaussian:fwhm=2", "moffat:fwhm=6,beta=3.5"),
        ("moffat:fwhm=2.5,beta=3", "airy:fwhm=5"),
        ("gaussian:fwhm=2", "airy:fwhm=2.5"),
        ("airy:fwhm=2.5", "moffat:fwhm=6,beta=3.5"),
    ],
)
def test_point_source_through_the_matching_kernel_has_the_target_fwhm(hr_psf, target):
    source, goal = parse_psf(hr_psf), parse_psf(target)
    kernel = psf_matching_kernel(source, goal)
    assert kernel.shape[0] % 2 == 1 and kernel.sum() == pytest.approx(1.0)
    # a point source observed with the HR PSF, on a grid wider than the kernel
    point = render_psf(source, radius=kernel.shape[0] // 2 + 20)
    matched = fftconvolve(point, kernel, mode="same")
    fwhm = measure_fwhm(matched)
    assert fwhm == pytest.approx(goal.resolved_fwhm(), rel=0.03)
    assert fwhm == pytest.approx(measure_fwhm(render_psf(goal)), rel=0.03)


def test_gaussian_matching_kernel_is_the_quadrature_difference():
    kernel = psf_matching_kernel(parse_psf("gaussian:fwhm=3"), parse_psf("gaussian:fwhm=5"))
    # continuous widths add in quadrature; pixel integration makes it inexact by a little
    assert kernel_fwhm(kernel) == pytest.approx(4.0, rel=0.05)


def test_file_hr_psf_is_matched(tmp_path):
    path = tmp_path / "hr_psf.fits"
    fits.writeto(path, render_psf(parse_psf("gaussian:fwhm=2.5"), radius=15).astype(np.float32))
    source, goal = parse_psf(f"file:{path}"), parse_psf("moffat:fwhm=6,beta=3.5")
    kernel = psf_matching_kernel(source, goal)
    matched = fftconvolve(render_psf(source, radius=kernel.shape[0] // 2), kernel, mode="same")
    assert measure_fwhm(matched) == pytest.approx(6.0, rel=0.03)


@pytest.mark.parametrize(
    "hr_psf, target", [("gaussian:fwhm=4", "gaussian:fwhm=4"), ("moffat:fwhm=6", "airy:fwhm=5")]
)
def test_hr_psf_not_narrower_than_the_target_is_refused(hr_psf, target):
    with pytest.raises(MatchingError, match="not narrower than the target") as error:
        psf_matching_kernel(parse_psf(hr_psf), parse_psf(target))
    assert "\n" not in str(error.value)


def test_hr_psf_with_wings_the_target_lacks_is_refused():
    # an Airy pattern's rings cannot be removed by blurring into a slightly wider Gaussian
    with pytest.raises(MatchingError, match="L1 residual"):
        psf_matching_kernel(parse_psf("airy:fwhm=2.5"), parse_psf("gaussian:fwhm=3"))


def test_matching_kernel_checks_its_grids():
    with pytest.raises(MatchingError, match="same odd, square shape"):
        matching_kernel(np.ones((5, 5)), np.ones((7, 7)))


@pytest.mark.parametrize("binning", ["sum", "mean"])
def test_inherited_variance_is_exact_for_white_noise(binning):
    kernel = psf_matching_kernel(parse_psf("gaussian:fwhm=2"), parse_psf("moffat:fwhm=6,beta=3.5"))
    sigma, scale = 1.7, 4
    noise = np.random.default_rng(2).normal(0.0, sigma, (1, 1024 + 2 * 40, 1024 + 2 * 40))
    blurred = fftconvolve(noise[0], kernel, mode="same")[40:-40, 40:-40]
    measured = np.var(bin_pixels(blurred, scale, binning).astype(np.float64))
    predicted = sigma**2 * inherited_variance(kernel, scale, binning)
    assert measured == pytest.approx(predicted, rel=0.03)
    # pixels made neighbours by the blur are correlated: adding s^2 independent variances
    # (scale**2 * sum(K**2) for sums) misses most of the variance
    naive = sigma**2 * np.sum(kernel**2) * (scale**2 if binning == "sum" else scale**-2)
    assert naive < 0.2 * measured


def test_reduced_read_noise_subtracts_or_refuses():
    assert reduced_read_noise(5.0, 9.0) == pytest.approx(4.0)
    assert reduced_read_noise(5.0, 0.0) == 5.0
    with pytest.raises(MatchingError, match="raise --read-noise to at least 6"):
        reduced_read_noise(5.0, 36.0)


def test_noise_sigma_is_recovered_under_structure():
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:512, 0:512].astype(np.float64)
    scene = 50.0 + 0.2 * xx + 300.0 * np.exp(-((yy - 200) ** 2 + (xx - 300) ** 2) / 200.0)
    stars = fftconvolve(
        (rng.random((512, 512)) > 0.998) * rng.uniform(100, 2000, (512, 512)),
        render_psf(parse_psf("gaussian:fwhm=2")),
        mode="same",
    )
    image = scene + stars + rng.normal(0.0, 3.0, scene.shape)
    image[:10, :10] = np.nan
    assert estimate_noise_sigma(image) == pytest.approx(3.0, rel=0.03)
