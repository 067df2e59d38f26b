import numpy as np
import pytest
import torch
from astropy.io import fits
from astropy.wcs import WCS

from srgan_sci.io import open_array
from srgan_sci.models.bundle import BundleMetadata, save_bundle
from srgan_sci.models.generator import MSRResNet
from srgan_sci.workflows import sample_path


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    torch.manual_seed(0)
    generator = MSRResNet(channels=8, blocks=1, scale=2)
    metadata = BundleMetadata(
        arch="msrresnet", arch_config=generator.config(), scale=2, in_channels=1,
        out_channels=1, normalizer=None, degradation=None, training={}, name="tiny",
    )  # fmt: skip
    return save_bundle(tmp_path_factory.mktemp("bundle") / "model", generator, metadata)


def test_fits_upscale_keeps_wcs_units_and_nans(srsci, tmp_path):
    source = tmp_path / "hdf.fits"
    with fits.open(sample_path("hdf")) as hdul:
        data, header = hdul[0].data.astype(np.float32), hdul[0].header
        data[100:110, 50:60] = np.nan
        fits.writeto(source, data, header)
    out = tmp_path / "up.fits"
    srsci(
        "upscale",
        str(source),
        str(out),
        "--model",
        "bicubic",
        "--scale",
        "2",
        "--chunk",
        "64",
        "--no-progress",
    )
    with fits.open(out) as hdul:
        result, new_header = hdul[0].data, hdul[0].header
    assert result.shape == (512, 512) and new_header["BUNIT"] == "adu"
    assert np.isnan(result[200:220, 100:120]).all() and np.isnan(result).sum() == 400
    # world coordinates of output pixel centres = input WCS at (i + 0.5) / 2 - 0.5
    i = np.array([0.0, 17.0, 255.0, 511.0])
    world_out = WCS(new_header).pixel_to_world_values(i, i[::-1])
    world_in = WCS(header).pixel_to_world_values((i + 0.5) / 2 - 0.5, (i[::-1] + 0.5) / 2 - 0.5)
    np.testing.assert_allclose(world_out, world_in, atol=1e-10)
    # bicubic keeps the input's physical scale (statistics inverted, not per tile); BUNIT
    # 'adu' counts per pixel, so values are divided by 2**2 and the total flux is kept
    assert new_header["SRUNITS"] == "per-pixel" and new_header["SRFLUXC"] is True
    assert 4 * np.nanmean(result) == pytest.approx(np.nanmean(data), rel=0.01)


def test_bundle_upscale_to_ome_zarr_equals_untiled_result(srsci, bundle, tmp_path):
    out_tiled, out_whole = tmp_path / "tiled.ome.zarr", tmp_path / "whole.ome.zarr"
    source = str(sample_path("hdf"))
    srsci("upscale", source, str(out_tiled), "--model", str(bundle), "--chunk", "48",
          "--normalizer", "percentile", "--no-progress")  # fmt: skip
    srsci("upscale", source, str(out_whole), "--model", str(bundle), "--chunk", "256",
          "--normalizer", "percentile", "--no-progress")  # fmt: skip
    tiled = open_array(out_tiled).data.compute()
    whole = open_array(out_whole).data.compute()
    assert tiled.shape == (512, 512)
    data_range = float(np.nanmax(whole) - np.nanmin(whole))
    assert np.max(np.abs(tiled - whole)) <= 1e-5 * data_range


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--model", "bicubic"], "--scale is required"),
        (["--scale", "3", "--model", "BUNDLE"], "does not match the model's scale 2"),
        (["--model", "bicubic", "--scale", "2", "--chunk", "2"], "smaller than 2 x halo"),
        (["--model", "PICKLE"], "pickle"),
    ],
)
def test_upscale_bad_input_is_one_line_error(srsci, bundle, tmp_path, extra, message):
    pickle_dir = tmp_path / "notabundle"
    pickle_dir.mkdir()
    torch.save({"w": torch.zeros(1)}, pickle_dir / "model.pth")
    extra = [
        str(bundle) if a == "BUNDLE" else str(pickle_dir / "model.pth") if a == "PICKLE" else a
        for a in extra
    ]
    out = tmp_path / "out.ome.zarr"
    result = srsci("upscale", str(sample_path("hdf")), str(out), *extra, check_rc=2)
    assert result.stderr.count("\n") == 1 and message in result.stderr
    assert not out.exists()


