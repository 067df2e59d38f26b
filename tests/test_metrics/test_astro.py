import numpy as np
import pytest
from scipy.ndimage import gaussian_filter
from scipy.special import erf

from srgan_sci.metrics.astro import (
    find_sources,
    measure,
    photometry_comparison,
    photometry_table,
)

SCALE = 4
FWHM = 3.0
SKY = 10.0


def _star_field(size=256, spacing=32, seed=0):
    """Pixel-integrated Gaussian stars on a grid with random sub-pixel offsets."""
    rng = np.random.default_rng(seed)
    sigma = FWHM / 2.3548200450309493
    centres = np.arange(spacing // 2, size, spacing, dtype=np.float64)
    xs, ys = np.meshgrid(centres, centres)
    xs = xs.ravel() + rng.uniform(-0.5, 0.5, xs.size)
    ys = ys.ravel() + rng.uniform(-0.5, 0.5, ys.size)
    fluxes = rng.uniform(1e3, 1e4, xs.size)
    edges = np.arange(size + 1) - 0.5
    image = np.full((size, size), SKY)
    for x, y, f in zip(xs, ys, fluxes, strict=True):
        px = np.diff(erf((edges - x) / (np.sqrt(2) * sigma))) / 2
        py = np.diff(erf((edges - y) / (np.sqrt(2) * sigma))) / 2
        image += f * np.outer(py, px)
    return image, np.column_stack([xs, ys]), fluxes


@pytest.fixture(scope="module")
def field():
    return _star_field()


def test_find_sources_on_noise_free_truth(field):
    image, truth_xy, _ = field
    found = find_sources(image, fwhm=FWHM, border=10)
    inside = np.all((truth_xy >= 10) & (truth_xy <= image.shape[0] - 11), axis=1)
    assert len(found) == inside.sum()
    distance = np.min(np.hypot(*(found[:, None, :] - truth_xy[None]).transpose(2, 0, 1)), axis=1)
    assert distance.max() < 0.1
    assert len(find_sources(image, fwhm=FWHM, max_sources=5)) == 5


@pytest.mark.parametrize("centroid", ["com", "2dg"])
def test_measure_recovers_flux_and_position(field, centroid):
    image, truth_xy, fluxes = field
    inner = slice(0, 8)  # first row of stars, all far from other stars
    flux, xy = measure(
        image, truth_xy[inner] + 0.7, aperture_radius=4 * FWHM, centroid_box=9, centroid=centroid
    )
    np.testing.assert_allclose(flux, fluxes[inner], rtol=2e-3)
    np.testing.assert_allclose(xy, truth_xy[inner], atol=0.02)
    flux, _ = measure(
        image, truth_xy[inner], aperture_radius=4 * FWHM, centroid_box=9, annulus=(13, 15)
    )
    np.testing.assert_allclose(flux, fluxes[inner], rtol=2e-3)


def test_truth_against_itself(field):
    image = field[0]
    result = photometry_comparison(image, {"truth": image}, scale=SCALE, fwhm=FWHM)["truth"]
    assert result["n_sources"] >= 40
    assert result["median_flux_ratio"] == 1.0
    assert result["flux_ratio_scatter"] == 0.0
    assert result["centroid_offset_rms_lr"] == 0.0
    assert result["centroid_offset_mean_x_lr"] == 0.0


def test_one_pixel_shift_is_a_quarter_lr_pixel(field):
    image = field[0]
    images = {"x": np.roll(image, 1, axis=1), "y": np.roll(image, -1, axis=0)}
    result = photometry_comparison(image, images, scale=SCALE, fwhm=FWHM)
    assert result["x"]["centroid_offset_mean_x_lr"] == pytest.approx(1 / SCALE, abs=2e-3)
    assert result["x"]["centroid_offset_mean_y_lr"] == pytest.approx(0.0, abs=2e-3)
    assert result["x"]["centroid_offset_median_lr"] == pytest.approx(1 / SCALE, abs=2e-3)
    assert result["y"]["centroid_offset_mean_y_lr"] == pytest.approx(-1 / SCALE, abs=2e-3)
    assert result["x"]["median_flux_ratio"] == pytest.approx(1.0, abs=1e-3)


def test_scaled_image_has_flux_ratio_two(field):
    image = field[0]
    result = photometry_comparison(image, {"double": 2 * image}, scale=SCALE, fwhm=FWHM)
    assert result["double"]["median_flux_ratio"] == pytest.approx(2.0, rel=1e-9)
    assert result["double"]["centroid_offset_rms_lr"] == pytest.approx(0.0, abs=1e-9)


def test_blur_keeps_flux_in_a_large_aperture(field):
    image = field[0]
    blurred = gaussian_filter(image, 2.0, mode="reflect")
    result = photometry_comparison(
        image, {"blurred": blurred}, scale=SCALE, fwhm=FWHM, aperture_radius=4 * FWHM
    )["blurred"]
    assert result["median_flux_ratio"] == pytest.approx(1.0, abs=0.03)
    assert result["centroid_offset_rms_lr"] < 0.02


def test_table_rows_and_nan(field):
    image = field[0]
    holed = image.copy()
    holed[48, 48] = np.nan  # next to the star near (48, 48)
    table = photometry_table(image, {"holed": holed}, scale=SCALE, fwhm=FWHM)["holed"]
    assert set(table) == {"x", "y", "truth_flux", "flux", "dx", "dy"}
    lengths = {len(v) for v in table.values()}
    assert len(lengths) == 1
    assert np.isnan(table["flux"]).sum() == 1
    assert np.isfinite(table["truth_flux"]).all()
    summary = photometry_comparison(image, {"holed": holed}, scale=SCALE, fwhm=FWHM)["holed"]
    assert summary["n_sources"] == len(table["flux"]) - 1


def test_nan_in_truth_excludes_sources(field):
    image = field[0].copy()
    image[40:56, 40:56] = np.nan
    found = find_sources(image, fwhm=FWHM, border=10)
    assert not np.any(np.all(np.abs(found - 48) < 12, axis=1))


def test_bad_arguments(field):
    image = field[0]
    with pytest.raises(ValueError, match="odd"):
        measure(image, [[50, 50]], aperture_radius=5, centroid_box=8)
    with pytest.raises(ValueError, match="centroid"):
        measure(image, [[50, 50]], aperture_radius=5, centroid_box=9, centroid="peak")
    with pytest.raises(ValueError, match="shape"):
        photometry_table(image, {"small": image[:10]}, scale=SCALE, fwhm=FWHM)
    flux, xy = measure(image, np.empty((0, 2)), aperture_radius=5, centroid_box=9)
    assert flux.shape == (0,) and xy.shape == (0, 2)
