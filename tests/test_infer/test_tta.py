import dask
import dask.array as da
import numpy as np
import pytest
import torch
from torch import nn

from srgan_sci.infer.tiling import BicubicModel, upscale_plane_numpy
from srgan_sci.infer.tta import (
    DIHEDRAL,
    dihedral,
    inverse_dihedral,
    upscale_lazy_tta,
    upscale_plane_numpy_tta,
)
from srgan_sci.models.generator import MSRResNet
from srgan_sci.normalize import AsinhNormalizer, fit_percentile

RTOL = 1e-5
ASINH = AsinhNormalizer(sky=90.0, noise=5.0, softening=10.0, scale=30.0)


def _msrresnet(scale: int) -> MSRResNet:
    torch.manual_seed(scale)
    return MSRResNet(channels=8, blocks=2, scale=scale)


class NearestRepeat(nn.Module):
    """Nearest-neighbour upsampling: exactly equivariant under the dihedral group."""

    receptive_field_radius = 0

    def __init__(self, scale: int) -> None:
        super().__init__()
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.repeat_interleave(self.scale, -2).repeat_interleave(self.scale, -1)


MODELS = {
    "msrresnet-x2": _msrresnet(2),
    "msrresnet-x3": _msrresnet(3),
    "bicubic-x2": BicubicModel(2),
}


def _image(shape: tuple[int, ...], seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (100 + 20 * rng.standard_normal(shape)).astype(np.float32)


def _data_range(image: np.ndarray) -> float:
    return float(np.nanmax(image) - np.nanmin(image))


def _assert_close(a: np.ndarray, b: np.ndarray, image: np.ndarray) -> None:
    assert np.array_equal(np.isnan(a), np.isnan(b))
    assert np.nanmax(np.abs(a - b)) <= RTOL * _data_range(image)


def test_dihedral_group():
    x = np.arange(2 * 3 * 4).reshape(2, 3, 4)
    images = {
        dihedral(x, k, flip).tobytes() + bytes(dihedral(x, k, flip).shape) for k, flip in DIHEDRAL
    }
    assert len(images) == 8
    for k, flip in DIHEDRAL:
        np.testing.assert_array_equal(inverse_dihedral(dihedral(x, k, flip), k, flip), x)


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("normalizer", [None, ASINH], ids=["identity", "asinh"])
def test_tiled_tta_equals_whole(name, normalizer):
    model = MODELS[name]
    image = _image((37, 45), 5)
    image[10:13, 30:35] = np.nan
    chunks = (2 * model.receptive_field_radius + 3, 2 * model.receptive_field_radius)
    mean, spread = upscale_lazy_tta(model, da.from_array(image, chunks=chunks), normalizer)
    assert mean.shape == spread.shape == (37 * model.scale, 45 * model.scale)
    assert mean.dtype == spread.dtype == np.float32
    mean, spread = dask.compute(mean, spread, scheduler="threads")
    whole_mean, whole_spread = upscale_plane_numpy_tta(model, image, normalizer=normalizer)
    _assert_close(mean, whole_mean, image)
    _assert_close(spread, whole_spread, image)
    nan = np.isnan(image).repeat(model.scale, axis=0).repeat(model.scale, axis=1)
    assert np.array_equal(np.isnan(mean), nan)


@pytest.mark.parametrize("normalizer", [None, fit_percentile(_image((9, 9), 0)), ASINH])
def test_equivariant_model_has_zero_spread(normalizer):
    image = _image((20, 26), 6)
    model = NearestRepeat(3)
    mean, spread = upscale_lazy_tta(model, da.from_array(image, chunks=8), normalizer)
    mean, spread = dask.compute(mean, spread)
    np.testing.assert_array_equal(spread, 0)
    plain = upscale_plane_numpy(model, image, normalizer=normalizer)
    np.testing.assert_allclose(mean, plain, rtol=1e-6)


def test_bicubic_is_equivariant_up_to_rounding():
    # Keys' kernel is symmetric and the output phases are placed symmetrically.
    image = _image((24, 30), 7)
    mean, spread = upscale_plane_numpy_tta(BicubicModel(3), image)
    assert np.max(spread) <= 1e-6 * _data_range(image)
    _assert_close(mean, upscale_plane_numpy(BicubicModel(3), image), image)


def test_msrresnet_spread_is_positive_and_matches_manual_tta():
    model, image = MODELS["msrresnet-x2"], _image((18, 21), 8)
    mean, spread = upscale_plane_numpy_tta(model, image, normalizer=ASINH)
    assert np.max(spread) > 1e-4 * np.max(np.abs(mean - 100))
    assert np.max(spread) > 0
    halo, s = model.receptive_field_radius, model.scale
    padded = ASINH.forward(np.pad(image, halo, mode="symmetric")).astype(np.float32)
    outputs = []
    with torch.no_grad():
        for k, flip in DIHEDRAL:
            x = torch.from_numpy(dihedral(padded, k, flip).copy())[None, None]
            y = inverse_dihedral(model(x)[0, 0].numpy(), k, flip)
            outputs.append(ASINH.inverse(y[halo * s : -halo * s, halo * s : -halo * s]))
    _assert_close(mean, np.mean(outputs, axis=0), image)
    _assert_close(spread, np.std(outputs, axis=0), image)


def test_tta_with_stack_and_subtiles():
    model = MODELS["msrresnet-x2"]
    stack = _image((3, 30, 34), 9)
    mean, spread = upscale_lazy_tta(
        model, da.from_array(stack, chunks=(3, 30, 17)), None, batch_tiles=2, max_tile_pixels=400
    )
    assert mean.shape == (3, 60, 68)
    mean, spread = dask.compute(mean, spread)
    for t in range(3):
        whole_mean, whole_spread = upscale_plane_numpy_tta(model, stack[t])
        _assert_close(mean[t], whole_mean, stack)
        _assert_close(spread[t], whole_spread, stack)
