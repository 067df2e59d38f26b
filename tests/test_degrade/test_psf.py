import json
import math

import numpy as np
import pytest
import tifffile
from astropy.io import fits
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import brentq
from scipy.special import erf, j1, jn_zeros

from srgan_sci.degrade.psf import (
    AIRY_FWHM_PER_LAMBDA_OVER_D,
    PSFError,
    PSFSpec,
    format_psf,
    load_psf_file,
    measure_fwhm,
    parse_psf,
    psf_radius,
    render_psf,
)
from srgan_sci.errors import SrsciError

FWHMS = [2.0, 3.0, 5.0, 8.0]
ANALYTIC = {
    "gaussian": lambda fwhm: PSFSpec(kind="gaussian", fwhm=fwhm),
    "moffat": lambda fwhm: PSFSpec(kind="moffat", fwhm=fwhm, beta=3.5),
    "moffat-wide": lambda fwhm: PSFSpec(kind="moffat", fwhm=fwhm, beta=2.0),
    "airy": lambda fwhm: PSFSpec(kind="airy", fwhm=fwhm),
}


def gaussian_image(shape, centre, fwhm):
    sigma = fwhm / (2 * math.sqrt(2 * math.log(2)))
    yy, xx = np.indices(shape, dtype=np.float64)
    r2 = (yy - centre[0]) ** 2 + (xx - centre[1]) ** 2
    return np.exp(-r2 / (2 * sigma**2))


def centroid(kernel):
    yy, xx = np.indices(kernel.shape)
    total = kernel.sum()
    return (yy * kernel).sum() / total, (xx * kernel).sum() / total


@pytest.fixture
def fits_psf(tmp_path):
    path = tmp_path / "psf.fits"
    fits.writeto(path, gaussian_image((61, 57), (27.3, 31.6), 12.0).astype(np.float32))
    return path


@pytest.fixture
def tiff_psf(tmp_path):
    path = tmp_path / "psf.tif"
    tifffile.imwrite(path, gaussian_image((45, 51), (23.8, 20.35), 4.0).astype(np.float32))
    return path


# --- kernels: shape, normalisation, centring ------------------------------------------------


