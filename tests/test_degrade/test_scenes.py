import math
import time
import tracemalloc

import dask
import dask.array as da
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from skimage.feature import peak_local_max

from srgan_sci.degrade import _profiles
from srgan_sci.degrade.scenes import (
    SCENE_KINDS,
    SceneError,
    render_scene,
    synthetic_scene,
)
from srgan_sci.errors import SrsciError

BACKGROUND = {"stars": 10.0, "galaxies": 10.0, "deep-field": 10.0, "nuclei": 2.0, "filaments": 2.0}


@pytest.fixture(scope="module")
def scenes():
    """One 512 x 512 scene of each kind, rendered once."""
    return {kind: render_scene(kind, (512, 512), seed=7) for kind in SCENE_KINDS}


@pytest.mark.parametrize("kind", SCENE_KINDS)
def test_scene_basic_properties(scenes, kind):
    image = scenes[kind]
    assert image.dtype == np.float32
    assert image.shape == (512, 512)
    assert np.isfinite(image).all()
    assert image.min() >= BACKGROUND[kind] - 1e-4
    assert image.std() > 0.5
    assert np.median(image) < BACKGROUND[kind] + 1.0 or kind == "nuclei"


def test_synthetic_scene_is_lazy_float32():
    scene = synthetic_scene("stars", (300, 500), chunks=128)
    assert isinstance(scene, da.Array)
    assert scene.dtype == np.float32
    assert scene.shape == (300, 500)
    assert scene.chunks == ((128, 128, 44), (128, 128, 128, 116))


@pytest.mark.parametrize("kind", ["stars", "galaxies", "deep-field"])
def test_point_sources_give_many_local_maxima(scenes, kind):
    image = scenes[kind]
    peaks = peak_local_max(image, min_distance=3, threshold_abs=BACKGROUND[kind] + 5.0)
    assert len(peaks) >= 20


def test_nuclei_foreground_fraction(scenes):
    foreground = (scenes["nuclei"] > 10.0).mean()
    assert 0.1 < foreground < 0.6


def test_deep_field_is_crowded_and_clumpy(scenes):
    # sources (above 1 flux unit over the sky) cover several times the area they cover in
    # `galaxies`, and knots give extended galaxies more than one peak: more maxima per
    # connected source than the smooth Sérsic profiles of `galaxies`
    from scipy import ndimage

    def sources_and_peaks(image):
        mask = image > BACKGROUND["galaxies"] + 1.0
        _, n_sources = ndimage.label(mask)
        peaks = peak_local_max(image, min_distance=1, threshold_abs=BACKGROUND["galaxies"] + 1.0)
        return mask.mean(), n_sources, len(peaks)

    deep_area, deep_sources, deep_peaks = sources_and_peaks(scenes["deep-field"])
    smooth_area, smooth_sources, smooth_peaks = sources_and_peaks(scenes["galaxies"])
    assert deep_area > 3 * smooth_area
    assert deep_sources > 2 * smooth_sources  # crowding merges neighbours into one label
    assert deep_peaks / deep_sources > 1.2 * smooth_peaks / smooth_sources


def test_filament_foreground_fraction(scenes):
    foreground = (scenes["filaments"] > 7.0).mean()
    assert 0.005 < foreground < 0.3


@pytest.mark.parametrize("kind", SCENE_KINDS)
def test_values_do_not_depend_on_chunks(kind):
    # 600 x 700 crosses the 512-px catalogue cells; odd chunk sizes cut objects anywhere.
    reference = synthetic_scene(kind, (600, 700), seed=3, chunks=1024).compute()
    for chunks in (64, 100, 257):
        other = synthetic_scene(kind, (600, 700), seed=3, chunks=chunks).compute()
        np.testing.assert_array_equal(other, reference)


@pytest.mark.parametrize("kind", SCENE_KINDS)
def test_small_scene_is_crop_of_larger_scene(kind):
    small = render_scene(kind, (300, 200), seed=5)
    large = render_scene(kind, (700, 600), seed=5)
    np.testing.assert_array_equal(small, large[:300, :200])


@settings(max_examples=15, deadline=None)
@given(
    chunk_y=st.integers(16, 300),
    chunk_x=st.integers(16, 300),
    y0=st.integers(0, 400),
    x0=st.integers(0, 400),
)
def test_any_window_matches_whole_render(stars_reference, chunk_y, chunk_x, y0, x0):
    scene = synthetic_scene("stars", (600, 600), seed=11, chunks=1024).rechunk((chunk_y, chunk_x))
    window = scene[y0 : y0 + 150, x0 : x0 + 150]
    np.testing.assert_array_equal(window.compute(), stars_reference[y0 : y0 + 150, x0 : x0 + 150])


@pytest.fixture(scope="module")
def stars_reference():
    return render_scene("stars", (600, 600), seed=11)


@pytest.mark.parametrize("kind", SCENE_KINDS)
def test_seed_reproducible_and_seeds_differ(kind):
    first = render_scene(kind, (256, 256), seed=1)
    again = render_scene(kind, (256, 256), seed=1)
    other = render_scene(kind, (256, 256), seed=2)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_kinds_differ_for_the_same_seed(scenes):
    assert not np.array_equal(scenes["stars"], scenes["galaxies"])


