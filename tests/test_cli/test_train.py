import json

import pytest

from srgan_sci.simulate import SimulateConfig, simulate_pairs


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli-train") / "pairs.zarr"
    simulate_pairs(
        SimulateConfig(out=str(out), scene="stars", size=128, preset="confocal", scale=2,
                       val_fraction=0.25, progress=False)
    )  # fmt: skip
    return out


def test_train_from_toml_with_flag_overrides_then_resume(srsci, pairs, tmp_path):
    config = tmp_path / "train.toml"
    config.write_text(
        'phase = "pretrain"\npretrain_steps = 50\nbatch_size = 2\npatch_size = 12\n'
        "channels = 8\nblocks = 1\nval_every = 2\nval_patches = 2\nmin_signal = 0.0\n"
    )
    out = tmp_path / "run"
    first = srsci("train", "--config", str(config), "--data", str(pairs), "--out", str(out),
                  "--steps", "4", "--stop-at", "2", "--no-progress")  # fmt: skip
    assert "stopped at step 2; continue with --resume" in first.stdout
    second = srsci("train", "--config", str(config), "--data", str(pairs), "--out", str(out),
                   "--steps", "4", "--resume", "--no-progress")  # fmt: skip
    assert "validation PSNR" in second.stdout and "wrote" in second.stdout
    record = json.loads((out / "model" / "model.json").read_text())["metadata"]
    assert record["training"]["steps"] == 4  # --steps overrode the TOML's 50
    assert record["scale"] == 2


@pytest.mark.parametrize(
    "args, message",
    [
        (["--out", "x"], "either --data"),
        (["--data", "missing.zarr", "--out", "x"], "missing.zarr"),
        (["--hr", "a.fits", "--data", "p.zarr", "--out", "x"], "not allowed with"),
        (["--data", "p.zarr", "--out", "x", "--config", "nope.toml"], "config file not found"),
    ],
)
def test_train_bad_input_is_one_line_error(srsci, tmp_path, args, message):
    result = srsci("train", *args, check_rc=2)
    assert result.stderr.count("\n") == 1 and message in result.stderr
