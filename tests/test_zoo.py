"""Bundled and user models: listing, names, defaults per input format."""

import shutil

import pytest

from srgan_sci.models.bundle import read_bundle_metadata
from srgan_sci.zoo import (
    DEFAULTS,
    SPACE_DEFAULTS,
    ModelNotFoundError,
    default_model,
    list_models,
    resolve_model,
    space_telescope,
)


def test_every_default_model_is_bundled_with_weights_and_recipe():
    bundled = {entry.name: entry for entry in list_models() if entry.source == "bundled"}
    for (domain, scale), name in DEFAULTS.items():
        assert name in bundled, f"{name} is not installed in srgan_sci/zoo"
        metadata = read_bundle_metadata(bundled[name].path)
        assert metadata.scale == scale and metadata.name == name
        assert metadata.training["recipe"] == f"srgan_sci/zoo/recipes/{name}.toml"
        size = (bundled[name].path / "model.safetensors").stat().st_size
        assert size < 5 * 2**20, f"{name} weights are {size} bytes; too big to ship"
        astro = {"ground-seeing", "space-diffraction"}
        names = {spec["name"] for spec in metadata.training["degradations"]}
        assert (names <= astro) == (domain == "astro")


def test_defaults_follow_the_input_format():
    assert default_model("fits") == "astro-x4"
    assert default_model("tiff") == "fluo-x4"
    assert default_model("zarr", 2) == "fluo-x2"
    with pytest.raises(ModelNotFoundError, match="no default astro model for x2"):
        default_model("fits", 2)


def test_fits_from_a_space_telescope_gets_the_space_specialist():
    from astropy.io import fits

    hst, ground = fits.Header({"TELESCOP": "HST"}), fits.Header({"TELESCOP": "CFHT"})
    assert space_telescope(hst) == "HST"
    assert space_telescope(fits.Header({"TELESCOP": " jwst "})) == "JWST"
    assert space_telescope(ground) is None and space_telescope(None) is None
    assert default_model("fits", 4, hst) == "astro-x4-space"
    assert default_model("fits", 4, ground) == "astro-x4"
    assert default_model("tiff", 4, hst) == "fluo-x4"  # TELESCOP means nothing to microscopy
    for scale, name in SPACE_DEFAULTS.items():
        metadata = read_bundle_metadata(resolve_model(name))
        assert metadata.scale == scale and metadata.name == name
        assert metadata.training["recipe"] == f"srgan_sci/zoo/recipes/{name}.toml"
        assert {spec["name"] for spec in metadata.training["degradations"]} == {"space-diffraction"}


def test_user_models_are_listed_and_shadow_bundled_ones(tmp_path, monkeypatch):
    monkeypatch.setenv("SRSCI_MODEL_DIR", str(tmp_path))
    shutil.copytree(resolve_model("astro-x4"), tmp_path / "astro-x4")
    shutil.copytree(resolve_model("astro-x4"), tmp_path / "my-model")
    (tmp_path / "not-a-model").mkdir()
    entries = {entry.name: entry for entry in list_models()}
    assert entries["my-model"].source == "user"
    assert entries["astro-x4"].source == "user"
    assert "not-a-model" not in entries
    assert resolve_model("astro-x4") == tmp_path / "astro-x4"


def test_unknown_model_names_list_the_known_ones(monkeypatch, tmp_path):
    monkeypatch.setenv("SRSCI_MODEL_DIR", str(tmp_path))
    with pytest.raises(ModelNotFoundError, match="astro-x4"):
        resolve_model("no-such-model")