def test_upscale_refuses_to_overwrite(srsci, tmp_path):
    out = tmp_path / "exists.fits"
    out.write_bytes(b"user data")
    result = srsci(
        "upscale",
        str(sample_path("hdf")),
        str(out),
        "--model",
        "bicubic",
        "--scale",
        "2",
        check_rc=2,
    )
    assert "--overwrite" in result.stderr and out.read_bytes() == b"user data"


def test_tta_writes_mean_and_uncertainty_channels(srsci, bundle, tmp_path):
    plain, tta = tmp_path / "plain.ome.zarr", tmp_path / "tta.ome.zarr"
    common = ["--model", str(bundle), "--chunk", "64", "--no-progress"]
    srsci("upscale", str(sample_path("hdf")), str(plain), *common)
    srsci("upscale", str(sample_path("hdf")), str(tta), "--tta", *common)
    image = open_array(tta)
    assert image.meta.axes == "cyx" and image.data.shape == (2, 512, 512)
    mean, spread = image.data.compute()
    reference = open_array(plain).data.compute()
    data_range = float(reference.max() - reference.min())
    assert np.all(spread >= 0) and spread.max() > 0  # a random-weight net is not equivariant
    assert np.max(np.abs(mean - reference)) < 0.05 * data_range


def test_bf16_precision_is_close_to_float32_and_fp16_needs_cuda(srsci, bundle, tmp_path):
    full, half = tmp_path / "f32.ome.zarr", tmp_path / "bf16.ome.zarr"
    common = ["--model", str(bundle), "--chunk", "64", "--device", "cpu", "--no-progress"]
    srsci("upscale", str(sample_path("hdf")), str(full), *common)
    srsci("upscale", str(sample_path("hdf")), str(half), "--precision", "bf16", *common)
    a, b = open_array(full).data.compute(), open_array(half).data.compute()
    data_range = float(a.max() - a.min())
    assert 0 < np.max(np.abs(a - b)) < 0.02 * data_range
    result = srsci("upscale", str(sample_path("hdf")), str(tmp_path / "x.ome.zarr"),
                   "--precision", "fp16", *common, check_rc=2)  # fmt: skip
    assert "fp16 inference needs a CUDA device" in result.stderr


def test_ome_tiff_input_keeps_physical_pixel_sizes(srsci, tmp_path):
    import tifffile

    source = tmp_path / "cells.ome.tif"
    image = np.random.default_rng(0).random((2, 40, 48), dtype=np.float32)
    tifffile.imwrite(
        source, image, ome=True,
        metadata={"axes": "ZYX", "PhysicalSizeX": 0.13, "PhysicalSizeY": 0.13,
                  "PhysicalSizeXUnit": "µm", "PhysicalSizeYUnit": "µm"},
    )  # fmt: skip
    out = tmp_path / "cells_x2.ome.zarr"
    srsci(
        "upscale",
        str(source),
        str(out),
        "--model",
        "bicubic",
        "--scale",
        "2",
        "--chunk",
        "16",
        "--no-progress",
    )
    result = open_array(out)
    assert result.data.shape == (2, 80, 96) and result.meta.axes == "zyx"
    assert result.meta.pixel_sizes["x"].value == pytest.approx(0.065)
    assert result.meta.pixel_sizes["y"].value == pytest.approx(0.065)
    assert result.data.chunksize[-2:] == (32, 32)  # output chunks = input chunks x s


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("precision", ["float32", "bf16", "fp16"])
def test_cuda_upscale_matches_cpu(srsci, bundle, tmp_path, precision):
    cpu, gpu = tmp_path / "cpu.ome.zarr", tmp_path / "gpu.ome.zarr"
    common = ["--model", str(bundle), "--chunk", "64", "--no-progress"]
    srsci("upscale", str(sample_path("hdf")), str(cpu), "--device", "cpu", *common)
    srsci("upscale", str(sample_path("hdf")), str(gpu), "--device", "cuda",
          "--precision", precision, *common)  # fmt: skip
    a, b = open_array(cpu).data.compute(), open_array(gpu).data.compute()
    tolerance = 1e-4 if precision == "float32" else 0.02
    assert np.max(np.abs(a - b)) <= tolerance * float(a.max() - a.min())
