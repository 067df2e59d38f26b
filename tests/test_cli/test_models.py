"""srsci models, and srsci upscale choosing a bundled model when --model is absent."""

import numpy as np

from srgan_sci.io import open_array
from srgan_sci.workflows import sample_path


def test_models_lists_bundled_models(srsci, tmp_path, monkeypatch):
    monkeypatch.setenv("SRSCI_MODEL_DIR", str(tmp_path))
    lines = srsci("models").stdout.splitlines()
    assert lines[0].split()[:4] == ["name", "scale", "degradation", "source"]
    rows = {line.split()[0]: line for line in lines[1:]}
    assert "x4" in rows["astro-x4"] and "bundled" in rows["astro-x4"]
    assert "ground-seeing" in rows["astro-x4"]


def test_models_name_prints_its_card(srsci):
    text = srsci("models", "astro-x4").stdout
    assert "astro-x4" in text and "x4" in text


def test_upscale_without_model_uses_the_astro_default_for_fits(srsci, tmp_path):
    out = tmp_path / "out.zarr"
    result = srsci("upscale", str(sample_path("hdf")), str(out), "--no-progress")
    # the HDF sample's header says TELESCOP = HST: the space-diffraction specialist
    assert "astro-x4-space, the bundled default for FITS input from a space telescope" in (
        result.stderr
    )
    image = open_array(out)
    source = open_array(sample_path("hdf"))
    assert image.data.shape == tuple(4 * n for n in source.data.shape)
    assert np.isfinite(image.data[:64, :64].compute()).all()


def test_unknown_model_is_a_one_line_error(srsci, tmp_path):
    result = srsci("upscale", str(sample_path("hdf")), str(tmp_path / "o.zarr"),
                   "--model", "no-such-model", check_rc=2)  # fmt: skip
    assert result.stderr.count("\n") == 1 and "srsci models" in result.stderr


def test_auto_normalizer_is_the_one_the_model_was_trained_with(tmp_path):
    from srgan_sci.upscale import UpscaleConfig, upscale_file

    out = tmp_path / "o.zarr"
    config = UpscaleConfig(input=str(sample_path("hdf")), output=str(out), model="fluo-x4",
                           progress=False)  # fmt: skip
    assert upscale_file(config)["normalizer"]["kind"] == "percentile"  # FITS, yet as trained
    config = UpscaleConfig(input=str(sample_path("hdf")), output=str(tmp_path / "b.zarr"),
                           model="bicubic", scale=2, progress=False)  # fmt: skip
    assert upscale_file(config)["normalizer"]["kind"] == "asinh"
