import json
import threading

import dask
import dask.array as da
import numpy as np
import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from srgan_sci.errors import NormalizationError
from srgan_sci.normalize import (
    AsinhNormalizer,
    PercentileNormalizer,
    fit_asinh,
    fit_percentile,
    normalizer_from_dict,
    sample_finite_values,
)


def sky_image(seed, shape=(64, 64), sky=100.0, noise=2.0, nan_fraction=0.0):
    """Gaussian sky with a few bright point sources and optional NaN pixels."""
    rng = np.random.default_rng(seed)
    image = rng.normal(sky, noise, shape)
    for _ in range(5):
        y, x = rng.integers(0, shape[0]), rng.integers(0, shape[1])
        image[y, x] += 10 ** rng.uniform(1, 5)
    image[rng.random(shape) < nan_fraction] = np.nan
    return image.astype(np.float32)


def assert_round_trip(norm, x):
    finite = x[np.isfinite(x)]
    data_range = float(finite.max() - finite.min()) if finite.size else 1.0
    back = norm.inverse(norm.forward(x))
    assert back.dtype == x.dtype
    np.testing.assert_array_equal(np.isnan(back), np.isnan(x))
    np.testing.assert_allclose(back, x, rtol=1e-5, atol=1e-5 * data_range)


# --------------------------------------------------------------------------- sampling


def test_sample_small_numpy_uses_all_finite_values():
    x = np.array([[1.0, np.nan, 3.0], [np.inf, -np.inf, 6.0]], dtype=np.float32)
    values = sample_finite_values(x, max_samples=100, seed=0)
    assert values.dtype == np.float64
    np.testing.assert_array_equal(values, [1.0, 3.0, 6.0])


def test_sample_large_numpy_is_deterministic_and_bounded():
    x = np.random.default_rng(1).normal(size=(300, 400))
    a = sample_finite_values(x, max_samples=5000, seed=3)
    b = sample_finite_values(x, max_samples=5000, seed=3)
    c = sample_finite_values(x, max_samples=5000, seed=4)
    assert a.shape == (5000,)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert np.isin(a, x).all()


def test_sample_small_dask_equals_numpy():
    x = sky_image(0, nan_fraction=0.1)
    np.testing.assert_array_equal(
        sample_finite_values(da.from_array(x, chunks=(7, 13))), sample_finite_values(x)
    )


def test_sample_dask_with_unknown_chunks_raises():
    x = da.from_array(np.arange(100.0), chunks=10)
    x = x[x > 50]
    with pytest.raises(NormalizationError, match="compute_chunk_sizes"):
        sample_finite_values(x, max_samples=10)


def test_sample_rejects_non_positive_max_samples():
    with pytest.raises(NormalizationError, match="max_samples"):
        sample_finite_values(np.ones(3), max_samples=0)


def counting_array(x, chunks):
    """Dask array over ``x`` that records which chunks get computed."""
    seen = []
    lock = threading.Lock()

    def record(block, block_info=None):
        with lock:
            seen.append(block_info[0]["chunk-location"])
        return block

    return da.from_array(x, chunks=chunks).map_blocks(record, dtype=x.dtype), seen


def test_large_dask_sample_computes_only_a_few_chunks():
    x = np.random.default_rng(2).normal(size=(400, 400)).astype(np.float32)
    lazy, seen = counting_array(x, chunks=(50, 50))  # 64 chunks of 2500 values
    values = sample_finite_values(lazy, max_samples=6000, seed=0)
    assert 6000 <= values.size <= 6000 + 3
    assert len(seen) == 3  # ceil(6000 / 2500) chunks, each computed once
    assert len(set(seen)) == 3


def test_dask_sampling_draws_more_chunks_when_sampled_chunks_are_nan():
    x = np.random.default_rng(3).normal(size=(400, 400))
    x[:, :200] = np.nan  # half of the chunks hold no finite value
    lazy = da.from_array(x, chunks=(50, 50))
    values = sample_finite_values(lazy, max_samples=10_000, seed=0)
    assert values.size >= 5000
    assert np.isfinite(values).all()


def test_dask_sampling_of_all_nan_array_is_empty_then_fit_explains():
    lazy = da.full((100, 100), np.nan, chunks=(10, 10))
    assert sample_finite_values(lazy, max_samples=500).size == 0
    with pytest.raises(NormalizationError, match="all sampled values are NaN"):
        fit_percentile(lazy, max_samples=500)


