"""Validation checks 1–7 (numpy halves) on cases whose answers are known."""

import numpy as np
import pytest
from scipy import ndimage

from srgan_sci.degrade.chain import blur_kernel, degrade
from srgan_sci.degrade.psf import measure_fwhm
from srgan_sci.degrade.scenes import synthetic_scene
from srgan_sci.degrade.spec import preset
from srgan_sci.metrics.consistency import lr_pedestal, noise_sigma_lr
from srgan_sci.metrics.validation import (
    astrometry,
    delta_mag,
    downsample_consistency,
    photometry_vs_snr,
    point_source_snr,
    sky_sigma,
    source_table,
)
from srgan_sci.metrics.validation_injection import (
    completeness,
    detect_own_sigma,
    detect_point_sources,
    inject_point_sources,
    pure_noise_lr,
)
from srgan_sci.metrics.validation_noise import (
    acf_width,
    autocorrelation,
    grid_peak_ratio,
    seam_difference,
    sky_mask,
    sky_noise,
)
from srgan_sci.metrics.validation_psf import (
    effective_psf,
    fit_gaussian,
    psf_header_cards,
    star_psf,
)

SCALE = 4


@pytest.fixture(scope="module")
def field():
    """A bright star field through ground-seeing: truth in LR units per HR px, raw LR."""
    spec = preset("ground-seeing").with_overrides(photons=3000.0, subtract_sky=False)
    scene = synthetic_scene("stars", (256, 256), seed=3).compute()
    hr_adu, lr = degrade(scene, spec, seed=5)
    truth = hr_adu * SCALE**2
    psf = blur_kernel(spec)
    lr_sigma = sky_sigma(lr)
    table = source_table(
        truth, {"perfect": truth}, lr_sigma=lr_sigma, scale=SCALE, fwhm=measure_fwhm(psf), psf=psf
    )
    return {"spec": spec, "truth": truth, "lr": lr, "lr_sigma": lr_sigma, "table": table}


def _table(field, images):
    spec = field["spec"]
    psf = blur_kernel(spec)
    return source_table(
        field["truth"],
        images,
        lr_sigma=field["lr_sigma"],
        scale=SCALE,
        fwhm=measure_fwhm(psf),
        psf=psf,
    )


# ----------------------------------------------------------------------- 1. consistency


def test_a_perfect_prediction_is_consistent_at_one_sigma(field):
    check = downsample_consistency(field["truth"], field["lr"], scale=SCALE, spec=field["spec"])
    assert check.summary["residual_rms_sigma"] == pytest.approx(1.0, abs=0.08)
    assert abs(check.summary["residual_mean_sigma"]) < 0.05
    assert check.summary["tile_flux_ratio_median"] == pytest.approx(1.0, abs=0.01)
    assert check.summary["tile_residual_rms_sigma"] == pytest.approx(1.0, abs=0.35)
    assert check.summary["tiles_used"] > 0
    assert check.residual_sigma.shape[0] < field["lr"].shape[0]  # border cropped
    assert check.tile_ratio.shape == (8, 8)


def test_a_prediction_losing_flux_shows_in_the_tiles(field):
    dim = field["truth"] * np.float32(0.8)
    check = downsample_consistency(dim, field["lr"], scale=SCALE, spec=field["spec"])
    assert check.summary["tile_flux_ratio_median"] == pytest.approx(0.8, abs=0.02)
    assert check.summary["residual_rms_sigma"] > 1.2


def test_without_a_spec_block_means_are_compared_with_the_lr_noise():
    rng = np.random.default_rng(0)
    lr = rng.normal(100.0, 2.0, (32, 32))
    sr = np.repeat(np.repeat(np.full((32, 32), 100.0), SCALE, 0), SCALE, 1)
    check = downsample_consistency(sr, lr, scale=SCALE)
    assert check.summary["residual_rms_sigma"] == pytest.approx(1.0, abs=0.1)
    assert check.summary["total_flux_ratio"] == pytest.approx(1.0, abs=0.01)
    with pytest.raises(ValueError, match="not LR shape"):
        downsample_consistency(sr[:-4], lr, scale=SCALE)


# ------------------------------------------------------------------ 2. photometry vs S/N


def test_perfect_photometry_has_zero_delta_mag(field):
    table = field["table"]
    assert len(table.xy) >= 10 and table.snr.max() > 50
    result = photometry_vs_snr(table)["perfect"]
    assert result["median_abs_dmag"] == pytest.approx(0.0, abs=1e-6)
    assert result["n_lost"] == 0
    assert sum(b["n"] for b in result["bins"]) == result["n_sources"]


def test_half_the_flux_is_three_quarters_of_a_magnitude(field):
    table = _table(field, {"half": field["truth"] * np.float32(0.5)})
    result = photometry_vs_snr(table)["half"]
    assert result["median_dmag"] == pytest.approx(2.5 * np.log10(2.0), abs=1e-3)
    assert np.isnan(delta_mag(np.array([-1.0]), np.array([1.0]))[0])


