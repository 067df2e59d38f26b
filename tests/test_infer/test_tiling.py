import dask.array as da
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from srgan_sci.infer.tiling import (
    BicubicModel,
    LanczosModel,
    canonical_chunks,
    upscale_lazy,
    upscale_plane_numpy,
)
from srgan_sci.models.generator import MSRResNet
from srgan_sci.normalize import AsinhNormalizer, PercentileNormalizer, fit_percentile

RTOL = 1e-5


def _msrresnet(scale: int) -> MSRResNet:
    torch.manual_seed(scale)
    return MSRResNet(channels=8, blocks=2, scale=scale)


MODELS = {
    "msrresnet-x2": _msrresnet(2),
    "msrresnet-x3": _msrresnet(3),
    "bicubic-x2": BicubicModel(2),
    "bicubic-x3": BicubicModel(3),
    "lanczos-x2": LanczosModel(2),
}


def _image(shape: tuple[int, ...], seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (100 + 20 * rng.standard_normal(shape)).astype(np.float32)


def _check_tiled_equals_whole(model, image, chunks, normalizer=None) -> None:
    tiled = upscale_lazy(model, da.from_array(image, chunks=chunks), normalizer)
    assert tiled.shape == (image.shape[0] * model.scale, image.shape[1] * model.scale)
    assert tiled.dtype == np.float32
    tiled = tiled.compute(scheduler="threads")
    whole = upscale_plane_numpy(model, image, normalizer=normalizer)
    data_range = float(np.nanmax(image) - np.nanmin(image))
    assert np.array_equal(np.isnan(tiled), np.isnan(whole))
    assert np.nanmax(np.abs(tiled - whole)) <= RTOL * data_range


@pytest.mark.parametrize("name", sorted(MODELS))
@settings(max_examples=8, deadline=None)
@given(
    height=st.integers(3, 48),
    width=st.integers(3, 48),
    extra_y=st.integers(0, 12),
    extra_x=st.integers(0, 12),
    seed=st.integers(0, 2**16),
)
def test_tiled_equals_whole(name, height, width, extra_y, extra_x, seed):
    model = MODELS[name]
    halo = model.receptive_field_radius
    chunks = (2 * halo + extra_y, 2 * halo + extra_x)
    _check_tiled_equals_whole(model, _image((height, width), seed), chunks)


@pytest.mark.parametrize("name", ["msrresnet-x2", "bicubic-x3"])
def test_tiled_equals_whole_with_normalizers(name):
    model = MODELS[name]
    image = _image((41, 53), 3)
    chunks = (2 * model.receptive_field_radius,) * 2
    for normalizer in (
        fit_percentile(image),
        AsinhNormalizer(sky=90.0, noise=5.0, softening=10.0, scale=30.0),
    ):
        _check_tiled_equals_whole(model, image, chunks, normalizer)


def test_edges_use_symmetric_padding():
    # dask's reflect boundary is numpy's symmetric: the first tile's edge matches a
    # manual symmetric pad of the whole image.
    model, image = BicubicModel(2), _image((20, 24), 1)
    padded = np.pad(image, 2, mode="symmetric")
    manual = model(torch.from_numpy(padded)[None, None])[0, 0, 4:-4, 4:-4].detach().numpy()
    tiled = upscale_lazy(model, da.from_array(image, chunks=(4, 5)), None).compute()
    np.testing.assert_allclose(tiled, manual, atol=1e-4)


@pytest.mark.parametrize("name", ["msrresnet-x3", "bicubic-x2"])
def test_nan_regions_map_to_scale_blocks(name):
    model = MODELS[name]
    s = model.scale
    image = _image((40, 36), 7)
    image[5:9, 10:20] = np.nan
    image[30, 0] = np.nan
    chunks = (2 * model.receptive_field_radius,) * 2
    tiled = upscale_lazy(model, da.from_array(image, chunks=chunks), None).compute()
    expected = np.isnan(image).repeat(s, axis=0).repeat(s, axis=1)
    assert np.array_equal(np.isnan(tiled), expected)
    _check_tiled_equals_whole(model, image, chunks)


def test_constant_image_stays_constant_in_input_units():
    image = np.full((30, 34), 1234.5, dtype=np.float32)
    normalizer = PercentileNormalizer(low=1000.0, high=2000.0)
    for model in (BicubicModel(2), BicubicModel(3), LanczosModel(2)):
        out = upscale_lazy(model, da.from_array(image, chunks=(8, 9)), normalizer).compute()
        np.testing.assert_allclose(out, 1234.5, rtol=1e-6)


@pytest.mark.parametrize("scale", [2, 3])
def test_bicubic_reproduces_linear_ramp(scale):
    height, width = 32, 40
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    ramp = lambda y, x: 5000.0 + 30.0 * x - 12.0 * y  # noqa: E731
    image = ramp(y, x).astype(np.float32)
    normalizer = fit_percentile(image)  # fitted once on the whole image
    out = upscale_lazy(
        BicubicModel(scale), da.from_array(image, chunks=(6, 7)), normalizer
    ).compute()
    hr_y, hr_x = (np.mgrid[0 : height * scale, 0 : width * scale] + 0.5) / scale - 0.5
    expected = ramp(hr_y, hr_x)
    margin = 2 * scale  # symmetric edges bend the ramp within the kernel support
    inner = (slice(margin, -margin),) * 2
    np.testing.assert_allclose(out[inner], expected[inner], rtol=0, atol=1e-3)


def test_chunk_smaller_than_twice_halo_raises():
    model = MODELS["msrresnet-x2"]  # halo 7
    data = da.zeros((40, 40), chunks=(10, 40), dtype=np.float32)
    with pytest.raises(ValueError, match=r"chunk size 10 is smaller than 2 x halo 7"):
        upscale_lazy(model, data, None)
    with pytest.raises(ValueError, match=r"--chunk >= 6"):
        upscale_lazy(BicubicModel(2), da.zeros((40, 40), chunks=(40, 5)), None, halo=3)


def test_single_chunk_axis_shorter_than_halo():
    model = MODELS["msrresnet-x2"]
    _check_tiled_equals_whole(model, _image((4, 50), 2), (4, 14))


@pytest.mark.parametrize("batch_tiles", [1, 2, 4])
def test_leading_axes_are_planes(batch_tiles):
    model = MODELS["msrresnet-x2"]
    stack = _image((3, 2, 30, 31), 11)
    stack[1, 0, :3, :3] = np.nan
    out = upscale_lazy(
        model, da.from_array(stack, chunks=(2, 2, 15, 16)), None, batch_tiles=batch_tiles
    )
    assert out.shape == (3, 2, 60, 62)
    assert out.chunks[0] == (1, 1, 1)
    result = out.compute()
    data_range = float(np.nanmax(stack) - np.nanmin(stack))
    for t in range(3):
        for c in range(2):
            whole = upscale_plane_numpy(model, stack[t, c])
            assert np.array_equal(np.isnan(result[t, c]), np.isnan(whole))
            assert np.nanmax(np.abs(result[t, c] - whole)) <= RTOL * data_range


class _CountingModel(BicubicModel):
    calls = 0

    def forward(self, x):
        type(self).calls += 1
        return super().forward(x)


def test_building_the_graph_computes_nothing():
    model = _CountingModel(2)
    image = da.from_array(_image((3, 40, 40), 0), chunks=(1, 10, 10))
    out = upscale_lazy(model, image, fit_percentile(image))
    assert _CountingModel.calls == 0
    out[0, :20, :20].compute()
    assert 0 < _CountingModel.calls < 16


def test_canonical_chunks_merge_short_remainder():
    assert canonical_chunks(50, 16, 5) == (16, 16, 18)
    assert canonical_chunks(53, 16, 5) == (16, 16, 16, 5)
    assert canonical_chunks(10, 16, 5) == (10,)


def test_baseline_interface():
    assert BicubicModel(3).receptive_field_radius == 2
    assert LanczosModel(3).receptive_field_radius == 3
    out = BicubicModel(3)(torch.zeros(2, 1, 5, 7))
    assert out.shape == (2, 1, 15, 21)
    with pytest.raises(ValueError, match="positive integer"):
        BicubicModel(0)


def test_model_is_one_graph_key_shared_by_every_tile():
    model = BicubicModel(2)
    data = da.from_array(np.random.default_rng(0).random((64, 64), dtype=np.float32), chunks=16)
    graph = dict(upscale_lazy(model, data, None).__dask_graph__())
    model_keys = [k for k in graph if str(k).startswith("srsci-model-")]
    assert len(model_keys) == 1
    assert graph[model_keys[0]] is model or getattr(graph[model_keys[0]], "value", None) is model
