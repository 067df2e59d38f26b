import pytest

from srgan_sci.simulate import SimulateConfig, simulate_pairs


@pytest.fixture(scope="session")
def pairs_path(tmp_path_factory):
    """A small real pairs dataset: a synthetic galaxy field through the confocal preset, x2."""
    out = tmp_path_factory.mktemp("pairs") / "pairs.zarr"
    simulate_pairs(
        SimulateConfig(
            out=str(out),
            scene="galaxies",
            size=256,
            preset="confocal",
            scale=2,
            val_fraction=0.25,
            progress=False,
        )
    )
    return out


@pytest.fixture
def tiny_options():
    """Options of a seconds-long training run on ``pairs_path``."""
    return _tiny_options


def _tiny_options(pairs_path, out, **changes):
    options = {
        "data": str(pairs_path),
        "out": str(out),
        "phase": "both",
        "pretrain_steps": 3,
        "gan_steps": 3,
        "batch_size": 2,
        "patch_size": 12,
        "channels": 8,
        "blocks": 1,
        "discriminator_channels": 8,
        "val_every": 3,
        "val_patches": 4,
        "checkpoint_every": 2,
        "min_signal": None,
        "progress": False,
    }
    return options | changes
