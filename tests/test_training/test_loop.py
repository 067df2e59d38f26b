import json

import pytest
import torch

from srgan_sci.models.bundle import load_bundle
from srgan_sci.training.config import TrainConfig, TrainConfigError
from srgan_sci.training.loop import TrainingDivergedError, train
from srgan_sci.training.state import CHECKPOINT_NAME, load_checkpoint


def test_both_phases_write_bundle_metrics_and_curve(pairs_path, tiny_options, tmp_path):
    config = TrainConfig.from_dict(tiny_options(pairs_path, tmp_path / "run"))
    result = train(config)
    assert result.step == 6 and result.bundle is not None
    generator, metadata = load_bundle(result.bundle)
    assert metadata.scale == 2 and metadata.degradation["name"] == "confocal"
    assert metadata.training["phases"] == {"pretrain": 3, "gan": 3}
    lines = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").open()]
    assert [r["phase"] for r in lines] == ["pretrain"] * 3 + ["gan"] * 3
    assert all("d" in r and "g_adversarial" in r for r in lines[3:])
    assert {"val_psnr", "val_bicubic_psnr", "val_ssim"} <= set(lines[2])
    assert (tmp_path / "run" / "training_curve.png").stat().st_size > 1000
    # TensorBoard is in the test extra: its event file must be written too
    assert list((tmp_path / "run" / "tensorboard").glob("events.out.tfevents.*"))
    with torch.no_grad():
        assert generator(torch.zeros(1, 1, 8, 8)).shape == (1, 1, 16, 16)


@pytest.mark.parametrize("adversarial_kind", ["relativistic", "wgan-gp"])
def test_resume_equals_uninterrupted_run(pairs_path, tiny_options, tmp_path, adversarial_kind):
    weights = {"adversarial_kind": adversarial_kind, "critic_steps": 2}
    whole = TrainConfig.from_dict(tiny_options(pairs_path, tmp_path / "whole", weights=weights))
    split = TrainConfig.from_dict(tiny_options(pairs_path, tmp_path / "split", weights=weights))
    train(whole)
    assert train(split, stop_at=4).bundle is None
    assert load_checkpoint(tmp_path / "split" / CHECKPOINT_NAME)["step"] == 4
    train(split, resume=True)
    a = load_checkpoint(tmp_path / "whole" / CHECKPOINT_NAME)
    b = load_checkpoint(tmp_path / "split" / CHECKPOINT_NAME)
    for part in ("generator", "ema", "discriminator"):
        for key, tensor in a[part].items():
            assert torch.equal(tensor, b[part][key]), (part, key)


def test_divergence_stops_with_checkpoint_intact(pairs_path, tiny_options, tmp_path):
    options = tiny_options(
        pairs_path, tmp_path / "nan", phase="pretrain", lr_generator=1e25, grad_clip=None,
        checkpoint_every=1,
    )  # fmt: skip
    with pytest.raises(TrainingDivergedError, match=r"checkpoint .* is intact"):
        train(TrainConfig.from_dict(options))
    state = load_checkpoint(tmp_path / "nan" / CHECKPOINT_NAME)
    assert state["step"] >= 1
    assert not (tmp_path / "nan" / "model").exists()


def test_config_validation_and_unknown_keys():
    with pytest.raises(TrainConfigError, match="either --data"):
        TrainConfig(out="x")
    with pytest.raises(TrainConfigError, match="unknown training options: colour"):
        TrainConfig.from_dict({"out": "x", "data": "p.zarr", "colour": 1})


def test_multichannel_training_on_the_fly_from_an_rgb_tiff(tmp_path):
    import tifffile
    from skimage import data as skdata

    rgb = tmp_path / "hdf.tif"
    tifffile.imwrite(rgb, skdata.hubble_deep_field()[:128, :128], photometric="rgb")
    config = TrainConfig(
        out=str(tmp_path / "rgb"), hr=(str(rgb),), preset="confocal", scale=2,
        channel_axis=0, phase="pretrain", pretrain_steps=2, batch_size=2, patch_size=12,
        channels=8, blocks=1, val_every=2, val_patches=2, min_signal=None, val_fraction=0.25,
        progress=False,
    )  # fmt: skip
    result = train(config)
    generator, metadata = load_bundle(result.bundle)
    assert metadata.in_channels == 3 and metadata.out_channels == 3
    with torch.no_grad():
        assert generator(torch.zeros(1, 3, 8, 8)).shape == (1, 3, 16, 16)


@pytest.mark.slow
def test_torch_compile_path_trains_and_saves_plain_weights(pairs_path, tiny_options, tmp_path):
    options = tiny_options(pairs_path, tmp_path / "compiled", phase="pretrain", compile=True)
    result = train(TrainConfig.from_dict(options))
    generator, _ = load_bundle(result.bundle)  # keys without torch.compile's prefix
    assert result.step == 3 and generator.scale == 2
