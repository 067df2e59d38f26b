"""Tile-compressed FITS (``.fits.fz``): read lazily, tile by tile, through ``section``."""

import numpy as np
import pytest
from astropy.io import fits
from astropy.io.fits.hdu.compressed import section as astropy_section

from srgan_sci.io import open_array


@pytest.fixture
def decompressed_tiles(monkeypatch):
    """Record the (first, last) tile index of every decompression astropy does."""
    calls = []
    original = astropy_section.decompress_image_data_section

    def spy(*args):
        calls.append((tuple(int(i) for i in args[5]), tuple(int(i) for i in args[6])))
        return original(*args)

    monkeypatch.setattr(astropy_section, "decompress_image_data_section", spy)
    return calls


def write_fz(path, data, **options):
    hdus = [fits.PrimaryHDU(), fits.CompImageHDU(data, name="SCI", **options)]
    fits.HDUList(hdus).writeto(path)
    return path


def test_lossless_gzip_integers_are_exact(tmp_path):
    values = np.random.default_rng(1).integers(-(2**20), 2**20, (130, 97)).astype(np.int32)
    path = write_fz(tmp_path / "ints.fits.fz", values, compression_type="GZIP_1")
    image = open_array(path, chunks=(40, 33))
    assert image.data.dtype == np.float32 and image.meta.dtype_on_disk == "int32"
    np.testing.assert_array_equal(image.data.compute(), values.astype(np.float32))


def test_rice_floats_match_astropy_within_quantisation(tmp_path):
    values = np.random.default_rng(2).normal(100, 5, (120, 90)).astype(np.float32)
    path = write_fz(
        tmp_path / "rice.fits.fz", values, compression_type="RICE_1", tile_shape=(16, 90)
    )
    got = open_array(str(path) + "[SCI]", chunks=32).data.compute()
    with fits.open(path) as hdul:
        np.testing.assert_array_equal(got, hdul["SCI"].data)  # astropy's own decompression
    assert np.abs(got - values).max() < 5 / 16  # RICE quantisation: q = 16 levels per sigma
    assert np.abs(got - values).max() > 0  # it is lossy: the comparison above is not trivial


def test_opening_reads_no_tiles_and_a_chunk_reads_only_its_tiles(tmp_path, decompressed_tiles):
    values = np.arange(128 * 96, dtype=np.int32).reshape(128, 96)
    path = write_fz(
        tmp_path / "tiles.fits.fz", values, compression_type="GZIP_1", tile_shape=(16, 16)
    )
    image = open_array(path, chunks=16)
    assert decompressed_tiles == []  # open_array read headers only
    block = image.data[32:48, 16:32].compute()
    np.testing.assert_array_equal(block, values[32:48, 16:32])
    assert decompressed_tiles == [((2, 1), (2, 1))]  # one 16 x 16 tile of 48
