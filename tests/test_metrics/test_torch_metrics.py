import subprocess
import sys

import numpy as np
import pytest
import torch
from scipy import ndimage

from srgan_sci.losses import ssim_loss
from srgan_sci.metrics import MetricError, psnr, ssim
from srgan_sci.metrics.torch_metrics import psnr_torch, ssim_torch


def batch(shape=(2, 3, 32, 41), seed=0, noise=0.1):
    rng = np.random.default_rng(seed)
    target = ndimage.gaussian_filter(rng.normal(size=shape), (0, 0, 2, 2)) * 5
    pred = target + rng.normal(0.0, noise, shape) * np.arange(1, shape[1] + 1)[:, None, None]
    return torch.from_numpy(pred), torch.from_numpy(target)


def per_plane_mean(metric, pred, target, data_range):
    t_planes, p_planes = (x.reshape(-1, *x.shape[-2:]) for x in (target, pred))
    planes = zip(t_planes, p_planes, strict=True)
    return np.mean([metric(t.numpy(), p.numpy(), data_range=data_range) for t, p in planes])


@pytest.mark.parametrize("data_range", [1.0, 3.7, 255.0])
def test_psnr_torch_equals_mean_numpy_psnr_per_plane(data_range):
    pred, target = batch()
    value = psnr_torch(pred, target, data_range)
    assert value.dtype == torch.float64 and value.ndim == 0
    expected = per_plane_mean(psnr, pred, target, data_range)
    assert float(value) == pytest.approx(expected, abs=1e-5)
    # Planes differ in noise, so the mean of PSNRs is not the PSNR of the whole batch.
    whole = 10 * np.log10(data_range**2 / np.mean((pred.numpy() - target.numpy()) ** 2))
    assert abs(float(value) - whole) > 1e-3


@pytest.mark.parametrize("data_range", [1.0, 3.7, 255.0])
def test_ssim_torch_equals_mean_numpy_ssim_per_plane(data_range):
    pred, target = batch(seed=1)
    value = ssim_torch(pred, target, data_range)
    assert value.dtype == torch.float64 and value.ndim == 0
    expected = per_plane_mean(ssim, pred, target, data_range)
    assert float(value) == pytest.approx(expected, abs=1e-5)


def test_float32_tensors_are_close():
    pred, target = batch(seed=2)
    expected = per_plane_mean(ssim, pred, target, 2.0)
    assert float(ssim_torch(pred.float(), target.float(), 2.0)) == pytest.approx(expected, abs=1e-4)


def test_identical_inputs():
    _, target = batch(seed=3)
    assert float(ssim_torch(target, target.clone(), 1.0)) == pytest.approx(1.0, abs=1e-12)
    assert float(psnr_torch(target, target.clone(), 1.0)) == float("inf")


def test_ssim_loss_uses_the_same_ssim():
    # srgan_sci.losses.ssim_loss should be 1 - SSIM with the same (Wang et al.) settings.
    pred, target = batch(seed=4)
    assert float(1 - ssim_loss(pred, target, 2.5)) == pytest.approx(
        float(ssim_torch(pred, target, 2.5)), abs=1e-12
    )


def test_ssim_torch_is_differentiable():
    pred, target = batch(seed=5)
    pred.requires_grad_(True)
    ssim_torch(pred, target, 1.0).backward()
    assert pred.grad is not None and torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0


@pytest.mark.parametrize(
    ("pred_shape", "target_shape", "match"),
    [
        ((1, 1, 16, 16), (1, 1, 16, 17), "same shape"),
        ((16, 16), (16, 16), "N, C, H, W"),
        ((1, 1, 10, 16), (1, 1, 10, 16), ">= 11"),
    ],
)
def test_shape_errors(pred_shape, target_shape, match):
    with pytest.raises(MetricError, match=match):
        ssim_torch(torch.zeros(pred_shape), torch.zeros(target_shape), 1.0)


def test_data_range_is_validated():
    pred, target = batch()
    with pytest.raises(MetricError, match="data_range"):
        psnr_torch(pred, target, 0.0)
    with pytest.raises(MetricError, match="data_range"):
        ssim_torch(pred, target, float("nan"))


def test_metrics_package_does_not_import_torch():
    code = "import sys, srgan_sci.metrics; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
