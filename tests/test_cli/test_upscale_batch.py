import json

import numpy as np
from astropy.io import fits

from srgan_sci.batch import expand_inputs, output_name


def test_output_names_and_input_lists(tmp_path):
    assert output_name("a/b/img.fits", ".ome.zarr") == "img.ome.zarr"
    assert output_name("cells.ome.tif", ".ome.zarr") == "cells.ome.zarr"
    assert output_name("f.fits[SCI]", ".ome.zarr") == "f_SCI.ome.zarr"
    for name in ("b.fits", "a.fits"):
        (tmp_path / name).touch()
    listing = tmp_path / "list.txt"
    listing.write_text(f"# inputs\n{tmp_path / 'b.fits'}\n")
    found = expand_inputs([str(tmp_path / "*.fits"), f"@{listing}"])
    assert found == [str(tmp_path / "a.fits"), str(tmp_path / "b.fits")]


def test_batch_records_failures_and_a_rerun_continues(srsci, tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    rng = np.random.default_rng(0)
    for index in range(2):
        fits.writeto(inputs / f"ok{index}.fits", rng.random((32, 32), dtype=np.float32))
    (inputs / "broken.fits").write_text("not a FITS file")
    out = tmp_path / "out"
    args = ["upscale", "--batch", str(inputs / "*.fits"), "--out-dir", str(out),
            "--model", "bicubic", "--scale", "2", "--chunk", "16", "--no-progress"]  # fmt: skip
    first = srsci(*args, check_rc=1)
    assert "2 done, 1 failed" in first.stdout
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest[str(inputs / "broken.fits")]["status"] == "failed"
    assert "broken.fits" in manifest[str(inputs / "broken.fits")]["error"]
    done = out / "ok0.ome.zarr"
    stamp = done.stat().st_mtime_ns
    fits.writeto(inputs / "broken.fits", rng.random((32, 32), dtype=np.float32), overwrite=True)
    second = srsci(*args)
    assert "3 done, 0 failed" in second.stdout
    assert done.stat().st_mtime_ns == stamp  # finished files are not redone
    assert (out / "broken.ome.zarr").exists()


def test_batch_prints_the_unit_rule_warning_of_each_file(srsci, tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    rng = np.random.default_rng(1)
    for name, bunit in (("odd", "furlong"), ("known", "electron/s")):
        header = fits.Header({"BUNIT": bunit})
        fits.writeto(inputs / f"{name}.fits", rng.random((32, 32), dtype=np.float32), header)
    out = tmp_path / "out"
    options = ["--model", "bicubic", "--scale", "2", "--chunk", "16", "--no-progress"]
    result = srsci("upscale", "--batch", str(inputs / "*.fits"), "--out-dir", str(out), *options)
    warnings = [line for line in result.stderr.splitlines() if "srsci: warning:" in line]
    assert len(warnings) == 1
    assert str(inputs / "odd.fits") in warnings[0] and "'furlong'" in warnings[0]
    manifest = json.loads((out / "manifest.json").read_text())
    assert "warnings" not in manifest[str(inputs / "known.fits")]
    assert "furlong" in manifest[str(inputs / "odd.fits")]["warnings"][0]
