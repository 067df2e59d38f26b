"""FITS reading: HDU selection, and one-line errors for unusable, truncated or missing files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from fits_cases import make_image_file, write_raw_fits, write_sparse_fits

from srgan_sci.errors import CorruptFileError, InputNotFoundError, InvalidImageError
from srgan_sci.io.fits import read_fits


@pytest.fixture
def image_file(tmp_path: Path) -> Path:
    return make_image_file(tmp_path)


# --------------------------------------------------------------------------------------
# HDU selection and errors
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("selector", "index", "sign"),
    [(None, 1, 1), ("1", 1, 1), ("SCI", 1, 1), ("sci", 1, 1), ("SCI,2", 3, -1), ("3", 3, -1)],
)
def test_hdu_selection(image_file, selector, index, sign):
    image = read_fits(image_file, hdu=selector, chunks=None)
    expected = sign * np.arange(30 * 50, dtype=np.float32).reshape(30, 50)
    np.testing.assert_array_equal(image.data.compute(), expected)
    assert image.meta.extra["hdu_index"] == index
    suffix = "" if selector is None else f"[{selector}]"
    assert image.meta.source == f"{image_file}{suffix}"


def test_integer_hdu_selected_by_name(image_file):
    image = read_fits(image_file, hdu="ERR", chunks=None)
    assert image.meta.dtype_on_disk == "int16"
    np.testing.assert_array_equal(image.data.compute(), np.ones((30, 50), np.float32))


@pytest.mark.parametrize("selector", ["NOPE", "7", "SCI,9"])
def test_missing_hdu_lists_available_hdus(image_file, selector):
    with pytest.raises(InputNotFoundError) as caught:
        read_fits(image_file, hdu=selector, chunks=None)
    message = str(caught.value)
    assert "\n" not in message
    for name in ("PRIMARY", "SCI,1", "ERR,1", "SCI,2", "CAT,1"):
        assert name in message


def test_table_hdu_is_not_an_image(image_file):
    with pytest.raises(InvalidImageError, match="binary table") as caught:
        read_fits(image_file, hdu="CAT", chunks=None)
    assert "SCI" in str(caught.value)  # says which HDUs are images


def test_ascii_table_hdu_is_not_an_image(tmp_path):
    table = fits.TableHDU.from_columns([fits.Column("a", "E15.7", array=np.arange(3.0))])
    path = tmp_path / "ascii.fits"
    fits.HDUList([fits.PrimaryHDU(), table]).writeto(path)
    with pytest.raises(InvalidImageError, match="table"):
        read_fits(path, hdu="1", chunks=None)


def test_empty_primary_selected_explicitly(image_file):
    with pytest.raises(InvalidImageError, match="no data"):
        read_fits(image_file, hdu="0", chunks=None)


def test_file_without_image_data(tmp_path):
    table = fits.BinTableHDU.from_columns([fits.Column("a", "J", array=np.arange(3))])
    path = tmp_path / "table.fits"
    fits.HDUList([fits.PrimaryHDU(), table]).writeto(path)
    with pytest.raises(InvalidImageError, match="no HDU holds image data"):
        read_fits(path, hdu=None, chunks=None)


@pytest.mark.parametrize(
    ("shape", "match"),
    [((10,), "1-D"), ((1, 1, 1, 1, 2, 2), "6-D"), ((0, 5), "zero-size")],
)
def test_unusable_shapes(tmp_path, shape, match):
    path = write_raw_fits(tmp_path / "bad.fits", np.zeros(shape, np.float32))
    with pytest.raises(InvalidImageError, match=match):
        read_fits(path, hdu=None, chunks=None)


def test_truncated_data_is_corrupt_at_open(tmp_path):
    path = tmp_path / "cut.fits"
    fits.writeto(path, np.zeros((100, 100), np.float32))
    with path.open("r+b") as file:
        file.truncate(2880 + 100 * 100 * 4 - 1000)
    with pytest.raises(CorruptFileError, match="truncated"):
        read_fits(path, hdu=None, chunks=None)


def test_missing_padding_is_not_truncation(tmp_path):
    values = np.arange(25, dtype=np.float32).reshape(5, 5)
    path = tmp_path / "unpadded.fits"
    fits.writeto(path, values)
    with path.open("r+b") as file:
        file.truncate(2880 + values.nbytes)  # data complete, only the padding is missing
    np.testing.assert_array_equal(read_fits(path, hdu=None, chunks=None).data.compute(), values)


def test_truncated_sparse_file_is_corrupt(tmp_path):
    path = write_sparse_fits(tmp_path / "big.fits", (3000, 3000), -32)
    with path.open("r+b") as file:
        file.truncate(path.stat().st_size // 2)
    with pytest.raises(CorruptFileError):
        read_fits(path, hdu=None, chunks=None)


def test_truncated_last_extension_is_corrupt(image_file):
    with image_file.open("r+b") as file:
        file.truncate(image_file.stat().st_size - 3000)
    with pytest.raises(CorruptFileError):
        read_fits(image_file, hdu="SCI", chunks=None)


def test_truncated_header_is_corrupt(tmp_path):
    path = tmp_path / "cut.fits"
    fits.writeto(path, np.zeros((10, 10), np.float32))
    with path.open("r+b") as file:
        file.truncate(1000)
    with pytest.raises(CorruptFileError):
        read_fits(path, hdu=None, chunks=None)


@pytest.mark.parametrize("content", [b"this is not FITS\n" * 20, b""])
def test_non_fits_file_is_corrupt(tmp_path, content):
    path = tmp_path / "notes.fits"
    path.write_bytes(content)
    with pytest.raises(CorruptFileError) as caught:
        read_fits(path, hdu=None, chunks=None)
    assert "\n" not in str(caught.value)


def test_missing_file(tmp_path):
    with pytest.raises(InputNotFoundError):
        read_fits(tmp_path / "absent.fits", hdu=None, chunks=None)
