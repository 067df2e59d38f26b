"""Zarr (v2, v3) and OME-Zarr (NGFF 0.4, 0.5) reading and OME-Zarr writing on real stores."""

from __future__ import annotations

import pickle
import tracemalloc
from pathlib import Path

import dask.array as da
import numpy as np
import pytest
import zarr
from astropy.io import fits
from astropy.wcs import WCS
from hypothesis import given, settings
from hypothesis import strategies as st
from ome_zarr.format import FormatV04

from srgan_sci.errors import CorruptFileError, InvalidImageError, UnsupportedFormatError
from srgan_sci.io import ImageMetadata, PixelSize, open_array, upscaled_metadata, write_array
from srgan_sci.io.ngff import ngff_axis_order, ngff_unit
from srgan_sci.io.zarr_io import downsample_mean2, read_zarr, write_zarr

SCALE = {"t": 5.0, "c": 1.0, "y": 0.4, "x": 0.3}
UNITS = {"t": "second", "y": "micrometer", "x": "micrometer"}


def _timelapse() -> np.ndarray:
    rng = np.random.default_rng(1)
    return rng.normal(100, 10, (3, 2, 48, 40)).astype(np.float32)  # t c y x


def _write_image(*args: object, **kwargs: object) -> None:
    # Imported here, after srgan_sci.io.zarr_io has imported ome_zarr.writer without its
    # import-time DeprecationWarning.
    from ome_zarr.writer import write_image

    write_image(*args, **kwargs)


def _upscale(data: np.ndarray, s: int) -> np.ndarray:
    return data.repeat(s, axis=-2).repeat(s, axis=-1)


@pytest.fixture
def ngff_v05(tmp_path: Path) -> tuple[Path, np.ndarray]:
    data = _timelapse()
    path = tmp_path / "timelapse.ome.zarr"
    _write_image(data, str(path), axes="tcyx", scale=SCALE, axes_units=UNITS, scale_factors=[2])
    return path, data


@pytest.fixture
def ngff_v04(tmp_path: Path) -> tuple[Path, np.ndarray]:
    data = _timelapse()
    path = tmp_path / "timelapse_v04.ome.zarr"
    group = zarr.open_group(str(path), mode="w", zarr_format=2)
    _write_image(
        data, group, axes="tcyx", fmt=FormatV04(), scale=SCALE, axes_units=UNITS, scale_factors=[2]
    )
    return path, data


# --------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_plain_array(tmp_path: Path, zarr_format: int) -> None:
    data = np.arange(5 * 30 * 20, dtype=np.uint16).reshape(5, 30, 20)
    path = tmp_path / "plain.zarr"
    array = zarr.create_array(
        str(path), shape=data.shape, chunks=(1, 16, 16), dtype=data.dtype, zarr_format=zarr_format
    )
    array[:] = data
    image = open_array(path)
    assert isinstance(image.data, da.Array)
    assert image.data.dtype == np.float32
    assert image.data.chunksize == (1, 16, 16)  # the store's own chunks
    assert image.meta.axes == "zyx"
    assert image.meta.format == "zarr"
    assert image.meta.dtype_on_disk == "uint16"
    assert image.meta.extra["zarr_format"] == zarr_format
    assert image.meta.pixel_sizes == {}
    np.testing.assert_array_equal(image.data.compute(), data)
    assert read_zarr(path, chunks=8).data.chunksize == (1, 8, 8)


@pytest.mark.parametrize("fixture", ["ngff_v05", "ngff_v04"])
def test_ngff_image(fixture: str, request: pytest.FixtureRequest) -> None:
    path, data = request.getfixturevalue(fixture)
    image = open_array(path)
    assert image.meta.axes == "tcyx"
    assert image.data.shape == data.shape
    assert image.meta.pixel_sizes == {
        "t": PixelSize(5.0, "second"),
        "y": PixelSize(0.4, "micrometer"),
        "x": PixelSize(0.3, "micrometer"),
    }
    assert image.meta.extra["ngff"]["datasets"][0]["path"] == "s0"
    assert image.meta.extra["zarr_format"] == (2 if fixture == "ngff_v04" else 3)
    np.testing.assert_array_equal(image.data.compute(), data)


