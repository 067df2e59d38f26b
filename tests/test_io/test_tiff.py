"""TIFF / ImageJ / OME-TIFF reading and OME-TIFF writing, on real files written by tifffile."""

from __future__ import annotations

import pickle
import tracemalloc
import warnings
from pathlib import Path

import dask.array as da
import numpy as np
import pytest
import tifffile

from srgan_sci.errors import CorruptFileError, InvalidImageError
from srgan_sci.io import ImageMetadata, PixelSize, open_array, upscaled_metadata, write_array
from srgan_sci.io.tiff import read_tiff, tiff_axes_to_letters, write_tiff
from srgan_sci.io.tiff_pixels import ome_xml_pixel_sizes


def _ramp(shape: tuple[int, ...], dtype: str) -> np.ndarray:
    return (np.arange(np.prod(shape)) % 50_000).reshape(shape).astype(dtype)


def _upscale(data: np.ndarray, s: int) -> np.ndarray:
    """Nearest-neighbour 's'-times upscale of the last two axes (the 'model output')."""
    return data.repeat(s, axis=-2).repeat(s, axis=-1)


@pytest.fixture
def plain_2d(tmp_path: Path) -> tuple[Path, np.ndarray]:
    data = _ramp((48, 64), "uint16")
    path = tmp_path / "plain.tif"
    tifffile.imwrite(path, data)
    return path, data


@pytest.fixture
def imagej_hyperstack(tmp_path: Path) -> tuple[Path, np.ndarray]:
    data = _ramp((2, 3, 4, 24, 32), "uint16")  # T Z C Y X
    path = tmp_path / "hyperstack.tif"
    tifffile.imwrite(
        path,
        data,
        imagej=True,
        resolution=(1 / 0.2, 1 / 0.25),  # pixels per unit in x, y
        metadata={"axes": "TZCYX", "spacing": 1.5, "unit": "micron", "finterval": 30.0},
    )
    return path, data


@pytest.fixture
def ome_tiff(tmp_path: Path) -> tuple[Path, np.ndarray]:
    data = _ramp((3, 40, 56), "float32") / 7
    path = tmp_path / "cells.ome.tif"
    tifffile.imwrite(
        path,
        data,
        ome=True,
        photometric="minisblack",
        metadata={
            "axes": "CYX",
            "PhysicalSizeX": 0.108,
            "PhysicalSizeXUnit": "µm",
            "PhysicalSizeY": 0.125,
            "PhysicalSizeYUnit": "µm",
        },
    )
    return path, data


# --------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------


def test_plain_2d_uint16(plain_2d: tuple[Path, np.ndarray]) -> None:
    path, data = plain_2d
    image = open_array(path)
    assert isinstance(image.data, da.Array)
    assert image.data.dtype == np.float32
    assert image.meta.axes == "yx"
    assert image.meta.format == "tiff"
    assert image.meta.dtype_on_disk == "uint16"
    assert image.meta.pixel_sizes == {}
    np.testing.assert_array_equal(image.data.compute(), data.astype(np.float32))


def test_multipage_shaped_stack(tmp_path: Path) -> None:
    data = _ramp((5, 32, 40), "int16") - 1000
    path = tmp_path / "stack.tif"
    tifffile.imwrite(path, data, photometric="minisblack")
    image = read_tiff(path)
    assert image.meta.axes == "zyx"
    assert image.data.chunksize == (1, 32, 40)
    np.testing.assert_array_equal(image.data.compute(), data)


def test_multipage_unnamed_pages_read_as_z(tmp_path: Path) -> None:
    path = tmp_path / "pages.tif"
    with tifffile.TiffWriter(path) as tif:
        for value in range(4):
            tif.write(np.full((8, 10), value, "uint8"), photometric="minisblack", metadata=None)
    image = read_tiff(path)
    assert image.meta.axes == "zyx"
    np.testing.assert_array_equal(image.data[:, 0, 0].compute(), [0, 1, 2, 3])


def test_imagej_hyperstack_axes_and_calibration(imagej_hyperstack: tuple[Path, np.ndarray]) -> None:
    path, data = imagej_hyperstack
    image = open_array(path)
    assert image.meta.axes == "tzcyx"
    assert image.data.shape == data.shape
    sizes = image.meta.pixel_sizes
    assert sizes["x"] == PixelSize(pytest.approx(0.2), "micron")
    assert sizes["y"] == PixelSize(pytest.approx(0.25), "micron")
    assert sizes["z"] == PixelSize(1.5, "micron")
    assert sizes["t"] == PixelSize(30.0, "s")
    assert image.meta.extra["imagej"]["spacing"] == 1.5
    np.testing.assert_array_equal(image.data[1, 2, 3].compute(), data[1, 2, 3])


