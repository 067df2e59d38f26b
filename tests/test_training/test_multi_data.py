"""Training on several pairs datasets at once (e.g. two instrument presets mixed)."""

import pytest

from srgan_sci.models.bundle import read_bundle_metadata
from srgan_sci.simulate import SimulateConfig, simulate_pairs
from srgan_sci.training.config import TrainConfig, TrainConfigError
from srgan_sci.training.loop import train


def _pairs(folder, preset, scale, seed):
    out = folder / f"{preset}-x{scale}.zarr"
    config = SimulateConfig(
        out=str(out),
        scene="stars",
        size=128,
        preset=preset,
        scale=scale,
        seed=seed,
        val_fraction=0.25,
        progress=False,
    )
    simulate_pairs(config)
    return str(out)


def test_two_datasets_train_one_model_recording_both_degradations(tmp_path, tiny_options):
    first = _pairs(tmp_path, "confocal", 2, 1)
    second = _pairs(tmp_path, "widefield-lowlight", 2, 2)
    options = tiny_options(first, tmp_path / "run", phase="pretrain", gan_steps=0)
    options["data"] = [first, second]
    config = TrainConfig.from_dict(options)
    assert config.data_paths == (first, second)
    assert TrainConfig.from_dict(config.to_dict()) == config
    result = train(config)
    metadata = read_bundle_metadata(result.bundle)
    names = [spec["name"] for spec in metadata.training["degradations"]]
    assert names == ["confocal", "widefield-lowlight"]
    assert metadata.degradation["name"] == "confocal"


def test_datasets_of_different_scales_are_refused(tmp_path, tiny_options):
    first = _pairs(tmp_path, "confocal", 2, 1)
    second = _pairs(tmp_path, "confocal", 4, 2)
    options = tiny_options(first, tmp_path / "run")
    options["data"] = [first, second]
    with pytest.raises(TrainConfigError, match="mix scales"):
        train(TrainConfig.from_dict(options))