def test_array_inside_ngff_group_takes_that_level_scale(ngff_v05: tuple[Path, np.ndarray]) -> None:
    path, _ = ngff_v05
    level1 = read_zarr(path / "s1")
    assert level1.meta.axes == "tcyx"
    assert level1.data.shape == (3, 2, 24, 20)
    assert level1.meta.pixel_sizes["x"] == PixelSize(0.6, "micrometer")
    assert level1.meta.pixel_sizes["y"] == PixelSize(0.8, "micrometer")


def test_global_scale_and_old_string_axes(tmp_path: Path) -> None:
    path = tmp_path / "old.zarr"
    group = zarr.open_group(str(path), mode="w", zarr_format=2)
    group.create_array("0", shape=(4, 6, 8), dtype="float32")
    group.attrs["multiscales"] = [
        {
            "version": "0.3",
            "axes": ["Z", "Y", "X"],
            "datasets": [
                {"path": "0", "coordinateTransformations": [{"type": "scale", "scale": [2, 3, 4]}]}
            ],
            "coordinateTransformations": [{"type": "scale", "scale": [0.5, 0.5, 0.5]}],
        }
    ]
    image = read_zarr(path)
    assert image.meta.axes == "zyx"
    assert image.meta.pixel_sizes == {
        "z": PixelSize(1.0),
        "y": PixelSize(1.5),
        "x": PixelSize(2.0),
    }


def test_dask_graph_pickles(ngff_v05: tuple[Path, np.ndarray]) -> None:
    path, data = ngff_v05
    clone = pickle.loads(pickle.dumps(read_zarr(path, chunks=16).data))
    np.testing.assert_array_equal(clone.compute(), data)


def test_group_with_one_array_is_read(tmp_path: Path) -> None:
    path = tmp_path / "one.zarr"
    group = zarr.open_group(str(path), mode="w")
    group.create_array("image", shape=(6, 7), dtype="int32")[:] = 3
    image = read_zarr(path)
    assert image.meta.axes == "yx"
    assert float(image.data.sum().compute()) == 3 * 42


# --------------------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------------------


def test_group_with_several_arrays_asks_for_one(tmp_path: Path) -> None:
    path = tmp_path / "several.zarr"
    group = zarr.open_group(str(path), mode="w")
    for name in ("raw", "mask"):
        group.create_array(name, shape=(4, 4), dtype="float32")
    with pytest.raises(InvalidImageError, match=r"mask, raw.*several.zarr/mask"):
        open_array(path)
    assert open_array(path / "raw").data.shape == (4, 4)


def test_directory_that_is_not_zarr(tmp_path: Path) -> None:
    empty = tmp_path / "empty.zarr"
    empty.mkdir()
    with pytest.raises(UnsupportedFormatError, match="not a Zarr store"):
        read_zarr(empty)


def test_unreadable_metadata_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "broken.zarr"
    path.mkdir()
    (path / "zarr.json").write_text("{ not json")
    with pytest.raises(CorruptFileError):
        open_array(path)


def test_complex_array_is_invalid(tmp_path: Path) -> None:
    path = tmp_path / "complex.zarr"
    zarr.create_array(str(path), shape=(4, 4), dtype="complex64")
    with pytest.raises(InvalidImageError, match="complex64"):
        open_array(path)


def test_one_dimensional_array_is_invalid(tmp_path: Path) -> None:
    path = tmp_path / "line.zarr"
    zarr.create_array(str(path), shape=(10,), dtype="float32")
    with pytest.raises(InvalidImageError, match="1-D"):
        open_array(path)


