import hashlib
import importlib
import json
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from torch import nn

from srgan_sci import __version__
from srgan_sci.errors import OutputExistsError, SrsciError
from srgan_sci.models import bundle as bundle_module
from srgan_sci.models.bundle import (
    FORMAT_VERSION,
    BundleError,
    BundleMetadata,
    load_bundle,
    save_bundle,
)


class Tiny(nn.Module):
    """A two-layer x2 upscaler with a BatchNorm (so integer buffers are saved too)."""

    def __init__(self, channels: int = 4) -> None:
        super().__init__()
        self.channels = channels
        self.conv = nn.Conv2d(1, channels, 3, padding=1)
        self.norm = nn.BatchNorm2d(channels)
        self.out = nn.Conv2d(channels, 4, 3, padding=1)
        self.shuffle = nn.PixelShuffle(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shuffle(self.out(torch.relu(self.norm(self.conv(x)))))

    def config(self) -> dict:
        return {"channels": self.channels}


@pytest.fixture
def tiny_arch(monkeypatch):
    """Make build_generator("tiny", config) build Tiny, whether generator.py exists or not."""
    try:
        module = importlib.import_module("srgan_sci.models.generator")
    except ModuleNotFoundError:
        module = types.ModuleType("srgan_sci.models.generator")
        monkeypatch.setitem(sys.modules, "srgan_sci.models.generator", module)
    real = getattr(module, "build_generator", None)

    def build_generator(arch, config):
        if arch == "tiny":
            return Tiny(**config)
        return real(arch, config)

    monkeypatch.setattr(module, "build_generator", build_generator, raising=False)


def make_metadata(model: nn.Module, arch: str = "tiny", scale: int = 2) -> BundleMetadata:
    return BundleMetadata(
        arch=arch,
        arch_config=model.config(),
        scale=scale,
        in_channels=1,
        out_channels=1,
        normalizer={"kind": "percentile", "low": 0.0, "high": 10.0, "p_low": 1.0, "p_high": 99.8},
        degradation={"scale": scale, "binning": "sum"},
        training={"steps": 10, "phases": ["pretrain"], "val": {"psnr": 30.5}},
        name="tiny-test",
    )


def trained_tiny(seed: int = 0) -> Tiny:
    torch.manual_seed(seed)
    model = Tiny()
    model.train()
    model(torch.randn(2, 1, 8, 8))  # update BatchNorm running stats
    return model.eval()


def test_round_trip_identical_outputs(tmp_path, tiny_arch):
    model = trained_tiny()
    meta = make_metadata(model)
    path = save_bundle(tmp_path / "bundle", model, meta)
    assert path == tmp_path / "bundle"
    assert sorted(p.name for p in path.iterdir()) == ["model.json", "model.safetensors"]
    loaded, loaded_meta = load_bundle(path)
    assert isinstance(loaded, Tiny)
    assert not loaded.training
    assert loaded_meta == meta
    x = torch.randn(1, 1, 12, 12)
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))
    assert all(p.dtype == torch.float32 for p in loaded.parameters())
    assert loaded.norm.num_batches_tracked.dtype == torch.int64


def test_round_trip_msrresnet(tmp_path):
    from srgan_sci.models.generator import MSRResNet

    model = MSRResNet(in_channels=1, out_channels=1, channels=8, blocks=1, scale=4)
    model.eval()
    meta = make_metadata(model, arch="msrresnet", scale=4)
    save_bundle(tmp_path / "msr", model, meta)
    loaded, loaded_meta = load_bundle(tmp_path / "msr")
    assert type(loaded) is type(model)
    assert loaded_meta.arch_config == model.config()
    x = torch.rand(1, 1, 10, 10)
    with torch.no_grad():
        expected = model(x)
        assert expected.shape == (1, 1, 40, 40)
        assert torch.equal(loaded(x), expected)


