"""``srsci simulate`` on a real observation: --hr-psf and --hr-noise."""

import numpy as np
import pytest
import zarr
from astropy.io import fits
from skimage import color
from skimage import data as skdata

from srgan_sci.degrade.spec import DegradationSpec


@pytest.fixture
def hubble_fits(tmp_path):
    image = color.rgb2gray(skdata.hubble_deep_field())[:480, :480].astype(np.float32)
    path = tmp_path / "hdf.fits"
    fits.writeto(path, image)
    return path


def test_simulate_real_hr_with_psf_matching_and_auto_noise(srsci, tmp_path, hubble_fits):
    out = tmp_path / "pairs.zarr"
    result = srsci(
        "simulate",
        str(hubble_fits),
        "--out",
        str(out),
        "--preset",
        "ground-seeing",
        "--hr-psf",
        "gaussian:fwhm=2",
        "--hr-noise",
        "auto",
        "--no-progress",
    )
    assert "PSF matching gaussian:fwhm=2.0 -> moffat:fwhm=6.0,beta=3.5" in result.stdout
    group = zarr.open_group(out, mode="r")
    attrs = group.attrs["srgan_sci"]
    assert group["lr/0"].shape == (120, 120) and np.isfinite(group["lr/0"][:]).all()
    spec = DegradationSpec.from_dict(attrs["spec"])
    assert spec.hr_psf.kind == "gaussian" and spec.hr_psf.fwhm == 2.0
    assert attrs["psf_matching"]["kernel_fwhm"] == pytest.approx(np.sqrt(6**2 - 2**2), rel=0.05)
    noise = attrs["images"][0]["noise"]
    assert noise["hr_sigma_from"] == "auto" and noise["hr_sigma"] > 0
    assert noise["inherited_variance_adu2"] > 0
    total = noise["inherited_variance_adu2"] + noise["added_read_variance_adu2"]
    assert total == pytest.approx(noise["target_read_variance_adu2"]) == (5.0 / 2.0) ** 2


@pytest.mark.parametrize(
    "args, message",
    [
        (["--hr-psf", "gaussian:fwhm=8"], "not narrower than the target"),
        (["--hr-noise", "loud"], "--hr-noise must be 'auto'"),
        (["--hr-noise", "0.5"], "more than the read-noise variance"),
    ],
)
def test_simulate_real_hr_refusals_are_one_line(srsci, tmp_path, hubble_fits, args, message):
    out = tmp_path / "bad.zarr"
    result = srsci(
        "simulate", str(hubble_fits), "--out", str(out), *args, "--no-progress", check_rc=2
    )
    assert result.stderr.count("\n") == 1 and message in result.stderr
    assert not out.exists()
