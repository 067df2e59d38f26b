import dask.array as da
import numpy as np
import pytest

from srgan_sci.baselines import (
    BASELINES,
    BaselineError,
    lr_psf,
    richardson_lucy,
    upscale_baseline,
    upscale_baseline_lazy,
)
from srgan_sci.degrade.chain import degrade
from srgan_sci.degrade.psf import render_psf
from srgan_sci.degrade.scenes import render_scene
from srgan_sci.degrade.spec import preset
from srgan_sci.errors import SrsciError
from srgan_sci.infer.tiling import BicubicModel, LanczosModel, upscale_plane_numpy

SCALE = 4


def _smooth(shape, scale=1):
    """A smooth field sampled at pixel centres of a grid ``scale`` times finer."""
    y, x = ((np.arange(n * scale) + 0.5) / scale - 0.5 for n in shape)
    return (5 + np.sin(y / 7.0)[:, None] + np.cos(x / 9.0)[None, :]).astype(np.float32)


def _psnr(image, truth):
    data_range = truth.max() - truth.min()
    return 10 * np.log10(data_range**2 / np.mean((image - truth) ** 2))


@pytest.mark.parametrize(("name", "model"), [("bicubic", BicubicModel), ("lanczos", LanczosModel)])
def test_interpolation_goes_through_the_pipeline(name, model):
    lr = _smooth((24, 30))
    out = upscale_baseline(name, lr, SCALE)
    assert out.shape == (96, 120) and out.dtype == np.float32
    np.testing.assert_array_equal(out, upscale_plane_numpy(model(SCALE), lr))
    truth = _smooth((24, 30), SCALE)
    np.testing.assert_allclose(out[8:-8, 8:-8], truth[8:-8, 8:-8], atol=1e-2)


def test_bicubic_equals_srsci_upscale(tmp_path):
    tifffile = pytest.importorskip("tifffile")
    from srgan_sci.upscale import UpscaleConfig, upscale_file

    lr = _smooth((40, 36)) * 100
    tifffile.imwrite(tmp_path / "lr.tif", lr)
    config = UpscaleConfig(
        input=str(tmp_path / "lr.tif"),
        output=str(tmp_path / "sr.tif"),
        model="bicubic",
        scale=SCALE,
        chunk=16,
        scheduler="synchronous",
        device="cpu",
        progress=False,
    )
    upscale_file(config)
    written = np.squeeze(tifffile.imread(tmp_path / "sr.tif"))
    np.testing.assert_allclose(written, upscale_baseline("bicubic", lr, SCALE), rtol=1e-5)


@pytest.mark.parametrize("name", BASELINES)
def test_nan_pixel_gives_nan_block(name):
    lr = _smooth((32, 32)) * 10
    lr[5, 9] = np.nan
    out = upscale_baseline(name, lr, SCALE, preset("confocal"))
    expected = np.zeros((128, 128), dtype=bool)
    expected[20:24, 36:40] = True
    np.testing.assert_array_equal(np.isnan(out), expected)


@pytest.mark.parametrize("scale", [1, 3, 4])
def test_lr_psf_is_centred_and_normalised(scale):
    spec = preset("ground-seeing").with_overrides(scale=scale)
    psf = lr_psf(spec)
    assert psf.shape[0] == psf.shape[1] and psf.shape[0] % 2 == 1
    assert psf.sum() == pytest.approx(1.0)
    assert psf.min() >= 0
    np.testing.assert_allclose(psf, psf[::-1, ::-1], atol=1e-12)
    np.testing.assert_allclose(psf, psf.T, atol=1e-12)
    assert np.unravel_index(psf.argmax(), psf.shape) == (psf.shape[0] // 2,) * 2
    if scale == 1:
        np.testing.assert_allclose(psf, render_psf(spec.psf))


def test_lr_psf_predicts_the_lr_image_of_a_point_source():
    spec = preset("ground-seeing").with_overrides(scale=3)  # odd: the centre is an HR pixel
    hr = np.zeros((99, 99), dtype=np.float32)
    hr[49, 49] = 1.0
    quiet = spec.with_overrides(photons=None, poisson=False, read_noise=0.0, sky=0.0)
    _, lr = degrade(hr, quiet)
    psf = lr_psf(spec)
    r = psf.shape[0] // 2
    stamp = lr[16 - r : 17 + r, 16 - r : 17 + r]
    np.testing.assert_allclose(stamp / stamp.sum(), psf, atol=1e-6)


def test_richardson_lucy_keeps_constants_and_sharpens():
    psf = lr_psf(preset("ground-seeing"))
    flat = np.full((20, 20), -5.0)  # negative, as a sky-subtracted frame can be
    np.testing.assert_allclose(richardson_lucy(flat, psf), -5.0, rtol=1e-5)
    point = np.zeros((41, 41))
    point[20, 20] = 100.0
    blurred = np.real(
        np.fft.ifft2(np.fft.fft2(point) * np.fft.fft2(np.pad(psf, ((0, 30), (0, 30)))))
    )
    blurred = np.roll(blurred, (-(psf.shape[0] // 2),) * 2, axis=(0, 1)) - 3.0
    sharp = richardson_lucy(blurred, psf, iterations=50)
    assert sharp[20, 20] + 3.0 > 2 * (blurred[20, 20] + 3.0)
    assert sharp.sum() == pytest.approx(blurred.sum(), rel=1e-3)


def test_richardson_lucy_beats_bicubic_on_stars():
    spec = preset("ground-seeing").with_overrides(photons=3000.0, read_noise=1.0)
    hr = render_scene("stars", (512, 512), seed=3)
    hr_adu, lr = degrade(hr, spec, seed=1)
    truth = hr_adu * SCALE**2
    bicubic = _psnr(upscale_baseline("bicubic", lr, SCALE), truth)
    deconvolved = _psnr(upscale_baseline("richardson-lucy", lr, SCALE, spec), truth)
    assert deconvolved > bicubic + 0.3


@pytest.mark.parametrize("name", BASELINES)
@pytest.mark.parametrize("chunks", [(37, 50), 23])
def test_lazy_equals_in_memory(name, chunks):
    spec = preset("ground-seeing")
    _, lr = degrade(render_scene("stars", (384, 448), seed=5), spec, seed=2)
    lr[40:43, 70] = np.nan
    memory = upscale_baseline(name, lr, SCALE, spec)
    lazy = upscale_baseline_lazy(name, da.from_array(lr, chunks=chunks), SCALE, spec).compute()
    assert lazy.shape == memory.shape
    np.testing.assert_array_equal(np.isnan(lazy), np.isnan(memory))
    scale = np.nanmax(np.abs(memory))
    np.testing.assert_allclose(np.nan_to_num(lazy), np.nan_to_num(memory), atol=1e-3 * scale)


def test_errors_say_what_to_do():
    lr = np.ones((8, 8))
    with pytest.raises(BaselineError, match=r"spec.*--preset"):
        upscale_baseline("richardson-lucy", lr, SCALE)
    with pytest.raises(BaselineError, match="bicubic, lanczos, richardson-lucy"):
        upscale_baseline("nearest", lr, SCALE)
    with pytest.raises(BaselineError, match="scale"):
        upscale_baseline("richardson-lucy", lr, 2, preset("confocal"))
    with pytest.raises(SrsciError):
        upscale_baseline_lazy("richardson-lucy", da.ones((8, 8)), SCALE)
    with pytest.raises(ValueError, match="plane"):
        richardson_lucy(np.ones((2, 8, 8)), lr_psf(preset("confocal")))