# --------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("scale", [2, 3])
def test_round_trip_upscaled(ngff_v05: tuple[Path, np.ndarray], tmp_path: Path, scale: int) -> None:
    path, data = ngff_v05
    image = open_array(path)
    upscaled = _upscale(data, scale)
    upscaled[0, 1, :3, 7] = np.nan
    out = write_array(
        tmp_path / "up.ome.zarr",
        da.from_array(upscaled, chunks=(1, 1, 40, 40)),
        upscaled_metadata(image.meta, scale),
        chunks=32,
    )
    assert zarr.open_array(str(out / "0"), mode="r").chunks == (1, 1, 32, 32)
    again = open_array(out)
    assert again.meta.axes == "tcyx"
    assert again.meta.pixel_sizes["t"] == PixelSize(5.0, "second")
    for axis in "xy":
        assert again.meta.pixel_sizes[axis].value == pytest.approx(
            image.meta.pixel_sizes[axis].value / scale, rel=1e-12
        )
        assert again.meta.pixel_sizes[axis].unit == "micrometer"
    result = again.data.compute()
    assert result.dtype == np.float32
    np.testing.assert_array_equal(np.isnan(result), np.isnan(upscaled))
    np.testing.assert_array_equal(result, upscaled)


def test_pyramid_levels(tmp_path: Path) -> None:
    data = np.random.default_rng(2).random((2, 37, 50)).astype(np.float32)
    meta = ImageMetadata(
        "cells.tif",
        "tiff",
        "zyx",
        "uint16",
        pixel_sizes={
            "x": PixelSize(0.1, "µm"),
            "y": PixelSize(0.1, "µm"),
            "z": PixelSize(0.5, "µm"),
        },
    )
    out = write_array(
        tmp_path / "pyr.ome.zarr", da.from_array(data, chunks=(1, 16, 16)), meta, pyramid_levels=2
    )
    group = zarr.open_group(str(out), mode="r")
    datasets = group.attrs["ome"]["multiscales"][0]["datasets"]
    assert [d["path"] for d in datasets] == ["0", "1", "2"]
    assert [group[d["path"]].shape for d in datasets] == [(2, 37, 50), (2, 18, 25), (2, 9, 12)]
    scales = [d["coordinateTransformations"][0]["scale"] for d in datasets]
    assert scales == [[0.5, 0.1, 0.1], [0.5, 0.2, 0.2], [0.5, 0.4, 0.4]]
    expected = data[:, :36, :50].reshape(2, 18, 2, 25, 2).mean(axis=(2, 4))
    np.testing.assert_allclose(group["1"][:], expected, rtol=1e-6)
    level2 = open_array(out / "2")
    assert level2.meta.pixel_sizes["x"] == PixelSize(0.4, "micrometer")
    assert level2.data.shape == (2, 9, 12)


def test_too_many_pyramid_levels(tmp_path: Path) -> None:
    meta = ImageMetadata("a", "zarr", "yx", "f4")
    with pytest.raises(ValueError, match="pyramid_levels=4"):
        write_zarr(tmp_path / "a.zarr", da.zeros((12, 12)), meta, pyramid_levels=4)


def test_leading_axes_put_in_ngff_order(tmp_path: Path) -> None:
    data = np.arange(2 * 3 * 4 * 5 * 6, dtype=np.float32).reshape(2, 3, 4, 5, 6)  # t z c y x
    meta = ImageMetadata(
        "stack.tif", "tiff", "tzcyx", "uint16", pixel_sizes={"z": PixelSize(2.0, "micron")}
    )
    out = write_array(tmp_path / "stack.zarr", da.from_array(data), meta)
    again = open_array(out)
    assert again.meta.axes == "tczyx"
    assert again.meta.pixel_sizes["z"] == PixelSize(2.0, "micrometer")
    np.testing.assert_array_equal(again.data.compute(), data.transpose(0, 2, 1, 3, 4))
    assert zarr.open_array(str(out / "0"), mode="r").metadata.dimension_names == tuple("tczyx")


def test_units_and_unknown_pixel_units_survive(tmp_path: Path) -> None:
    meta = ImageMetadata(
        "sky.fits",
        "fits",
        "yx",
        ">i2",
        units="Jy/beam",
        pixel_sizes={"x": PixelSize(2e-4, "deg"), "y": PixelSize(2e-4, "deg")},
    )
    out = write_array(tmp_path / "sky.zarr", da.zeros((8, 8)), meta)
    axes = zarr.open_group(str(out), mode="r").attrs["ome"]["multiscales"][0]["axes"]
    assert all("unit" not in axis for axis in axes)  # 'deg' is no NGFF unit
    again = open_array(out)
    assert again.meta.units == "Jy/beam"
    assert again.meta.pixel_sizes == {"x": PixelSize(2e-4, "deg"), "y": PixelSize(2e-4, "deg")}
    assert again.meta.extra["srgan_sci"]["source"] == "sky.fits"