@pytest.fixture(scope="module")
def big_lazy():
    """40 million float32 values generated lazily: only sampled chunks are ever computed."""
    rng = da.random.default_rng(42)
    return rng.gamma(2.0, 10.0, size=(8000, 5000), chunks=(1000, 1000)).astype(np.float32) - 5.0


@pytest.fixture(scope="module")
def big_exact(big_lazy):
    values = big_lazy.compute().ravel()
    low, high, p999 = np.percentile(values, [1.0, 99.8, 99.9])
    return {"low": low, "high": high, "p999": p999}


@pytest.mark.slow
def test_large_dask_percentile_fit_is_deterministic_and_close_to_exact(big_lazy, big_exact):
    a = fit_percentile(big_lazy, seed=7)
    b = fit_percentile(big_lazy, seed=7)
    c = fit_percentile(big_lazy, seed=8)
    assert a == b
    assert a != c
    span = big_exact["high"] - big_exact["low"]
    assert abs(a.low - big_exact["low"]) < 0.02 * span
    assert abs(a.high - big_exact["high"]) < 0.02 * span


@pytest.mark.slow
def test_large_dask_asinh_fit_is_deterministic(big_lazy, big_exact):
    a = fit_asinh(big_lazy, seed=7)
    assert a == fit_asinh(big_lazy, seed=7)
    high = a.sky + a.scale * a.softening
    assert abs(high - big_exact["p999"]) < 0.02 * big_exact["p999"]


# --------------------------------------------------------------------------- fitting


def test_fit_percentile_matches_numpy_percentile_and_ignores_nan():
    x = sky_image(4, nan_fraction=0.2)
    norm = fit_percentile(x, 2.0, 98.0)
    low, high = np.nanpercentile(x.astype(np.float64), [2.0, 98.0])
    assert norm == PercentileNormalizer(low=low, high=high, p_low=2.0, p_high=98.0)
    assert isinstance(norm.low, float)


def test_fit_asinh_recovers_sky_and_noise():
    x = sky_image(5, shape=(256, 256), sky=-40.0, noise=3.0, nan_fraction=0.05)
    norm = fit_asinh(x, softening_sigmas=2.0)
    assert norm.sky == pytest.approx(-40.0, abs=0.1)
    assert norm.noise == pytest.approx(3.0, rel=0.05)
    assert norm.softening == pytest.approx(2.0 * norm.noise)
    y = norm.forward(np.array([norm.sky, np.nanpercentile(x, 99.9)], dtype=np.float32))
    np.testing.assert_allclose(y, [0.0, 1.0], atol=1e-6)


@pytest.mark.parametrize("fit", [fit_percentile, fit_asinh])
def test_numpy_and_dask_fits_are_identical_for_small_arrays(fit):
    x = sky_image(6, nan_fraction=0.1)
    expected = fit(x)
    for chunks in [(7, 13), (64, 64), (1, 64)]:
        assert fit(da.from_array(x, chunks=chunks)) == expected


@pytest.mark.parametrize("fit", [fit_percentile, fit_asinh])
def test_all_nan_data_raises(fit):
    with pytest.raises(NormalizationError, match="all values are NaN"):
        fit(np.full((8, 8), np.nan, dtype=np.float32))


@pytest.mark.parametrize("fit", [fit_percentile, fit_asinh])
def test_constant_data_raises(fit):
    x = np.full((8, 8), 3.0, dtype=np.float32)
    x[0, 0] = np.nan
    with pytest.raises(NormalizationError, match=r"data is constant \(value 3\)"):
        fit(x)


@pytest.mark.parametrize("fit", [fit_percentile, fit_asinh])
def test_empty_data_raises(fit):
    with pytest.raises(NormalizationError, match="empty"):
        fit(np.zeros((0, 4)))


def test_equal_percentiles_raise():
    x = np.zeros(10_000)
    x[:3] = [1.0, 2.0, 3.0]
    with pytest.raises(NormalizationError, match="widen the percentiles"):
        fit_percentile(x)
    assert fit_percentile(x, 0, 100).high == 3.0


def test_percentile_range_below_float32_resolution_raises():
    x = np.zeros(10_000)
    x[:5000] = np.linspace(0.0, 1e-30, 5000)
    x[0] = -4.0
    with pytest.raises(NormalizationError, match="below float32 resolution"):
        fit_percentile(x)


