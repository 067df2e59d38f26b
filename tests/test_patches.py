import numpy as np
import pytest
import torch
import zarr
from skimage import data as skdata

import srgan_sci.patches as patches
from srgan_sci.degrade.spec import preset
from srgan_sci.errors import InputNotFoundError, SrsciError
from srgan_sci.normalize import PercentileNormalizer
from srgan_sci.patches import (
    DatasetError,
    PatchSampler,
    PatchSource,
    open_pair_sources,
    sources_from_hr_images,
    validation_patches,
)
from srgan_sci.simulate import SimulateConfig, simulate_pairs


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    out = tmp_path_factory.mktemp("pairs") / "pairs.zarr"
    config = SimulateConfig(
        out=str(out),
        scene="galaxies",
        size=256,
        preset="confocal",
        val_fraction=0.25,
        progress=False,
    )
    simulate_pairs(config)
    return out


def block_reduce(hr: np.ndarray, s: int, how: str) -> np.ndarray:
    blocks = hr.reshape(hr.shape[0] // s, s, hr.shape[1] // s, s)
    return blocks.sum(axis=(1, 3)) if how == "sum" else blocks.mean(axis=(1, 3))


def exact_source(rng, size=32, scale=2, y_range=None, units=1.0):
    """A noise-free source whose LR is exactly the block mean of HR (identity normaliser)."""
    hr = rng.random((size * scale, size * scale)).astype(np.float32)
    lr = block_reduce(hr, scale, "mean").astype(np.float32)
    return PatchSource(
        lr=lr,
        hr=hr / np.float32(units),
        scale=scale,
        y_range_lr=y_range or (0, size),
        normalizer=PercentileNormalizer(low=0.0, high=1.0),
        hr_to_lr_units=units,
    )


def test_small_datasets_load_into_memory_and_large_stay_lazy(pairs):
    in_memory, _ = open_pair_sources(pairs)
    assert isinstance(in_memory[0].lr, np.ndarray) and isinstance(in_memory[0].hr, np.ndarray)
    lazy, _ = open_pair_sources(pairs, in_memory_bytes=0)
    assert isinstance(lazy[0].lr, zarr.Array) and isinstance(lazy[0].hr, zarr.Array)
    sampler_args = {"patch_size": 16, "batch_size": 3, "seed": 1}
    for a, b in zip(
        PatchSampler(in_memory, **sampler_args).batch(5),
        PatchSampler(lazy, **sampler_args).batch(5),
        strict=True,
    ):
        assert torch.equal(a, b)


def test_shapes_dtypes_and_lazy_zarr(pairs):
    sources, attrs = open_pair_sources(pairs, in_memory_bytes=0)
    assert attrs["kind"] == "sr-pairs"
    assert attrs["spec"]["scale"] == 4
    assert len(sources) == 1
    source = sources[0]
    assert isinstance(source.lr, zarr.Array) and isinstance(source.hr, zarr.Array)
    assert source.hr_to_lr_units == 1.0  # confocal bins by mean
    sampler = PatchSampler(sources, patch_size=16, batch_size=5, seed=3)
    lr, hr = sampler.batch(0)
    assert lr.shape == (5, 1, 16, 16) and hr.shape == (5, 1, 64, 64)
    assert lr.dtype == torch.float32 and hr.dtype == torch.float32
    assert lr.is_contiguous() and hr.is_contiguous()
    assert torch.isfinite(lr).all() and torch.isfinite(hr).all()


def test_batches_are_deterministic_in_seed_step_rank(pairs):
    sources, _ = open_pair_sources(pairs)

    def batch(step, rank=0, seed=0):
        return PatchSampler(
            sources, patch_size=16, batch_size=4, seed=seed, rank=rank, world_size=2
        ).batch(step)

    a, b = batch(7), batch(7)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(batch(8)[0], a[0])
    assert not torch.equal(batch(7, rank=1)[0], a[0])
    assert not torch.equal(batch(7, seed=1)[0], a[0])
    # Order of calls does not matter: resuming at step 7 reproduces it.
    sampler = PatchSampler(sources, patch_size=16, batch_size=4, seed=0, rank=0, world_size=2)
    for step in range(3):
        sampler.batch(step)
    assert torch.equal(sampler.batch(7)[1], a[1])


def test_lr_and_hr_windows_correspond(pairs):
    sources, _ = open_pair_sources(pairs)
    norm = sources[0].normalizer
    sampler = PatchSampler(sources, patch_size=16, batch_size=16, augment=False, seed=1)
    lr, hr = sampler.batch(0)
    lr_raw = norm.inverse(lr[:, 0].numpy().astype(np.float64))
    hr_raw = norm.inverse(hr[:, 0].numpy().astype(np.float64))  # HR in LR units
    down = np.stack([block_reduce(patch, 4, "mean") for patch in hr_raw])
    # Pooled over the batch; single background patches are noise-dominated.
    assert np.corrcoef(down.ravel(), lr_raw.ravel())[0, 1] > 0.8
    per_patch = [np.corrcoef(d.ravel(), r.ravel())[0, 1] for d, r in zip(down, lr_raw, strict=True)]
    assert np.median(per_patch) > 0.8
    # A window one LR pixel off would not match as well.
    down = block_reduce(hr_raw[0], 4, "mean")
    aligned = np.corrcoef(down.ravel(), lr_raw[0].ravel())[0, 1]
    shifted = np.corrcoef(down[:, 1:].ravel(), lr_raw[0][:, :-1].ravel())[0, 1]
    assert aligned > shifted


def test_sum_binning_units_on_camera_image():
    spec = preset("space-diffraction")  # sum binning, scale 4
    train, val = sources_from_hr_images([skdata.camera()], spec, seed=0, val_fraction=0.2)
    assert len(train) == 1 and len(val) == 1
    source = train[0]
    assert source.hr_to_lr_units == 16.0
    assert source.lr.shape == (128, 128) and source.hr.shape == (512, 512)
    assert train[0].normalizer is val[0].normalizer
    assert train[0].y_range_lr == (0, 102) and val[0].y_range_lr == (102, 128)
    # Raw HR block sums are the noise-free, unblurred LR: they correlate with the LR.
    sums = block_reduce(np.asarray(source.hr, dtype=np.float64), 4, "sum")
    assert np.corrcoef(sums.ravel(), np.asarray(source.lr).ravel())[0, 1] > 0.8
    # After normalisation LR and HR share one scale: HR block means ~ LR.
    sampler = PatchSampler(train, patch_size=32, batch_size=4, augment=False)
    lr, hr = sampler.batch(0)
    down = hr[:, 0].reshape(4, 32, 4, 32, 4).mean(dim=(2, 4))
    assert torch.allclose(down.mean(), lr.mean(), rtol=0.15)


def test_augmentation_is_the_same_on_lr_and_hr():
    rng = np.random.default_rng(0)
    source = exact_source(rng)
    sampler = PatchSampler([source], patch_size=8, batch_size=32, min_signal=None, augment=True)
    lr, hr = sampler.batch(0)
    down = hr[:, 0].reshape(32, 8, 2, 8, 2).mean(dim=(2, 4))
    torch.testing.assert_close(down, lr[:, 0], rtol=0, atol=1e-5)

    # The first patch of a batch sits at the same place with and without augmentation,
    # so it must be one of the 8 symmetries of the un-augmented patch, not always identity.
    plain = PatchSampler([source], patch_size=8, batch_size=1, min_signal=None, augment=False)
    augmented = PatchSampler([source], patch_size=8, batch_size=1, min_signal=None)
    transforms = set()
    for step in range(24):
        reference = plain.batch(step)[1][0, 0].numpy()
        result = augmented.batch(step)[1][0, 0].numpy()
        symmetries = [np.rot90(f, k) for f in (reference, reference[:, ::-1]) for k in range(4)]
        matches = [i for i, sym in enumerate(symmetries) if np.array_equal(sym, result)]
        assert len(matches) == 1
        transforms.add(matches[0])
    assert len(transforms) > 4


def test_train_patches_never_touch_val_rows():
    scale, size, val_y = 2, 40, 30
    rows = np.arange(size, dtype=np.float32)[:, None].repeat(size, axis=1)
    hr_rows = np.arange(size * scale, dtype=np.float32)[:, None].repeat(size * scale, axis=1)
    identity = PercentileNormalizer(low=0.0, high=1.0)
    source = PatchSource(rows, hr_rows, scale, (0, val_y), identity, 1.0)
    sampler = PatchSampler([source], patch_size=8, batch_size=64, min_signal=None)
    for step in range(5):
        lr, hr = sampler.batch(step)
        assert lr.max() <= val_y - 1 and hr.max() <= scale * val_y - 1
    seen = torch.cat([sampler.batch(step)[0] for step in range(5)])
    assert seen.max() == val_y - 1  # the last training row is reachable


def test_open_pair_sources_splits_rows(pairs):
    train, attrs = open_pair_sources(pairs, "train")
    val, _ = open_pair_sources(pairs, "val")
    val_y = attrs["images"][0]["val_y_start_lr"]
    assert val_y == 48
    assert train[0].y_range_lr == (0, val_y)
    assert val[0].y_range_lr == (val_y, 64)
    lr, hr = validation_patches(val, patch_size=16, count=4)
    assert lr.shape == (4, 1, 16, 16) and hr.shape == (4, 1, 64, 64)
    again = validation_patches(val, patch_size=16, count=4)
    assert torch.equal(lr, again[0]) and torch.equal(hr, again[1])
    with pytest.raises(DatasetError, match=r"no source has room for a 32x32.*val_fraction"):
        validation_patches(val, patch_size=32)


def test_background_filtering_rejects_flat_patches():
    rng = np.random.default_rng(1)
    size, scale = 64, 2
    hr = rng.random((size * scale, size * scale)).astype(np.float32)
    hr[:, : size * scale // 2] = 0.5  # left half flat
    lr = block_reduce(hr, scale, "mean").astype(np.float32)
    source = PatchSource(lr, hr, scale, (0, size), PercentileNormalizer(0.0, 1.0), 1.0)

    def flat_fraction(min_signal):
        sampler = PatchSampler([source], patch_size=8, batch_size=256, min_signal=min_signal)
        lr_patches, _ = sampler.batch(0)
        return float((lr_patches.std(dim=(1, 2, 3)) < 0.05).float().mean())

    assert flat_fraction(None) > 0.3
    assert flat_fraction(0.05) < 0.02


def test_nan_pixels_become_zero_and_mostly_nan_patches_are_redrawn():
    rng = np.random.default_rng(2)
    source = exact_source(rng, size=64)
    source.lr[:, :32] = np.nan
    source.hr[:, :64] = np.nan
    sampler = PatchSampler([source], patch_size=8, batch_size=128, min_signal=None)
    lr, hr = sampler.batch(0)
    assert torch.isfinite(lr).all() and torch.isfinite(hr).all()
    zero_fraction = (lr == 0).float().mean(dim=(1, 2, 3))
    assert float((zero_fraction > 0.01).float().mean()) < 0.02


def test_normalizer_fitted_once_per_image(pairs, monkeypatch):
    calls = []
    real = patches.fit_percentile
    monkeypatch.setattr(patches, "fit_percentile", lambda data: calls.append(1) or real(data))
    sources, _ = open_pair_sources(pairs)
    norm = sources[0].normalizer
    sampler = PatchSampler(sources, patch_size=16, batch_size=4)
    for step in range(3):
        sampler.batch(step)
    assert len(calls) == 1
    assert sampler.sources[0].normalizer is norm


def test_asinh_normalizer_option(pairs):
    sources, _ = open_pair_sources(pairs, normalizer="asinh")
    assert sources[0].normalizer.kind == "asinh"
    with pytest.raises(DatasetError, match="unknown normalizer"):
        open_pair_sources(pairs, normalizer="zscale")


def test_sources_from_moon_with_planes():
    moon = skdata.moon().astype(np.float32)
    stack = np.stack([moon, moon[::-1]])  # two planes
    train, val = sources_from_hr_images([stack], preset("confocal"), seed=0, val_fraction=0.25)
    assert train[0].planes == 2 and train[0].hr_to_lr_units == 1.0
    assert train[0].y_range_lr == (0, 96) and val[0].y_range_lr == (96, 128)
    lr, hr = PatchSampler(train, patch_size=16, batch_size=3).batch(0)
    assert lr.shape == (3, 1, 16, 16) and hr.shape == (3, 1, 64, 64)
    train, val = sources_from_hr_images([moon[:-3, :-2]], preset("confocal"), 0, 0.0)
    assert val == [] and train[0].lr.shape == (127, 127)
    with pytest.raises(DatasetError, match="val_fraction"):
        sources_from_hr_images([moon], preset("confocal"), 0, 1.0)


def test_errors_for_missing_and_non_pairs_datasets(tmp_path, pairs):
    with pytest.raises(InputNotFoundError, match="does not exist"):
        open_pair_sources(tmp_path / "nope.zarr")
    zarr.open_group(tmp_path / "other.zarr", mode="w").attrs["srgan_sci"] = {"kind": "image"}
    with pytest.raises(DatasetError, match="not a paired SR dataset"):
        open_pair_sources(tmp_path / "other.zarr")
    (tmp_path / "plain").mkdir()
    with pytest.raises(DatasetError, match="not a Zarr group"):
        open_pair_sources(tmp_path / "plain")
    with pytest.raises(DatasetError, match="unknown split"):
        open_pair_sources(pairs, split="test")
    assert issubclass(DatasetError, SrsciError)


def test_empty_val_split_is_a_clear_error(tmp_path):
    out = tmp_path / "noval.zarr"
    config = SimulateConfig(
        out=str(out), scene="stars", size=64, preset="confocal", val_fraction=0.0, progress=False
    )
    simulate_pairs(config)
    assert len(open_pair_sources(out, "train")[0]) == 1
    with pytest.raises(DatasetError, match=r"no LR rows in the 'val' split.*val_fraction"):
        open_pair_sources(out, "val")


def test_sampler_argument_checks():
    source = exact_source(np.random.default_rng(0))
    with pytest.raises(DatasetError, match="no patch sources"):
        PatchSampler([])
    with pytest.raises(DatasetError, match="rank"):
        PatchSampler([source], rank=2, world_size=2)
    with pytest.raises(DatasetError, match="no source has room"):
        PatchSampler([source], patch_size=33)
    other = exact_source(np.random.default_rng(0), scale=4)
    with pytest.raises(DatasetError, match="mix scales"):
        PatchSampler([source, other], patch_size=8)
    with pytest.raises(DatasetError, match="HR shape"):
        PatchSource(source.lr, source.lr, 2, (0, 8), source.normalizer, 1.0)
    with pytest.raises(DatasetError, match="y_range_lr"):
        PatchSource(source.lr, source.hr, 2, (10, 40), source.normalizer, 1.0)


def test_lr_patches_lose_the_pedestal_the_degradation_left(tmp_path):
    from srgan_sci.metrics.consistency import lr_pedestal
    from srgan_sci.patches import open_pair_sources
    from srgan_sci.simulate import SimulateConfig, simulate_pairs

    out = tmp_path / "p.zarr"
    simulate_pairs(SimulateConfig(out=str(out), scene="nuclei", size=256, scale=2,
                                  preset="widefield-lowlight", progress=False))  # fmt: skip
    sources, attrs = open_pair_sources(out, "train")
    from srgan_sci.degrade.spec import DegradationSpec

    pedestal = lr_pedestal(DegradationSpec.from_dict(attrs["spec"]))
    assert pedestal > 0 and sources[0].lr_pedestal == pedestal
    raw = np.asarray(sources[0].lr[:8, :8], np.float32)
    lr, _ = sources[0].read(0, 0, 0, 8)
    assert np.allclose(sources[0].normalizer.inverse(lr)[0], raw - pedestal, atol=1e-3)