def test_huge_scene_graph_is_instant_and_one_block_is_cheap():
    start = time.perf_counter()
    scene = synthetic_scene("galaxies", (100_000, 100_000), seed=4)
    assert time.perf_counter() - start < 2.0
    assert scene.shape == (100_000, 100_000)
    tracemalloc.start()
    try:
        with dask.config.set(scheduler="synchronous"):
            tile = scene[50_000:50_128, 50_000:50_128].compute()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert tile.shape == (128, 128)
    assert tile.dtype == np.float32
    assert tile.min() >= 10.0 - 1e-4
    assert peak < 64 * 2**20  # one 1024 x 1024 block and its stamps, not the mosaic


def test_far_tile_equals_small_window_render():
    scene = synthetic_scene("filaments", (100_000, 100_000), seed=9)
    tile = scene[70_000:70_100, 30_000:30_100].compute()
    other = synthetic_scene("filaments", (100_000, 100_000), seed=9, chunks=333)
    np.testing.assert_array_equal(other[70_000:70_100, 30_000:30_100].compute(), tile)


def test_unknown_kind_lists_choices():
    with pytest.raises(SceneError, match="galaxies, stars, deep-field, nuclei, filaments"):
        synthetic_scene("planets", (64, 64))


@pytest.mark.parametrize("shape", [(0, 10), (10, -1), (10,), (10, 10, 10), (10.5, 3), "ab", 5])
def test_bad_shape_raises(shape):
    with pytest.raises(SceneError, match="shape"):
        render_scene("stars", shape)


@pytest.mark.parametrize("seed", [-1, 1.5, True])
def test_bad_seed_raises(seed):
    with pytest.raises(SceneError, match="seed"):
        synthetic_scene("stars", (64, 64), seed=seed)


@pytest.mark.parametrize("chunks", [0, -5, 2.5])
def test_bad_chunks_raises(chunks):
    with pytest.raises(SceneError, match="chunks"):
        synthetic_scene("stars", (64, 64), chunks=chunks)


def test_scene_error_is_a_value_error():
    assert issubclass(SceneError, SrsciError)
    assert issubclass(SceneError, ValueError)


# --- profiles -------------------------------------------------------------------------


@pytest.mark.parametrize("fwhm", [1.5, 3.0])
def test_moffat_stamp_holds_its_flux(fwhm):
    bbox = (-200, 201, -200, 201)
    stamp = _profiles.moffat_stamp(bbox, 0.3, -0.2, 1000.0, fwhm, 3.0, 200.0)
    assert stamp.sum() == pytest.approx(1000.0, rel=1e-6)  # flux within r_max = 200
    assert stamp[200, 200] == stamp.max()  # peak on the pixel holding the centre


@pytest.mark.parametrize(("n", "q"), [(0.5, 1.0), (1.0, 0.5), (4.0, 0.8)])
def test_sersic_stamp_holds_its_flux(n, q):
    bbox = (-300, 301, -300, 301)
    stamp = _profiles.sersic_stamp(bbox, 0.1, 0.4, 500.0, 6.0, n, q, 0.7, 300.0)
    assert stamp.sum() == pytest.approx(500.0, rel=0.02)


def test_sersic_half_light_radius():
    bbox = (-300, 301, -300, 301)
    stamp = _profiles.sersic_stamp(bbox, 0.0, 0.0, 1.0, 20.0, 1.0, 1.0, 0.0, 300.0)
    yy, xx = np.mgrid[-300:301, -300:301]
    inside = stamp[np.hypot(yy, xx) <= 20.0].sum()
    assert inside == pytest.approx(0.5, abs=0.01)


def test_polyline_segments_join_seamlessly():
    bbox = (-10, 11, -10, 61)
    whole = _profiles.segment_stamp(bbox, 0.0, 0.0, 0.0, 50.0, 1.0, 10.0)
    parts = sum(
        _profiles.segment_stamp(bbox, 0.0, x, 0.0, x + 5.0, 1.0, 10.0) for x in range(0, 50, 5)
    )
    np.testing.assert_allclose(parts, whole, rtol=1e-9, atol=1e-12)
    assert whole[10, 25] == pytest.approx(10.0 / math.sqrt(2 * math.pi), rel=1e-6)


def test_nucleus_stamp_is_bright_inside_and_dark_outside():
    bbox = (-40, 41, -40, 41)
    waves = np.array([[0.3, 0.1, 0.0, 0.1]])
    stamp = _profiles.nucleus_stamp(bbox, 0.0, 0.0, 20.0, 12.0, 0.0, 100.0, 1.0, waves)
    assert stamp[40, 40] == pytest.approx(100.0, rel=0.15)
    assert stamp[40, 40 + 17] > 50.0  # inside along the major (x) axis
    assert stamp[40 + 17, 40] < 1.0  # outside along the minor (y) axis
    assert stamp.min() >= 0.0