def test_snr_is_flux_over_the_noise_of_a_one_fwhm_circle():
    snr = point_source_snr(100.0, lr_sigma=2.0, scale=4, fwhm=8.0)
    assert snr == pytest.approx(100.0 / (2.0 * np.sqrt(np.pi * 2.0**2)))


# ---------------------------------------------------------------------- 3. astrometry


def test_perfect_astrometry_has_no_offset_and_no_flag(field):
    result = astrometry(field["table"])["perfect"]
    assert abs(result["mean_dx"]) < 1e-6 and result["rms"] < 1e-6
    assert result["half_pixel_flag"] is False and result["message"] == "no shift"


@pytest.mark.parametrize("sign, axis", [(1, "x"), (-1, "y")])
def test_a_half_pixel_convention_shift_is_flagged(field, sign, axis):
    shift_lr = sign * (SCALE - 1) / (2 * SCALE)  # 0.375 LR px = 1.5 HR px
    shift = (0.0, shift_lr * SCALE) if axis == "x" else (shift_lr * SCALE, 0.0)
    shifted = ndimage.shift(field["truth"], shift, order=3, mode="nearest")
    result = astrometry(_table(field, {"shifted": shifted}))["shifted"]
    assert result[f"mean_d{axis}"] == pytest.approx(shift_lr, abs=0.03)
    assert result["half_pixel_flag"] is True
    assert f"mean {axis} offset" in result["message"]


def test_a_small_shift_is_not_flagged(field):
    shifted = ndimage.shift(field["truth"], (0.0, 0.5), order=3, mode="nearest")
    result = astrometry(_table(field, {"small": shifted}))["small"]
    assert result["mean_dx"] == pytest.approx(0.125, abs=0.03)
    assert result["half_pixel_flag"] is False


# ------------------------------------------------------------------- 4. effective PSF


def test_fit_gaussian_measures_fwhm_and_ellipticity():
    yy, xx = np.mgrid[:31, :31]
    round_star = np.exp(-0.5 * ((xx - 15.3) ** 2 + (yy - 14.8) ** 2) / 2.0**2) + 0.1
    fwhm, ellipticity = fit_gaussian(round_star)
    assert fwhm == pytest.approx(2.3548 * 2.0, rel=1e-3) and ellipticity < 1e-3
    elongated = np.exp(-0.5 * ((xx - 15) ** 2 / 3.0**2 + (yy - 15) ** 2 / 1.5**2))
    assert fit_gaussian(elongated)[1] == pytest.approx(0.5, abs=1e-3)
    assert np.isnan(fit_gaussian(np.zeros((15, 15)))[0])


def test_a_blurred_prediction_has_a_wider_effective_psf(field):
    blurred = ndimage.gaussian_filter(field["truth"], 2.0)
    images = {"perfect": field["truth"], "blurred": blurred}
    fwhm = measure_fwhm(blur_kernel(field["spec"]))
    result = effective_psf(field["truth"], images, _table(field, images), psf_fwhm=fwhm)
    assert result["truth"]["n_stars"] >= 3
    assert result["perfect"]["fwhm"] == pytest.approx(result["truth"]["fwhm"])
    assert result["blurred"]["fwhm"] > result["truth"]["fwhm"] + 2.0
    cards = psf_header_cards(result["blurred"])
    assert set(cards) == {"SRPSFFW", "SRPSFEL", "SRPSFN"}
    assert cards["SRPSFFW"][0] == pytest.approx(result["blurred"]["fwhm"], abs=1e-4)
    assert cards["SRPSFN"][0] == result["blurred"]["n_stars"]