@pytest.mark.parametrize(
    "spec",
    [
        PSFSpec(kind="gaussian", fwhm=2.0),
        PSFSpec(kind="moffat", fwhm=3.0, beta=2.5),
        PSFSpec(kind="airy", fwhm=2.5),
        PSFSpec(kind="airy", wavelength_um=0.52, na=1.4, pixel_size=0.06),
        PSFSpec(kind="airy", lambda_over_d_arcsec=0.05, pixel_size=0.03),
    ],
    ids=lambda spec: spec.kind,
)
def test_kernel_is_odd_square_unit_sum_centred(spec):
    kernel = render_psf(spec)
    assert kernel.dtype == np.float64
    assert kernel.ndim == 2 and kernel.shape[0] == kernel.shape[1] and kernel.shape[0] % 2 == 1
    assert kernel.shape[0] // 2 == psf_radius(spec)
    assert abs(kernel.sum() - 1.0) < 1e-12
    assert np.unravel_index(kernel.argmax(), kernel.shape) == (kernel.shape[0] // 2,) * 2
    assert np.all(kernel >= 0)
    np.testing.assert_allclose(kernel, kernel.T, atol=1e-15)
    np.testing.assert_allclose(centroid(kernel), (kernel.shape[0] // 2,) * 2, atol=1e-9)


def test_file_kernel_is_odd_square_unit_sum_centred(fits_psf):
    spec = PSFSpec(kind="file", path=str(fits_psf))
    kernel = render_psf(spec)
    assert kernel.shape[0] == kernel.shape[1] and kernel.shape[0] % 2 == 1
    assert kernel.shape[0] // 2 == psf_radius(spec)
    assert abs(kernel.sum() - 1.0) < 1e-12
    assert np.unravel_index(kernel.argmax(), kernel.shape) == (kernel.shape[0] // 2,) * 2
    padded = render_psf(spec, radius=40)
    assert padded.shape == (81, 81) and abs(padded.sum() - 1.0) < 1e-12
    assert render_psf(spec, radius=3).shape == (7, 7)


def test_explicit_radius_and_argument_errors():
    spec = PSFSpec(kind="gaussian", fwhm=3.0)
    assert render_psf(spec, radius=20).shape == (41, 41)
    for bad in ({"radius": 0}, {"radius": 2.5}, {"oversample": 0}):
        with pytest.raises(PSFError):
            render_psf(spec, **bad)


# --- FWHM ------------------------------------------------------------------------------------


@pytest.mark.parametrize("fwhm", FWHMS)
@pytest.mark.parametrize("kind", ANALYTIC)
def test_rendered_fwhm_matches_request(kind, fwhm):
    kernel = render_psf(ANALYTIC[kind](fwhm))
    assert measure_fwhm(kernel) == pytest.approx(fwhm, rel=0.02)


@pytest.mark.parametrize("fwhm", [2.0, 2.7, 5.0])
def test_gaussian_kernel_is_the_pixel_integrated_gaussian(fwhm):
    """Compare with the exact pixel integral (erf) of the Gaussian of the same kernel FWHM."""

    def exact(sigma, radius=12):
        edges = np.arange(-radius, radius + 2) - 0.5
        line = np.diff(erf(edges / (sigma * math.sqrt(2))))
        kernel = np.outer(line, line)
        return kernel / kernel.sum()

    sigma = brentq(lambda s: measure_fwhm(exact(s)) - fwhm, 0.2, fwhm)
    # Pixel integration broadens: the continuous profile is narrower than the request.
    assert sigma * 2 * math.sqrt(2 * math.log(2)) < fwhm
    rendered = render_psf(PSFSpec(kind="gaussian", fwhm=fwhm), radius=12)
    np.testing.assert_allclose(rendered, exact(sigma), atol=2e-3 * rendered.max())


def point_sampled(kind, fwhm, radius=60):
    yy, xx = np.indices((2 * radius + 1,) * 2) - radius
    r = np.hypot(yy, xx)
    if kind == "gaussian":
        return np.exp(-4 * math.log(2) * (r / fwhm) ** 2)
    if kind == "moffat":
        beta = 2.5
        alpha = fwhm / (2 * math.sqrt(2 ** (1 / beta) - 1))
        return (1 + (r / alpha) ** 2) ** -beta
    x = np.maximum(1.616339948310703 * 2 * r / fwhm, 1e-12)
    return (2 * j1(x) / x) ** 2


@pytest.mark.parametrize("fwhm", [2.5, 3.0, 3.7, 5.0, 8.0, 11.3])
@pytest.mark.parametrize("kind", ["gaussian", "moffat", "airy"])
def test_measure_fwhm_is_accurate_on_sampled_profiles(kind, fwhm):
    assert measure_fwhm(point_sampled(kind, fwhm)) == pytest.approx(fwhm, rel=0.01)
    assert measure_fwhm(5.0 * point_sampled(kind, fwhm)) == pytest.approx(fwhm, rel=0.01)


def test_measure_fwhm_errors():
    with pytest.raises(PSFError, match="odd"):
        measure_fwhm(np.ones((4, 5)))
    with pytest.raises(PSFError, match="NaN"):
        measure_fwhm(np.full((5, 5), np.nan))
    with pytest.raises(PSFError, match="half"):
        measure_fwhm(np.ones((5, 5)))


def test_airy_constant():
    assert AIRY_FWHM_PER_LAMBDA_OVER_D == pytest.approx(1.028993969962)
    x_half = math.pi * AIRY_FWHM_PER_LAMBDA_OVER_D / 2
    assert (2 * j1(x_half) / x_half) ** 2 == pytest.approx(0.5, abs=1e-12)
    assert jn_zeros(1, 1)[0] / math.pi == pytest.approx(1.21967, abs=1e-5)


def test_airy_from_wavelength_and_na():
    wavelength, na, pixel = 0.52, 1.4, 0.03
    spec = PSFSpec(kind="airy", wavelength_um=wavelength, na=na, pixel_size=pixel)
    expected = 0.51 * wavelength / na / pixel
    assert spec.resolved_fwhm() == pytest.approx(expected, rel=0.02)
    assert measure_fwhm(render_psf(spec)) == pytest.approx(expected, rel=0.02)


def test_airy_from_lambda_over_d():
    spec = parse_psf("airy:lambda_over_d=0.1,pixel=0.025")
    expected = 1.029 * 0.1 / 0.025
    assert spec.resolved_fwhm() == pytest.approx(expected, rel=1e-3)
    assert measure_fwhm(render_psf(spec)) == pytest.approx(expected, rel=0.02)


def test_too_narrow_airy_is_an_error():
    with pytest.raises(PSFError, match="narrower"):
        render_psf(PSFSpec(kind="airy", fwhm=0.5))


# --- default radius ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec",
    [ANALYTIC[kind](fwhm) for kind in ("gaussian", "moffat", "moffat-wide") for fwhm in FWHMS]
    + [ANALYTIC["airy"](fwhm) for fwhm in (2.0, 2.5, 4.0)],
    ids=lambda spec: f"{spec.kind}-{spec.fwhm}-{spec.beta}",
)
def test_default_radius_covers_the_flux(spec):
    radius = psf_radius(spec)
    big = min(5 * radius, 520)
    wide = render_psf(spec, radius=big, oversample=3)
    centre = wide[big - radius : big + radius + 1, big - radius : big + radius + 1]
    assert centre.sum() >= 0.99
    assert render_psf(spec).shape == (2 * radius + 1,) * 2


# --- PSF files -----------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["fits_psf", "tiff_psf"])
def test_file_psf_is_recentred_and_normalised(which, request):
    kernel = load_psf_file(request.getfixturevalue(which))
    assert kernel.shape[0] == kernel.shape[1] and kernel.shape[0] % 2 == 1
    assert abs(kernel.sum() - 1.0) < 1e-12 and np.all(kernel >= 0)
    np.testing.assert_allclose(centroid(kernel), (kernel.shape[0] // 2,) * 2, atol=0.05)


@pytest.mark.parametrize(
    "which, ratio, fwhm", [("fits_psf", 0.5, 12.0), ("tiff_psf", 2.0, 4.0), ("fits_psf", 1.0, 12.0)]
)
def test_file_psf_is_resampled_by_pixel_ratio(which, ratio, fwhm, request):
    path = request.getfixturevalue(which)
    kernel = load_psf_file(path, pixel_ratio=ratio)
    assert kernel.shape[0] % 2 == 1 and abs(kernel.sum() - 1.0) < 1e-12
    np.testing.assert_allclose(centroid(kernel), (kernel.shape[0] // 2,) * 2, atol=0.05)
    assert measure_fwhm(kernel) == pytest.approx(fwhm * ratio, rel=0.02)
    spec = PSFSpec(kind="file", path=str(path), pixel_ratio=ratio)
    assert spec.resolved_fwhm() == pytest.approx(fwhm * ratio, rel=0.02)


def test_file_psf_in_extension_hdu_and_single_plane_stack(tmp_path):
    image = gaussian_image((31, 31), (15, 15), 5.0)
    ext = tmp_path / "ext.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(image)]).writeto(ext)
    stack = tmp_path / "stack.tif"
    tifffile.imwrite(stack, image[None].astype(np.float32))
    for path in (ext, stack):
        assert measure_fwhm(load_psf_file(path)) == pytest.approx(5.0, rel=0.02)


def test_negative_pixels_are_clipped(tmp_path):
    path = tmp_path / "noisy.fits"
    image = gaussian_image((41, 41), (20, 20), 6.0) - 0.01
    fits.writeto(path, image)
    kernel = load_psf_file(path)
    assert np.all(kernel >= 0) and abs(kernel.sum() - 1.0) < 1e-12


def bad_files(tmp_path):
    table = fits.BinTableHDU.from_columns([fits.Column(name="a", format="E", array=np.ones(3))])
    fits.HDUList([fits.PrimaryHDU(), table]).writeto(tmp_path / "table.fits")
    fits.writeto(tmp_path / "line.fits", np.ones(9))
    fits.writeto(tmp_path / "zeros.fits", np.zeros((9, 9)))
    nan = gaussian_image((9, 9), (4, 4), 3.0)
    nan[2, 2] = np.nan
    fits.writeto(tmp_path / "nan.fits", nan)
    tifffile.imwrite(
        tmp_path / "cube.tif", np.ones((3, 9, 9), np.float32), photometric="minisblack"
    )
    (tmp_path / "text.fits").write_text("not a FITS file\n")
    (tmp_path / "text.tif").write_text("not a TIFF file\n")
    np.save(tmp_path / "psf.npy", np.ones((9, 9)))


@pytest.mark.parametrize(
    "name, message",
    [
        ("missing.fits", "not found"),
        ("table.fits", "no image HDU"),
        ("line.fits", "shape"),
        ("zeros.fits", "no positive pixel"),
        ("nan.fits", "NaN"),
        ("cube.tif", "shape"),
        ("text.fits", "not a readable image"),
        ("text.tif", "not a readable image"),
        ("psf.npy", "neither FITS nor TIFF"),
    ],
)
def test_bad_psf_files_are_one_line_errors(tmp_path, name, message):
    bad_files(tmp_path)
    path = tmp_path / name
    with pytest.raises(PSFError, match=message) as info:
        load_psf_file(path)
    assert isinstance(info.value, SrsciError) and isinstance(info.value, ValueError)
    assert str(path) in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(PSFError):
        render_psf(PSFSpec(kind="file", path=str(path)))


# --- parsing and serialisation -----------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("moffat:fwhm=3,beta=3.5", PSFSpec(kind="moffat", fwhm=3.0, beta=3.5)),
        ("gaussian:fwhm=2", PSFSpec(kind="gaussian", fwhm=2.0)),
        (" Airy: fwhm = 2.5 ", PSFSpec(kind="airy", fwhm=2.5)),
        (
            "airy:wavelength=0.52,na=1.4,pixel=0.03",
            PSFSpec(kind="airy", wavelength_um=0.52, na=1.4, pixel_size=0.03),
        ),
        (
            "airy:lambda_over_d=0.05,pixel=0.03",
            PSFSpec(kind="airy", lambda_over_d_arcsec=0.05, pixel_size=0.03),
        ),
        ("file:/data/psf.fits", PSFSpec(kind="file", path="/data/psf.fits")),
        ("/data/my psf,v2.fits", PSFSpec(kind="file", path="/data/my psf,v2.fits")),
        ("psf.TIFF", PSFSpec(kind="file", path="psf.TIFF")),
        (
            "file:psf.fits,pixel_ratio=0.25",
            PSFSpec(kind="file", path="psf.fits", pixel_ratio=0.25),
        ),
    ],
)
def test_parse_psf_and_round_trip(text, expected):
    spec = parse_psf(text)
    assert spec == expected
    assert parse_psf(format_psf(spec)) == spec


@given(
    kind=st.sampled_from(["gaussian", "moffat", "airy"]),
    fwhm=st.floats(0.01, 1e3),
    beta=st.floats(1.001, 20.0),
)
@settings(max_examples=50, deadline=None)
def test_format_parse_round_trip_property(kind, fwhm, beta):
    spec = PSFSpec(kind=kind, fwhm=fwhm, beta=beta if kind == "moffat" else 3.5)
    assert parse_psf(format_psf(spec)) == spec


@pytest.mark.parametrize(
    "text, message",
    [
        ("blob:fwhm=2", "unknown PSF kind 'blob'"),
        ("gaussian:fwhm=2,beta=3", "unknown parameter 'beta'"),
        ("moffat:fwhm=2,size=3", "unknown parameter 'size'"),
        ("gaussian", "needs fwhm"),
        ("airy:wavelength=0.5,na=1.2", "needs"),
        ("airy:fwhm=2,na=1.2", "needs"),
        ("gaussian:fwhm=0", "positive"),
        ("moffat:fwhm=-2", "positive"),
        ("airy:fwhm=nan", "positive"),
        ("gaussian:fwhm=two", "not a number"),
        ("moffat:fwhm=3,beta=1", "beta must be > 1"),
        ("moffat:fwhm=3,beta=0.5", "beta must be > 1"),
        ("file:", "needs path"),
        ("file:psf.fits,pixel_ratio=0", "positive"),
    ],
)
def test_parse_psf_errors(text, message):
    with pytest.raises(PSFError, match=message) as info:
        parse_psf(text)
    assert isinstance(info.value, SrsciError) and isinstance(info.value, ValueError)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "spec",
    [
        PSFSpec(kind="moffat", fwhm=3.0, beta=2.2),
        PSFSpec(kind="airy", wavelength_um=0.52, na=1.4, pixel_size=0.03),
        PSFSpec(kind="airy", lambda_over_d_arcsec=0.05, pixel_size=0.03),
        PSFSpec(kind="file", path="psf.fits", pixel_ratio=0.5),
    ],
)
def test_spec_dict_round_trip_through_json(spec):
    assert PSFSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec


def test_spec_validation():
    with pytest.raises(PSFError, match="unknown PSF spec fields: colour"):
        PSFSpec.from_dict({"kind": "gaussian", "fwhm": 2.0, "colour": "red"})
    with pytest.raises(PSFError, match="no 'kind'"):
        PSFSpec.from_dict({"fwhm": 2.0})
    with pytest.raises(PSFError, match="file PSFs only"):
        PSFSpec(kind="gaussian", fwhm=2.0, pixel_ratio=2.0)
    with pytest.raises(PSFError, match="positive"):
        PSFSpec.from_dict({"kind": "gaussian", "fwhm": "2"})
    with pytest.raises(PSFError, match="unknown PSF kind"):
        PSFSpec(kind="lorentzian", fwhm=2.0)
