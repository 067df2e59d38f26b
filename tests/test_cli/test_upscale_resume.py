import os
import signal
import subprocess
import sys
import time

import numpy as np
import torch
from astropy.io import fits

from srgan_sci.degrade.scenes import render_scene
from srgan_sci.io import open_array
from srgan_sci.models.bundle import BundleMetadata, save_bundle
from srgan_sci.models.generator import MSRResNet


def _command(source, out, bundle, *extra):
    return [sys.executable, "-m", "srgan_sci.cli.main", "upscale", str(source), str(out),
            "--model", str(bundle), "--chunk", "64", "--band-mb", "0", "--no-progress",
            *extra]  # fmt: skip


def test_sigkill_then_resume_is_bit_identical(srsci, tmp_path):
    torch.manual_seed(0)
    generator = MSRResNet(channels=16, blocks=4, scale=2)
    metadata = BundleMetadata(
        arch="msrresnet", arch_config=generator.config(), scale=2, in_channels=1,
        out_channels=1, normalizer=None, degradation=None, training={}, name="slow",
    )  # fmt: skip
    bundle = save_bundle(tmp_path / "model", generator, metadata)
    source = tmp_path / "field.fits"
    fits.writeto(source, render_scene("galaxies", (512, 512), seed=1))

    whole = tmp_path / "whole.ome.zarr"
    subprocess.run(_command(source, whole, bundle), check=True, capture_output=True)

    out = tmp_path / "resumed.ome.zarr"
    journal = tmp_path / ".resumed.ome.zarr.partial" / ".srsci-bands" / "0"
    process = subprocess.Popen(_command(source, out, bundle, "--resume"))
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and len(list(journal.glob("*"))) < 2:
        assert process.poll() is None, "the run ended before it could be killed"
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert not out.exists(), "a killed run must not leave an output that looks complete"
    done_before = len(list(journal.glob("*")))
    assert 2 <= done_before < 8

    srsci("upscale", str(source), str(out), "--model", str(bundle), "--chunk", "64",
          "--band-mb", "0", "--no-progress", "--resume")  # fmt: skip
    np.testing.assert_array_equal(open_array(out).data.compute(), open_array(whole).data.compute())
    assert not (tmp_path / ".resumed.ome.zarr.partial").exists()
    assert not (tmp_path / ".resumed.ome.zarr.resume.json").exists()


def test_resume_refuses_a_different_job_and_fits_output(srsci, tmp_path):
    source = tmp_path / "a.fits"
    fits.writeto(source, np.ones((64, 64), np.float32))
    journal = tmp_path / ".out.ome.zarr.resume.json"
    journal.write_text('{"job": {"input": "other"}, "normalizer": {}}')
    result = srsci("upscale", str(source), str(tmp_path / "out.ome.zarr"),
                   "--model", "bicubic", "--scale", "2",
                   "--resume", check_rc=2)  # fmt: skip
    assert "records a different run" in result.stderr
    result = srsci("upscale", str(source), str(tmp_path / "out.fits"),
                   "--model", "bicubic", "--scale", "2",
                   "--resume", check_rc=2)  # fmt: skip
    assert "--resume needs a Zarr" in result.stderr