def _star_field(sigma: float, seed: int = 3) -> np.ndarray:
    """Gaussian stars of width ``sigma`` and larger galaxies on white noise, 400²."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:400, :400].astype(float)
    image = rng.normal(0.0, 1.0, (400, 400))
    for index, (y, x) in enumerate(np.stack(np.mgrid[30:380:50, 30:380:50], -1).reshape(-1, 2)):
        width = sigma if index % 3 else 3.0 * sigma  # every third source is a galaxy
        y, x = y + rng.uniform(-3, 3), x + rng.uniform(-3, 3)
        image += 500.0 * np.exp(-0.5 * ((yy - y) ** 2 + (xx - x) ** 2) / width**2)
    return image


def test_star_psf_finds_the_stellar_locus_without_a_truth():
    result = star_psf(_star_field(1.5))
    assert result["n_stars"] >= 20
    assert result["fwhm"] == pytest.approx(2.3548 * 1.5, rel=0.03)
    assert result["ellipticity"] < 0.05
    wider = star_psf(_star_field(2.5))
    assert wider["fwhm"] == pytest.approx(2.3548 * 2.5, rel=0.03)
    cards = psf_header_cards(wider)
    assert cards["SRPSFFW"][0] == pytest.approx(wider["fwhm"], abs=1e-4)


def test_star_psf_of_pure_noise_reports_no_stars():
    noise = np.random.default_rng(0).normal(0.0, 1.0, (200, 200))
    result = star_psf(noise)
    assert result["n_stars"] == 0 and np.isnan(result["fwhm"])
    assert set(psf_header_cards(result)) == {"SRPSFN"}


# ------------------------------------------------------------------------- 5. noise


def test_white_noise_has_no_autocorrelation_and_smoothed_noise_has_some():
    rng = np.random.default_rng(1)
    white = rng.normal(0.0, 3.0, (256, 256))
    everywhere = np.ones(white.shape, bool)
    acf = autocorrelation(white, everywhere)
    assert acf[0] == 1.0 and abs(acf[1]) < 0.03
    assert acf_width(acf) < 1.2
    smooth = ndimage.gaussian_filter(white, 2.0)
    assert autocorrelation(smooth, everywhere)[1] > 0.5
    result = sky_noise({"white": white, "smooth": smooth}, everywhere, lr_sigma=3.0)
    assert result["white"]["rms_over_lr_sigma"] == pytest.approx(1.0, abs=0.03)
    assert result["smooth"]["acf_fwhm"] > 3.0


def test_sky_mask_keeps_sources_out():
    image = np.zeros((64, 64))
    image[32, 32] = 100.0
    mask = sky_mask(image, level=1.0, grow=3)
    assert not mask[32, 32] and not mask[32, 35] and mask[32, 40] and mask[0, 0]


# ------------------------------------------------------------------ 6. hallucination


def test_pure_noise_follows_the_detector_model():
    spec = preset("ground-seeing").with_overrides(subtract_sky=False)
    noise = pure_noise_lr((128, 128), spec, np.random.default_rng(2))
    assert np.mean(noise) == pytest.approx(lr_pedestal(spec), abs=0.2)
    expected = float(noise_sigma_lr(np.array(lr_pedestal(spec)), spec))
    assert np.std(noise) == pytest.approx(expected, rel=0.03)


def test_pure_noise_through_interpolation_gives_few_false_sources():
    spec = preset("ground-seeing")
    noise = pure_noise_lr((128, 128), spec, np.random.default_rng(3))
    sr = np.repeat(np.repeat(noise, SCALE, 0), SCALE, 1)
    sr = ndimage.gaussian_filter(sr, 1.5)  # a smooth interpolation
    xy, _ = detect_point_sources(sr, scale=SCALE, fwhm=6.0, lr_sigma=sky_sigma(noise))
    assert len(xy) <= 2  # per 16384 LR px²
    assert len(detect_own_sigma(sr)) <= 2


def test_injected_sources_are_recovered_in_their_truth():
    spec = preset("ground-seeing")
    rng = np.random.default_rng(4)
    field = inject_point_sources((96, 96), spec, rng, lr_sigma=5.6)
    assert len(field.xy) == 64 and field.snr.min() >= 1.0 and field.snr.max() <= 40.0
    sigma_lr = sky_sigma(field.lr)
    assert sigma_lr == pytest.approx(5.6, rel=0.1)
    truth = ndimage.gaussian_filter(field.truth, 2.5)  # a resolved, noise-free SR
    found, snr = detect_point_sources(truth, scale=SCALE, fwhm=6.0, lr_sigma=sigma_lr)
    result = completeness(field.xy, field.snr, found, match_radius=6.0, area_lr=96 * 96)
    bright = [row["fraction"] for row in result["completeness"] if row["snr_min"] >= 13]
    assert bright == [1.0, 1.0] and result["false_per_1000_lr_px2"] == 0.0
    assert np.all(snr >= 5.0)


def test_completeness_counts_matches_and_false_detections():
    injected = np.array([[10.0, 10.0], [50.0, 50.0]])
    detected = np.array([[11.0, 10.0], [90.0, 90.0]])
    result = completeness(
        injected,
        np.array([3.0, 30.0]),
        detected,
        match_radius=3.0,
        area_lr=1000.0,
        bins=(1.0, 10.0, 40.0),
    )
    assert [row["fraction"] for row in result["completeness"]] == [1.0, 0.0]
    assert result["false_per_1000_lr_px2"] == 1.0 and result["recovered"] == 0.5


# ------------------------------------------------------------------------- 7. seams


def test_identical_runs_have_no_seam_and_a_step_grid_is_found():
    rng = np.random.default_rng(5)
    image = ndimage.gaussian_filter(rng.normal(size=(512, 512)), 2.0)
    assert seam_difference(image, image) == 0.0
    assert grid_peak_ratio(image, 128)["ratio"] == pytest.approx(1.0, abs=0.15)
    # a faint line at every tile edge, as a too-small halo leaves
    steps = image + 0.2 * image.std() * (np.arange(512) % 128 == 0)[None, :]
    seamy = grid_peak_ratio(steps, 128)
    assert seamy["ratio"] > 2.0 and seamy["max_ratio"] > 10.0
    assert seam_difference(image, steps) > 0.0
