import numpy as np
import pytest
import tifffile
import zarr
from astropy.io import fits
from skimage import data as skdata

from srgan_sci.degrade.spec import DegradationSpec


def _open_pairs(path):
    group = zarr.open_group(path, mode="r")
    return group, group.attrs["srgan_sci"]


def test_simulate_real_moon_image_from_tiff(srsci, tmp_path):
    moon = tmp_path / "moon.tif"
    tifffile.imwrite(moon, skdata.moon())
    out = tmp_path / "pairs.zarr"
    result = srsci(
        "simulate", str(moon), "--out", str(out), "--preset", "confocal", "--no-progress"
    )
    assert "HR (512, 512) -> LR (128, 128)" in result.stdout
    group, attrs = _open_pairs(out)
    assert group["hr/0"].shape == (512, 512) and group["lr/0"].shape == (128, 128)
    assert DegradationSpec.from_dict(attrs["spec"]).name == "confocal"
    assert attrs["images"][0]["val_y_start_lr"] == 115
    lr = group["lr/0"][:]
    assert lr.dtype == np.float32 and np.isfinite(lr).all()
    # the LR is a blurred, binned version of the HR: strongly correlated block means
    hr_blocks = group["hr/0"][:].reshape(128, 4, 128, 4).mean(axis=(1, 3))
    assert np.corrcoef(hr_blocks.ravel(), lr.ravel())[0, 1] > 0.8
    # photon budget: confocal preset, 200 e- mean signal + 1 e- background, gain 1
    assert lr.mean() == pytest.approx(201.0, rel=0.01)


def test_simulate_hubble_fits_with_overrides_is_reproducible(srsci, tmp_path):
    image = skdata.hubble_deep_field()[:480, :480].astype(np.float32).sum(axis=-1)
    source = tmp_path / "hdf.fits"
    fits.writeto(source, image)
    outs = []
    for name in ("a.zarr", "b.zarr"):
        out = tmp_path / name
        srsci(
            "simulate",
            str(source),
            "--out",
            str(out),
            "--preset",
            "ground-seeing",
            "--psf",
            "moffat:fwhm=3,beta=3.5",
            "--photons",
            "200",
            "--read-noise",
            "3",
            "--scale",
            "3",
            "--seed",
            "4",
            "--no-progress",
        )
        outs.append(zarr.open_group(out, mode="r")["lr/0"][:])
    np.testing.assert_array_equal(outs[0], outs[1])
    _, attrs = _open_pairs(tmp_path / "a.zarr")
    spec = DegradationSpec.from_dict(attrs["spec"])
    assert (spec.scale, spec.photons, spec.read_noise, spec.psf.kind) == (3, 200.0, 3.0, "moffat")


def test_simulate_synthetic_scene(srsci, tmp_path):
    out = tmp_path / "scene.zarr"
    srsci(
        "simulate",
        "--scene",
        "nuclei",
        "--size",
        "256",
        "--preset",
        "widefield-lowlight",
        "--out",
        str(out),
        "--no-progress",
    )
    group, attrs = _open_pairs(out)
    assert attrs["images"][0]["source"] == "scene:nuclei"
    assert group["lr/0"].shape == (64, 64)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--scene", "stars", "--size", "250"], "not divisible by scale 4"),
        ([], "no input images"),
        (["--scene", "stars", "--size", "64", "--psf", "blob:fwhm=2"], "blob"),
    ],
)
def test_simulate_bad_input_is_one_line_error(srsci, tmp_path, args, message):
    out = tmp_path / "bad.zarr"
    result = srsci("simulate", *args, "--out", str(out), "--no-progress", check_rc=2)
    assert result.stderr.count("\n") == 1 and message in result.stderr
    assert not out.exists()


def test_simulate_nan_only_input_and_no_overwrite(srsci, tmp_path):
    nan_image = tmp_path / "nan.fits"
    fits.writeto(nan_image, np.full((32, 32), np.nan, np.float32))
    result = srsci("simulate", str(nan_image), "--out", str(tmp_path / "x.zarr"), check_rc=2)
    assert "every pixel is NaN" in result.stderr
    out = tmp_path / "exists.zarr"
    out.mkdir()
    result = srsci("simulate", "--scene", "stars", "--size", "64", "--out", str(out), check_rc=2)
    assert "--overwrite" in result.stderr
    srsci(
        "simulate",
        "--scene",
        "stars",
        "--size",
        "64",
        "--out",
        str(out),
        "--overwrite",
        "--no-progress",
    )
    assert zarr.open_group(out, mode="r")["lr/0"].shape == (16, 16)


def test_simulate_psf_file_that_is_not_an_image(srsci, tmp_path):
    psf = tmp_path / "psf.fits"
    table = fits.BinTableHDU.from_columns([fits.Column(name="a", format="E", array=np.ones(3))])
    fits.HDUList([fits.PrimaryHDU(), table]).writeto(psf)
    result = srsci(
        "simulate",
        "--scene",
        "stars",
        "--size",
        "64",
        "--psf",
        f"file:{psf}",
        "--out",
        str(tmp_path / "o.zarr"),
        check_rc=2,
    )
    assert result.stderr.count("\n") == 1 and str(psf) in result.stderr


def test_simulate_an_image_whose_last_tile_is_merged_into_the_one_before(srsci, tmp_path):
    # 400 x 600 at x2: the 88-pixel remainder of the 512-pixel HR tiles is within the PSF
    # halo, so the chain merges it into one 600-pixel chunk; the store must accept that
    coffee = tmp_path / "coffee.tif"
    tifffile.imwrite(coffee, skdata.coffee()[..., 0].astype(np.float32))
    out = tmp_path / "pairs.zarr"
    srsci("simulate", str(coffee), "--out", str(out), "--preset", "widefield-lowlight",
          "--scale", "2", "--no-progress")  # fmt: skip
    group, _ = _open_pairs(out)
    assert group["hr/0"].shape == (400, 600) and group["lr/0"].shape == (200, 300)
    assert np.isfinite(group["lr/0"][:]).all() and np.isfinite(group["hr/0"][:]).all()
