import numpy as np
import pytest
import torch

from srgan_sci.degrade import torch_ops
from srgan_sci.degrade.camera import bin_pixels
from srgan_sci.degrade.chain import _pad_and_convolve
from srgan_sci.degrade.psf import PSFSpec, render_psf

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("radius", [0, 3, 12])
def test_symmetric_pad_matches_numpy(radius):
    images = torch.arange(2 * 5 * 7, dtype=torch.float32).reshape(2, 5, 7)
    expected = np.pad(images.numpy(), [(0, 0), (radius, radius), (radius, radius)], "symmetric")
    np.testing.assert_array_equal(torch_ops.symmetric_pad(images, radius).numpy(), expected)


@pytest.mark.parametrize("device", DEVICES)
def test_fft_convolve_matches_the_numpy_chain(device):
    rng = np.random.default_rng(0)
    images = rng.gamma(2.0, 10.0, size=(3, 40, 56)).astype(np.float32)
    psf = render_psf(PSFSpec(kind="moffat", fwhm=4.0, beta=3.0))
    expected = _pad_and_convolve(images, psf)
    got = torch_ops.fft_convolve(torch.from_numpy(images).to(device), psf).cpu().numpy()
    assert got.dtype == np.float32 and got.shape == images.shape
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("mode", ["sum", "mean"])
def test_binning_matches_numpy(mode):
    images = np.random.default_rng(1).random((2, 12, 18)).astype(np.float32)
    got = torch_ops.bin_pixels(torch.from_numpy(images), 3, mode).numpy()
    np.testing.assert_allclose(got, bin_pixels(images, 3, mode), rtol=1e-6)


def test_bad_kernels_and_shapes_are_errors():
    with pytest.raises(ValueError, match="odd square"):
        torch_ops.fft_convolve(torch.zeros(8, 8), np.ones((4, 4)))
    with pytest.raises(ValueError, match="not divisible"):
        torch_ops.bin_pixels(torch.zeros(7, 8), 2)
