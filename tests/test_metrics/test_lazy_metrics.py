import dask.array as da
import numpy as np
import pytest
from dask.callbacks import Callback
from scipy import ndimage

from srgan_sci.metrics import MetricError, lazy_image_metrics, lazy_ssim_map, metrics_table
from srgan_sci.metrics.image import ssim_map

CHUNKS = [(37, 53), (64, 29), (11, 200), (5, 7), (150, 170)]


def pair(shape=(150, 170), seed=0, holes=False):
    rng = np.random.default_rng(seed)
    truth = ndimage.gaussian_filter(rng.normal(size=shape), 2.0) * 100 - 30
    pred = truth + rng.normal(0.0, 8.0, shape)
    if holes:
        truth[40:43, 60:66] = np.nan
        truth[36, 52] = np.nan  # on a chunk corner for (37, 53) chunks
        pred[100, 5] = pred[3, 160] = np.nan
        pred[120:, 150:] = np.nan
    return truth, pred


def assert_tables_close(lazy, eager, rel=1e-9):
    assert list(lazy) == ["psnr", "ssim", "nrmse", "mae"]
    for key, value in eager.items():
        assert lazy[key] == pytest.approx(value, rel=rel, abs=0), key


@pytest.mark.parametrize("chunks", CHUNKS)
@pytest.mark.parametrize("holes", [False, True])
@pytest.mark.parametrize("crop", [0, 7])
def test_equals_metrics_table_for_any_chunking(chunks, holes, crop):
    truth, pred = pair(holes=holes)
    lazy = lazy_image_metrics(
        da.from_array(truth, chunks=chunks),
        da.from_array(pred, chunks=chunks),
        data_range=120.0,
        crop=crop,
    )
    assert_tables_close(lazy, metrics_table(truth, pred, data_range=120.0, crop=crop))


def test_differently_chunked_inputs_and_float32():
    truth, pred = (x.astype(np.float32) for x in pair(seed=1, holes=True))
    lazy = lazy_image_metrics(
        da.from_array(truth, chunks=(37, 53)),
        da.from_array(pred, chunks=(64, 41)),
        data_range=50.0,
        crop=2,
    )
    assert_tables_close(lazy, metrics_table(truth, pred, data_range=50.0, crop=2))


def test_numpy_inputs_are_accepted():
    truth, pred = pair(seed=2)
    lazy = lazy_image_metrics(truth, pred, data_range=10.0)
    assert_tables_close(lazy, metrics_table(truth, pred, data_range=10.0))


@pytest.mark.parametrize("chunks", [(37, 53), (5, 7)])
def test_lazy_ssim_map_equals_in_memory_map(chunks):
    truth, pred = pair(seed=3, holes=True)
    lazy = lazy_ssim_map(
        da.from_array(truth, chunks=chunks), da.from_array(pred, chunks=chunks), data_range=9.0
    )
    assert lazy.shape == truth.shape and lazy.dtype == np.float64
    eager = ssim_map(truth, pred, data_range=9.0)
    computed = lazy.compute()
    np.testing.assert_array_equal(np.isnan(computed), np.isnan(eager))
    np.testing.assert_allclose(computed, eager, rtol=1e-12, atol=0)


class CountComputes(Callback):
    def __init__(self):
        super().__init__()
        self.count = 0

    def _start(self, dsk):
        self.count += 1


def test_bands_of_rows_give_the_whole_image_result():
    truth, pred = pair(seed=7, holes=True)
    t, p = da.from_array(truth, chunks=(37, 53)), da.from_array(pred, chunks=(37, 53))
    whole = lazy_image_metrics(t, p, data_range=1.0, crop=2)
    banded = lazy_image_metrics(t, p, data_range=1.0, crop=2, band_pixels=20 * truth.shape[1])
    for name, value in whole.items():
        assert banded[name] == pytest.approx(value, rel=1e-12), name


def test_one_compute_per_band():
    truth, pred = pair(seed=4, holes=True)
    counter = CountComputes()
    with counter:
        lazy_image_metrics(
            da.from_array(truth, chunks=(37, 53)),
            da.from_array(pred, chunks=(37, 53)),
            data_range=1.0,
            crop=1,
        )
    assert counter.count == 1  # the test image fits in one band


def test_errors():
    truth, pred = pair(shape=(30, 30))
    t, p = da.from_array(truth, chunks=7), da.from_array(pred, chunks=7)
    with pytest.raises(MetricError, match="same shape"):
        lazy_image_metrics(t, p[:, :-1], data_range=1.0)
    with pytest.raises(MetricError, match="data_range"):
        lazy_image_metrics(t, p, data_range=0.0)
    with pytest.raises(MetricError, match="smaller"):
        lazy_image_metrics(t, p, data_range=1.0, crop=10)
    with pytest.raises(MetricError, match="finite"):
        lazy_image_metrics(t * np.nan, p, data_range=1.0)
    holes = truth.copy()
    holes[::8, ::8] = np.nan
    with pytest.raises(MetricError, match="window"):
        lazy_image_metrics(da.from_array(holes, chunks=7), p, data_range=1.0)
