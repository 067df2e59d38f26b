import dask.array as da
import numpy as np
import zarr

from srgan_sci.streaming import band_edges, store_in_bands


def test_band_edges_cover_axis_in_whole_chunks():
    assert band_edges((4, 4, 4, 3), 8) == [(0, 8), (8, 15)]
    assert band_edges((10,), 3) == [(0, 10)]
    assert band_edges((2, 2, 2), 1) == [(0, 2), (2, 4), (4, 6)]


def test_store_in_bands_writes_aligned_pairs_exactly(tmp_path):
    rng = np.random.default_rng(0)
    hr = rng.random((2, 96, 64)).astype(np.float32)
    lr = hr.reshape(2, 24, 4, 16, 4).sum(axis=(2, 4))
    sources = [da.from_array(hr, chunks=(1, 32, 64)), da.from_array(lr, chunks=(1, 8, 16))]
    group = zarr.open_group(tmp_path / "out.zarr", mode="w")
    targets = [
        group.create_array("hr", shape=hr.shape, chunks=(1, 32, 64), dtype="f4"),
        group.create_array("lr", shape=lr.shape, chunks=(1, 8, 16), dtype="f4"),
    ]
    # a band budget of one chunk row forces three bands
    store_in_bands(sources, targets, band_bytes=2 * 32 * 64 * 4, progress=False)
    np.testing.assert_array_equal(targets[0][:], hr)
    np.testing.assert_array_equal(targets[1][:], lr)