def test_zero_noise_raises():
    x = np.zeros(1000)
    x[:3] = [100.0, 200.0, 300.0]
    with pytest.raises(NormalizationError, match="noise is 0"):
        fit_asinh(x)


def test_no_sources_above_sky_raises():
    x = np.zeros(1000)
    x[:500] = np.linspace(-5, 5, 500)
    with pytest.raises(NormalizationError, match="not above the sky"):
        fit_asinh(x, p_high=50)


@pytest.mark.parametrize(("p_low", "p_high"), [(50, 50), (-1, 90), (10, 101), (90, 10)])
def test_bad_percentiles_raise(p_low, p_high):
    with pytest.raises(NormalizationError, match="percentiles"):
        fit_percentile(np.arange(10.0), p_low, p_high)


@pytest.mark.parametrize(
    ("cls", "kwargs"),
    [
        (PercentileNormalizer, {"low": 1.0, "high": 1.0}),
        (PercentileNormalizer, {"low": 0.0, "high": np.inf}),
        (AsinhNormalizer, {"sky": 0.0, "noise": 0.0, "softening": 1.0, "scale": 1.0}),
        (AsinhNormalizer, {"sky": 0.0, "noise": 1.0, "softening": -1.0, "scale": 1.0}),
        (AsinhNormalizer, {"sky": np.nan, "noise": 1.0, "softening": 1.0, "scale": 1.0}),
    ],
)
def test_invalid_statistics_raise(cls, kwargs):
    with pytest.raises(NormalizationError):
        cls(**kwargs)


# --------------------------------------------------------------------------- applying


NORMALIZERS = [
    PercentileNormalizer(low=-3.0, high=250.0),
    AsinhNormalizer(sky=-12.5, noise=0.5, softening=1.5, scale=4000.0),
]