def test_imagej_escaped_micro_sign(tmp_path: Path) -> None:
    path = tmp_path / "escaped.tif"
    metadata = {"axes": "ZYX", "unit": "\\u00B5m", "spacing": 0.5}  # as ImageJ writes it
    tifffile.imwrite(
        path, np.zeros((3, 8, 8), "uint16"), imagej=True, resolution=(4, 4), metadata=metadata
    )
    sizes = read_tiff(path).meta.pixel_sizes
    assert sizes == {
        "x": PixelSize(0.25, "µm"),
        "y": PixelSize(0.25, "µm"),
        "z": PixelSize(0.5, "µm"),
    }


def test_ome_tiff_physical_sizes(ome_tiff: tuple[Path, np.ndarray]) -> None:
    path, data = ome_tiff
    image = open_array(path)
    assert image.meta.axes == "cyx"
    assert image.meta.pixel_sizes == {"x": PixelSize(0.108, "µm"), "y": PixelSize(0.125, "µm")}
    assert "PhysicalSizeX" in image.meta.extra["ome_xml"]
    np.testing.assert_array_equal(image.data.compute(), data)


def test_ome_size_without_unit_defaults_to_micrometre() -> None:
    xml = (
        '<OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06"><Image ID="Image:0">'
        '<Pixels ID="Pixels:0" PhysicalSizeX="0.5" PhysicalSizeZ="2" PhysicalSizeZUnit="nm"'
        ' TimeIncrement="0"/></Image></OME>'
    )
    assert ome_xml_pixel_sizes(xml) == {"x": PixelSize(0.5, "µm"), "z": PixelSize(2.0, "nm")}
    assert ome_xml_pixel_sizes("<not xml") == {}


def test_rgb_samples_become_leading_channel_axis(tmp_path: Path) -> None:
    rgb = np.random.default_rng(0).integers(0, 255, (30, 20, 3), dtype=np.uint8)
    path = tmp_path / "photo.tif"
    tifffile.imwrite(path, rgb, photometric="rgb")
    image = read_tiff(path)
    assert image.meta.axes == "cyx"
    assert image.data.shape == (3, 30, 20)
    for channel in range(3):
        np.testing.assert_array_equal(image.data[channel].compute(), rgb[..., channel])


def test_resolution_tags_in_centimetres(tmp_path: Path) -> None:
    path = tmp_path / "scan.tif"
    tifffile.imwrite(
        path, np.zeros((8, 8), "uint8"), resolution=(400, 200), resolutionunit="CENTIMETER"
    )
    sizes = read_tiff(path).meta.pixel_sizes
    assert sizes == {"x": PixelSize(1 / 400, "cm"), "y": PixelSize(1 / 200, "cm")}


def test_default_resolution_gives_no_pixel_size(plain_2d: tuple[Path, np.ndarray]) -> None:
    assert read_tiff(plain_2d[0]).meta.pixel_sizes == {}


@pytest.mark.parametrize(
    ("codes", "letters"),
    [
        ("YX", "yx"),
        ("TZCYX", "tzcyx"),
        ("YXS", "yxc"),
        ("SYX", "cyx"),
        ("IYX", "zyx"),
        ("QYX", "zyx"),
        ("QQYX", "czyx"),
        ("TIYX", "tzyx"),
        ("CYXS", "cyxz"),
    ],
)
def test_axis_code_mapping(codes: str, letters: str) -> None:
    assert tiff_axes_to_letters(codes) == letters


def test_chunks_argument(imagej_hyperstack: tuple[Path, np.ndarray]) -> None:
    image = read_tiff(imagej_hyperstack[0], chunks=16)
    assert image.data.chunksize == (1, 1, 1, 16, 16)
    image = read_tiff(imagej_hyperstack[0], chunks=(8, 32))
    assert image.data.chunksize == (1, 1, 1, 8, 32)


def test_default_chunks_follow_tiles(tmp_path: Path) -> None:
    path = tmp_path / "tiled.tif"
    tifffile.imwrite(path, shape=(2000, 2100), dtype="uint16", tile=(384, 256))
    assert read_tiff(path).data.chunksize == (768, 1024)  # whole tiles, about 1024 a side


def test_open_is_lazy_on_a_large_file(tmp_path: Path) -> None:
    path = tmp_path / "large.tif"
    tifffile.imwrite(path, shape=(4, 4096, 4096), dtype="uint16", photometric="minisblack")
    tracemalloc.start()
    image = read_tiff(path)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert image.data.shape == (4, 4096, 4096)
    assert peak < 8 * 2**20  # the data are 128 MiB on disk, 256 MiB as float32
    np.testing.assert_array_equal(image.data[3, :4, :4].compute(), np.zeros((4, 4), np.float32))


def test_dask_graph_pickles(ome_tiff: tuple[Path, np.ndarray]) -> None:
    path, data = ome_tiff
    image = read_tiff(path)
    clone = pickle.loads(pickle.dumps(image.data))
    np.testing.assert_array_equal(clone.compute(), data)


# --------------------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------------------


def test_garbage_bytes_are_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "garbage.tif"
    path.write_bytes(b"this is not a tiff file at all" * 10)
    with pytest.raises(CorruptFileError, match="not a readable TIFF"):
        open_array(path)