def test_half_storage_round_trip(tmp_path, tiny_arch):
    model = trained_tiny()
    save_bundle(tmp_path / "full", model, make_metadata(model))
    save_bundle(tmp_path / "half", model, make_metadata(model), half=True)
    with safe_open(tmp_path / "half" / "model.safetensors", "pt") as handle:
        assert handle.get_tensor("conv.weight").dtype == torch.float16
        assert handle.get_tensor("norm.num_batches_tracked").dtype == torch.int64
    assert json.loads((tmp_path / "half" / "model.json").read_text())["weights"]["dtype"] == (
        "float16"
    )
    loaded, _ = load_bundle(tmp_path / "half")
    assert all(p.dtype == torch.float32 for p in loaded.parameters())
    x = torch.rand(1, 1, 12, 12)
    with torch.no_grad():
        np.testing.assert_allclose(loaded(x).numpy(), model(x).numpy(), rtol=1e-3, atol=1e-3)


def test_metadata_round_trip_and_files(tmp_path, tiny_arch):
    model = trained_tiny()
    meta = make_metadata(model)
    assert meta.version == __version__
    assert meta.format_version == FORMAT_VERSION
    assert BundleMetadata.from_dict(json.loads(json.dumps(meta.to_dict()))) == meta
    save_bundle(tmp_path / "b", model, meta)
    record = json.loads((tmp_path / "b" / "model.json").read_text())
    assert record["kind"] == "srgan_sci-model"
    assert record["metadata"] == meta.to_dict()
    weights = tmp_path / "b" / "model.safetensors"
    assert record["weights"]["sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    with safe_open(weights, "pt") as handle:
        header = handle.metadata()
    assert json.loads(header["srgan_sci"]) == meta.to_dict()


def test_metadata_rejects_unknown_missing_and_newer():
    meta = make_metadata(Tiny())
    with pytest.raises(BundleError, match="unknown keys \\['colour'\\]"):
        BundleMetadata.from_dict({**meta.to_dict(), "colour": "red"})
    incomplete = meta.to_dict()
    del incomplete["scale"]
    with pytest.raises(BundleError, match="missing keys \\['scale'\\]"):
        BundleMetadata.from_dict(incomplete)
    with pytest.raises(BundleError, match="made by a newer srgan_sci"):
        BundleMetadata.from_dict({**meta.to_dict(), "format_version": FORMAT_VERSION + 1})


def test_hash_mismatch_detected(tmp_path, tiny_arch):
    model = trained_tiny()
    path = save_bundle(tmp_path / "b", model, make_metadata(model))
    weights = path / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-3] ^= 0xFF  # flip one byte of the last tensor
    weights.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="does not match the sha256"):
        load_bundle(path)


def test_no_overwrite_without_flag(tmp_path, tiny_arch):
    first, second = trained_tiny(0), trained_tiny(1)
    path = save_bundle(tmp_path / "b", first, make_metadata(first))
    with pytest.raises(OutputExistsError, match="overwrite"):
        save_bundle(path, second, make_metadata(second))
    loaded, _ = load_bundle(path)
    assert torch.equal(loaded.conv.weight, first.conv.weight)
    save_bundle(path, second, make_metadata(second), overwrite=True)
    loaded, _ = load_bundle(path)
    assert torch.equal(loaded.conv.weight, second.conv.weight)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b"]


def test_pickle_rejected_without_unpickling(tmp_path, tiny_arch, monkeypatch):
    model = trained_tiny()
    path = save_bundle(tmp_path / "b", model, make_metadata(model))
    weights = path / "model.safetensors"
    torch.save(model.state_dict(), weights)
    # Record the pickle's own hash, so that only the format check can reject it.
    record = json.loads((path / "model.json").read_text())
    record["weights"]["sha256"] = hashlib.sha256(weights.read_bytes()).hexdigest()
    (path / "model.json").write_text(json.dumps(record))

    def no_unpickling(*args, **kwargs):
        raise AssertionError("load_bundle must never unpickle")

    monkeypatch.setattr(torch, "load", no_unpickling)
    monkeypatch.setattr("pickle.load", no_unpickling)
    monkeypatch.setattr("pickle.loads", no_unpickling)
    with pytest.raises(BundleError, match=r"PyTorch pickle.*never unpickles"):
        load_bundle(path)