@pytest.mark.parametrize("norm", NORMALIZERS)
@pytest.mark.parametrize(
    ("dtype", "out"),
    [
        (np.float32, np.float32),
        (np.float64, np.float64),
        (np.uint16, np.float32),
        (np.int32, np.float32),
    ],
)
def test_output_dtype(norm, dtype, out):
    x = np.arange(12, dtype=dtype).reshape(3, 4)
    assert norm.forward(x).dtype == out
    assert norm.inverse(x // 8).dtype == out
    assert norm.forward(da.from_array(x, chunks=2)).dtype == out


@pytest.mark.parametrize("norm", NORMALIZERS)
def test_nan_in_nan_out(norm):
    x = np.array([np.nan, 1.0, np.nan], dtype=np.float32)
    assert np.isnan(norm.forward(x)[[0, 2]]).all()
    assert np.isnan(norm.inverse(x)[[0, 2]]).all()
    assert np.isfinite(norm.forward(x)[1])


@pytest.mark.parametrize("norm", NORMALIZERS)
def test_dask_matches_numpy_and_stays_lazy(norm):
    x = sky_image(7, nan_fraction=0.1)
    lazy = da.from_array(x, chunks=(10, 17))
    y = norm.forward(lazy)
    assert isinstance(y, da.Array)
    assert y.chunks == lazy.chunks
    np.testing.assert_array_equal(y.compute(), norm.forward(x))
    np.testing.assert_array_equal(norm.inverse(y).compute(), norm.inverse(norm.forward(x)))


def test_percentile_forward_maps_low_and_high_to_0_and_1():
    norm = PercentileNormalizer(low=-3.0, high=5.0)
    np.testing.assert_array_equal(norm.forward(np.array([-3.0, 1.0, 5.0, 13.0])), [0, 0.5, 1, 2])


def test_asinh_is_odd_around_sky_and_monotonic():
    norm = NORMALIZERS[1]
    d = np.logspace(-3, 6, 50)
    up, down = norm.forward(norm.sky + d), norm.forward(norm.sky - d)
    np.testing.assert_allclose(up, -down, rtol=1e-12)
    assert (np.diff(up) > 0).all()


def test_asinh_is_linear_near_sky():
    norm = NORMALIZERS[1]
    small = norm.sky + norm.softening * np.array([1e-4, 2e-4])
    y = norm.forward(small)
    assert y[1] / y[0] == pytest.approx(2.0, rel=1e-6)


# --------------------------------------------------------------------------- serialisation


@pytest.mark.parametrize(
    "norm", [*NORMALIZERS, fit_asinh(sky_image(8)), fit_percentile(sky_image(8))]
)
def test_json_round_trip(norm):
    text = json.dumps(norm.to_dict())
    back = normalizer_from_dict(json.loads(text))
    assert back == norm
    assert type(back) is type(norm)
    x = sky_image(9)
    np.testing.assert_array_equal(back.forward(x), norm.forward(x))


def test_to_dict_has_kind_and_plain_floats():
    d = PercentileNormalizer(low=np.float32(1.5), high=np.float64(2.0)).to_dict()
    assert d == {"kind": "percentile", "low": 1.5, "high": 2.0, "p_low": 1.0, "p_high": 99.8}
    assert all(type(v) is float for k, v in d.items() if k != "kind")


@pytest.mark.parametrize(
    ("d", "match"),
    [
        ({"low": 0.0, "high": 1.0}, "'kind'"),
        ({"kind": "zscore", "low": 0.0}, "unknown normaliser kind 'zscore'"),
        ({"kind": "percentile", "low": 0.0}, r"missing keys \['high'\]"),
        ({"kind": "asinh", "sky": 0, "noise": 1, "softening": 1, "scale": 1, "gain": 2}, "gain"),
        ({"kind": "percentile", "low": "a", "high": 1.0}, "must be a number"),
        ({"kind": "percentile", "low": 2.0, "high": 1.0}, "greater than low"),
    ],
)
def test_from_dict_rejects_bad_descriptions(d, match):
    with pytest.raises(NormalizationError, match=match):
        normalizer_from_dict(d)


# --------------------------------------------------------------------------- properties


@st.composite
def astro_images(draw):
    """float32 images: sky (possibly negative), noise, sources up to 1e5, some NaN."""
    seed = draw(st.integers(0, 2**32 - 1))
    sky = draw(st.floats(-1e3, 1e3))
    noise = draw(st.floats(1e-3, 10.0))
    shape = draw(st.tuples(st.integers(4, 40), st.integers(4, 40)))
    nan_fraction = draw(st.sampled_from([0.0, 0.01, 0.3]))
    rng = np.random.default_rng(seed)
    image = rng.normal(sky, noise, shape)
    n_sources = draw(st.integers(0, 10))
    flat = image.reshape(-1)
    flat[rng.integers(0, flat.size, n_sources)] += 10 ** rng.uniform(-3, 5, n_sources)
    image[rng.random(shape) < nan_fraction] = np.nan
    return image.astype(np.float32)


raw_arrays = hnp.arrays(
    np.float32,
    hnp.array_shapes(min_dims=1, max_dims=3, min_side=2, max_side=12),
    elements=st.floats(-1e5, 1e5, width=32, allow_subnormal=False) | st.just(np.nan),
)

property_settings = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.filter_too_much]
)


@property_settings
@given(astro_images())
def test_fitted_round_trip_on_astro_images(x):
    for fit in (fit_percentile, fit_asinh):
        try:
            norm = fit(x)
        except NormalizationError:
            reject()
        assert_round_trip(norm, x)


@property_settings
@given(raw_arrays)
def test_fitted_round_trip_on_arbitrary_arrays(x):
    for fit in (fit_percentile, fit_asinh):
        try:
            norm = fit(x)
        except NormalizationError:
            continue
        assert_round_trip(norm, x)


@property_settings
@given(
    raw_arrays,
    st.floats(-1e4, 1e4),
    st.floats(1e-3, 1e3),
    st.floats(1e-2, 1e5),
)
def test_asinh_round_trip_for_any_statistics(x, sky, softening, scale):
    finite = x[np.isfinite(x)]
    if finite.size:
        # keep the sky inside the data, as a fitted sky is
        sky = float(np.clip(sky, finite.min(), finite.max()))
    norm = AsinhNormalizer(sky=sky, noise=softening / 3, softening=softening, scale=scale)
    assert_round_trip(norm, x)


@property_settings
@given(astro_images(), st.integers(1, 9))
def test_dask_fit_equals_numpy_fit_for_any_chunking(x, chunk):
    lazy = da.from_array(x, chunks=chunk)
    for fit in (fit_percentile, fit_asinh):
        try:
            expected = fit(x)
        except NormalizationError:
            continue
        with dask.config.set(scheduler="threads"):
            assert fit(lazy) == expected