def test_fits_header_survives_zarr_round_trip(tmp_path: Path) -> None:
    header = fits.Header()
    header["CTYPE1"], header["CTYPE2"] = "RA---TAN", "DEC--TAN"
    header["CRPIX1"], header["CRPIX2"] = 16.5, 12.0
    header["CRVAL1"], header["CRVAL2"] = 189.2, 62.2
    header["CDELT1"], header["CDELT2"] = -1e-4, 1e-4
    header["CUNIT1"], header["CUNIT2"] = "deg", "deg"
    header["BUNIT"] = "electron/s"
    header["HISTORY"] = "drizzled"
    fits_path = tmp_path / "field.fits"
    fits.PrimaryHDU(np.ones((24, 32), np.float32), header=header).writeto(fits_path)

    image = open_array(fits_path)
    meta = upscaled_metadata(image.meta, 2)
    out = write_array(tmp_path / "field.ome.zarr", da.ones((48, 64), dtype=np.float32), meta)
    again = open_array(out)
    assert again.meta.fits_header is not None
    for key in ("CTYPE1", "CRPIX1", "CRPIX2", "CDELT1", "CDELT2", "BUNIT"):
        assert again.meta.fits_header[key] == meta.fits_header[key]
    assert "drizzled" in str(again.meta.fits_header["HISTORY"])
    world = WCS(meta.fits_header).pixel_to_world_values(10.0, 20.0)
    np.testing.assert_allclose(WCS(again.meta.fits_header).pixel_to_world_values(10.0, 20.0), world)


def test_write_is_chunk_by_chunk(tmp_path: Path) -> None:
    data = da.random.default_rng(3).random((2048, 2048), chunks=256).astype(np.float32)  # 16 MiB
    meta = ImageMetadata("big", "zarr", "yx", "float32")
    tracemalloc.start()
    write_zarr(tmp_path / "big.zarr", data, meta, pyramid_levels=1)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 8 * 2**20
    assert zarr.open_array(str(tmp_path / "big.zarr" / "0"), mode="r").chunks == (256, 256)


# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("unit", "expected"),
    [
        ("µm", "micrometer"),
        ("um", "micrometer"),
        ("micron", "micrometer"),
        ("micrometer", "micrometer"),
        ("nm", "nanometer"),
        ("Å", "angstrom"),
        ("s", "second"),
        ("ms", "millisecond"),
        ("deg", None),
        ("pixel", None),
        (None, None),
    ],
)
def test_ngff_unit_names(unit: str | None, expected: str | None) -> None:
    assert ngff_unit(unit) == expected


def test_ngff_axis_order_rejects_bad_axes() -> None:
    assert ngff_axis_order("zcyx", 4) == [1, 0, 2, 3]
    with pytest.raises(ValueError, match="axes"):
        ngff_axis_order("qyx", 3)
    with pytest.raises(ValueError, match="axes"):
        ngff_axis_order("yx", 3)


@settings(max_examples=40, deadline=None)
@given(
    ny=st.integers(2, 40),
    nx=st.integers(2, 40),
    cy=st.integers(1, 17),
    cx=st.integers(1, 17),
)
def test_downsample_matches_numpy(ny: int, nx: int, cy: int, cx: int) -> None:
    array = np.random.default_rng(ny * 41 + nx).random((2, ny, nx)).astype(np.float32)
    result = downsample_mean2(da.from_array(array, chunks=(1, cy, cx))).compute()
    h, w = ny // 2, nx // 2
    expected = array[:, : 2 * h, : 2 * w].reshape(2, h, 2, w, 2).mean(axis=(2, 4))
    assert result.dtype == np.float32
    np.testing.assert_allclose(result, expected, rtol=1e-6)