def test_truncated_file_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "truncated.tif"
    tifffile.imwrite(path, _ramp((4, 64, 64), "float32"), photometric="minisblack")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CorruptFileError, match="truncated"):
        read_tiff(path)


def test_complex_data_is_invalid(tmp_path: Path) -> None:
    path = tmp_path / "complex.tif"
    tifffile.imwrite(path, np.ones((8, 8), np.complex64))
    with pytest.raises(InvalidImageError, match="complex64"):
        open_array(path)


def test_one_dimensional_data_is_invalid(tmp_path: Path) -> None:
    path = tmp_path / "line.tif"
    tifffile.imwrite(path, np.arange(10, dtype=np.float32))
    with pytest.raises(InvalidImageError, match="1-D"):
        read_tiff(path)


# --------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("scale", [2, 3])
def test_round_trip_ome_tiff_upscaled(
    ome_tiff: tuple[Path, np.ndarray], tmp_path: Path, scale: int
) -> None:
    path, data = ome_tiff
    image = open_array(path)
    upscaled = _upscale(data, scale)
    upscaled[0, 0, 0] = np.nan
    upscaled[2, -1, 5] = np.nan
    out = write_array(
        tmp_path / f"up{scale}.ome.tif",
        da.from_array(upscaled, chunks=(1, 32, 32)),
        upscaled_metadata(image.meta, scale),
    )
    again = open_array(out)
    assert again.meta.axes == "cyx"
    assert again.meta.dtype_on_disk == "float32"
    for axis in "xy":
        assert again.meta.pixel_sizes[axis].value == pytest.approx(
            image.meta.pixel_sizes[axis].value / scale, rel=1e-12
        )
        assert again.meta.pixel_sizes[axis].unit == "µm"
    result = again.data.compute()
    np.testing.assert_array_equal(np.isnan(result), np.isnan(upscaled))
    np.testing.assert_array_equal(result, upscaled)  # NaN == NaN for assert_array_equal


@pytest.mark.parametrize("scale", [2, 3])
def test_round_trip_imagej_upscaled(
    imagej_hyperstack: tuple[Path, np.ndarray], tmp_path: Path, scale: int
) -> None:
    path, data = imagej_hyperstack
    image = open_array(path)
    upscaled = _upscale(data.astype(np.float32) + 0.25, scale)
    out = write_array(
        tmp_path / "up.tif", da.from_array(upscaled), upscaled_metadata(image.meta, scale)
    )
    again = open_array(out)
    assert again.meta.axes == "tzcyx"
    sizes = again.meta.pixel_sizes
    assert sizes["x"] == PixelSize(pytest.approx(0.2 / scale, rel=1e-12), "µm")
    assert sizes["y"] == PixelSize(pytest.approx(0.25 / scale, rel=1e-12), "µm")
    assert sizes["z"] == PixelSize(1.5, "µm")  # not an upscaled axis
    assert sizes["t"] == PixelSize(30.0, "s")
    np.testing.assert_array_equal(again.data.compute(), upscaled)


def test_written_file_is_ome_whatever_the_name(tmp_path: Path) -> None:
    path = tmp_path / ".out.ome.tif.partial-123"
    meta = ImageMetadata("x.fits", "fits", "yx", "float32", pixel_sizes={"x": PixelSize(0.5, "nm")})
    write_tiff(path, da.ones((8, 8), chunks=4), meta)
    with tifffile.TiffFile(path) as tif:
        assert tif.is_ome
        assert tif.series[0].dtype == np.float32
        assert tif.pages.first.compression == tifffile.COMPRESSION.ADOBE_DEFLATE


def test_unit_without_ome_equivalent_is_dropped_with_warning(tmp_path: Path) -> None:
    meta = ImageMetadata(
        "sky.fits",
        "fits",
        "yx",
        ">f4",
        pixel_sizes={"x": PixelSize(1e-4, "deg"), "y": PixelSize(1e-4, "deg")},
    )
    path = tmp_path / "sky.tif"
    with pytest.warns(UserWarning, match="'deg'"):
        write_tiff(path, da.zeros((4, 4)), meta)
    assert read_tiff(path).meta.pixel_sizes == {}


def test_unitless_sizes_are_dropped_silently(tmp_path: Path) -> None:
    meta = ImageMetadata("a.zarr", "zarr", "yx", "f4", pixel_sizes={"x": PixelSize(1.0)})
    path = tmp_path / "a.tif"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        write_tiff(path, da.zeros((4, 4)), meta)
    assert read_tiff(path).meta.pixel_sizes == {}


def test_write_rejects_axes_that_do_not_match(tmp_path: Path) -> None:
    meta = ImageMetadata("a.tif", "tiff", "zyx", "f4")
    with pytest.raises(ValueError, match="axes"):
        write_tiff(tmp_path / "a.tif", da.zeros((4, 4)), meta)
