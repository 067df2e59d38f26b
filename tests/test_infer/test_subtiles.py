import dask.array as da
import numpy as np
import pytest
import torch
from torch import nn

from srgan_sci.infer.subtiles import MIN_CORE, choose_tile_pixels, run_cropped
from srgan_sci.infer.tiling import BicubicModel, upscale_lazy, upscale_plane_numpy
from srgan_sci.models.generator import MSRResNet
from srgan_sci.normalize import AsinhNormalizer

RTOL = 1e-5


def _msrresnet(scale: int) -> MSRResNet:
    torch.manual_seed(scale)
    return MSRResNet(channels=8, blocks=2, scale=scale)


MODELS = {"msrresnet-x2": _msrresnet(2), "bicubic-x3": BicubicModel(3)}


def _image(shape: tuple[int, ...], seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (100 + 20 * rng.standard_normal(shape)).astype(np.float32)


def _max_rel_diff(a: np.ndarray, b: np.ndarray, image: np.ndarray) -> float:
    assert np.array_equal(np.isnan(a), np.isnan(b))
    return float(np.nanmax(np.abs(a - b)) / (np.nanmax(image) - np.nanmin(image)))


@pytest.mark.parametrize("name", sorted(MODELS))
def test_subtiled_blocks_equal_whole_blocks(name):
    model = MODELS[name]
    image = _image((100, 90), 0)
    image[60:70, 5:9] = np.nan
    data = da.from_array(image, chunks=64)
    normalizer = AsinhNormalizer(sky=90.0, noise=5.0, softening=10.0, scale=30.0)
    whole = upscale_lazy(model, data, normalizer, max_tile_pixels=None).compute()
    sub = upscale_lazy(model, data, normalizer, max_tile_pixels=24 * 24, batch_tiles=3)
    sub = sub.compute()
    assert _max_rel_diff(sub, whole, image) <= RTOL
    reference = upscale_plane_numpy(model, image, normalizer=normalizer)
    assert _max_rel_diff(sub, reference, image) <= RTOL


@pytest.mark.parametrize("batch", [1, 4])
@pytest.mark.parametrize("shape", [(2, 40, 27), (1, 17, 50), (3, 20, 20)])
def test_run_cropped_subtiles_match_one_pass(shape, batch):
    model = MODELS["msrresnet-x2"]
    halo = model.receptive_field_radius
    planes = _image(shape, 1)
    whole = run_cropped(model, planes, halo, "cpu", batch)
    s = model.scale
    assert whole.shape == (shape[0], s * (shape[1] - 2 * halo), s * (shape[2] - 2 * halo))
    for side in (2 * halo + 1, 2 * halo + 5, 24):
        sub = run_cropped(model, planes, halo, "cpu", batch, side * side)
        assert _max_rel_diff(sub, whole, planes) <= RTOL


def test_tile_budget_without_room_for_a_core_raises():
    planes = _image((1, 30, 30), 2)
    with pytest.raises(ValueError, match=r"use at least 225"):
        run_cropped(MODELS["msrresnet-x2"], planes, 7, "cpu", 1, 14 * 14)
    with pytest.raises(ValueError, match="max_tile_pixels must be a positive integer"):
        upscale_lazy(BicubicModel(2), da.zeros((8, 8)), None, max_tile_pixels=0)


class OutOfMemoryAbovePixelsTestDouble(nn.Module):
    """Test double for a GPU memory limit: raises CUDA OOM for inputs above ``limit`` pixels."""

    def __init__(self, model: nn.Module, limit: int) -> None:
        super().__init__()
        self.model, self.limit = model, limit
        self.scale = model.scale
        self.receptive_field_radius = model.receptive_field_radius
        self.sizes: list[int] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pixels = x.shape[-2] * x.shape[-1]
        self.sizes.append(pixels)
        if pixels > self.limit:
            raise torch.cuda.OutOfMemoryError(f"test double: {pixels} > {self.limit} pixels")
        return self.model(x)


@pytest.mark.parametrize("budget", [None, 60 * 60])
def test_out_of_memory_halves_the_subtile_and_retries(budget):
    model = MODELS["msrresnet-x2"]
    limit = 26 * 26
    limited = OutOfMemoryAbovePixelsTestDouble(model, limit)
    image = _image((70, 64), 3)
    data = da.from_array(image, chunks=64)
    out = upscale_lazy(limited, data, None, max_tile_pixels=budget).compute(scheduler="sync")
    assert max(limited.sizes) > limit  # the limit was hit ...
    assert any(size <= limit for size in limited.sizes)  # ... and smaller tiles ran
    reference = upscale_plane_numpy(model, image)
    assert _max_rel_diff(out, reference, image) <= RTOL


def test_out_of_memory_below_the_floor_raises_clearly():
    model = MODELS["bicubic-x3"]
    halo = model.receptive_field_radius
    limited = OutOfMemoryAbovePixelsTestDouble(model, (MIN_CORE + 2 * halo - 1) ** 2)
    with pytest.raises(RuntimeError, match="out of device memory even with") as info:
        run_cropped(limited, _image((1, 64, 64), 4), halo, "cpu", 1)
    assert isinstance(info.value.__cause__, torch.cuda.OutOfMemoryError)


def test_choose_tile_pixels(monkeypatch):
    model = MODELS["msrresnet-x2"]
    assert choose_tile_pixels(model, "cpu") is None
    free = 8 * 2**30
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (free, 2 * free))
    expected = (free // 2) // (8 * 4 * 2**2 * 8)  # channels * float32 * scale**2 * factor
    assert choose_tile_pixels(model, "cuda") == expected
    assert choose_tile_pixels(model, torch.device("cuda", 0), fraction=1.0) == 2 * expected
    with pytest.raises(ValueError, match="fraction"):
        choose_tile_pixels(model, "cuda", fraction=0)