def test_pth_file_given_instead_of_directory(tmp_path, tiny_arch):
    checkpoint = tmp_path / "model.pth"
    torch.save(Tiny().state_dict(), checkpoint)
    with pytest.raises(BundleError, match=r"is a file, not a model bundle.*PyTorch pickle"):
        load_bundle(checkpoint)


def test_atomic_write_leaves_nothing_on_failure(tmp_path, tiny_arch, monkeypatch):
    model = trained_tiny()

    def failing_save(tensors, filename, metadata=None):
        Path(filename).write_bytes(b"partial")
        raise OSError("disk full")

    with monkeypatch.context() as patch:
        patch.setattr(bundle_module, "save_file", failing_save)
        with pytest.raises(OSError, match="disk full"):
            save_bundle(tmp_path / "b", model, make_metadata(model))
    assert list(tmp_path.iterdir()) == []

    # An existing bundle survives a failed overwrite untouched.
    path = save_bundle(tmp_path / "b", model, make_metadata(model))
    before = (path / "model.safetensors").read_bytes()
    with monkeypatch.context() as patch:
        patch.setattr(bundle_module, "save_file", failing_save)
        with pytest.raises(OSError, match="disk full"):
            save_bundle(path, trained_tiny(1), make_metadata(model), overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b"]
    assert (path / "model.safetensors").read_bytes() == before


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda p: None, "no model bundle at"),
        (lambda p: p.mkdir(), "model.json is missing"),
        (lambda p: _bundle_without(p, "model.safetensors"), "model.safetensors is missing"),
        (lambda p: _bundle_with_json(p, "{not json"), "is not valid JSON"),
        (lambda p: _bundle_with_json(p, '{"kind": "other"}'), "not a srgan_sci model"),
        (lambda p: _bundle_with_json(p, '{"kind": "srgan_sci-model"}'), "lacks the 'metadata'"),
    ],
)
def test_broken_bundles_give_one_line_errors(tmp_path, tiny_arch, damage, message):
    path = tmp_path / "b"
    damage(path)
    with pytest.raises(BundleError, match=message) as info:
        load_bundle(path)
    assert "\n" not in str(info.value)
    assert isinstance(info.value, SrsciError)


def _bundle_without(path: Path, name: str) -> None:
    save_bundle(path, Tiny(), make_metadata(Tiny()))
    (path / name).unlink()


def _bundle_with_json(path: Path, text: str) -> None:
    save_bundle(path, Tiny(), make_metadata(Tiny()))
    (path / "model.json").write_text(text)


def test_weights_that_do_not_fit_the_architecture(tmp_path, tiny_arch):
    model = Tiny(channels=4)
    path = save_bundle(tmp_path / "b", model, make_metadata(model))
    record = json.loads((path / "model.json").read_text())
    record["metadata"]["arch_config"] = {"channels": 6}
    (path / "model.json").write_text(json.dumps(record))
    with pytest.raises(BundleError, match="do not fit the architecture"):
        load_bundle(path)


def test_load_to_device(tmp_path, tiny_arch):
    model = trained_tiny()
    path = save_bundle(tmp_path / "b", model, make_metadata(model))
    loaded, _ = load_bundle(path, device=torch.device("cpu"))
    assert next(loaded.parameters()).device.type == "cpu"


def test_unknown_arch(tmp_path, tiny_arch):
    model = trained_tiny()
    meta = make_metadata(model, arch="no-such-arch")
    path = save_bundle(tmp_path / "b", model, meta)
    with pytest.raises(SrsciError, match="no-such-arch"):
        load_bundle(path)
