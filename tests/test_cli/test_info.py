import json

import numpy as np
import pytest
from astropy.io import fits


def test_info_on_bundled_sample_reports_wcs(srsci):
    result = srsci("info", "--sample", "--json")
    summary = json.loads(result.stdout)
    assert summary["format"] == "fits"
    assert summary["shape"] == [256, 256]
    assert summary["wcs"]["ctype"] == ["RA---TAN", "DEC--TAN"]
    assert summary["wcs"]["pixel_scale_arcsec"] == pytest.approx([0.04, 0.04])
    assert summary["nan_fraction"] == 0.0 and summary["nan_fraction_exact"]


def test_info_text_output_counts_nans(srsci, tmp_path):
    data = np.ones((10, 10), np.float32)
    data[:2] = np.nan
    path = tmp_path / "holes.fits"
    fits.writeto(path, data)
    result = srsci("info", str(path))
    assert "NaN         20 % (exact)" in result.stdout
    assert "(10, 10)" in result.stdout


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: None, "no such file"),
        (lambda p: p.write_text("hello"), "unknown image format"),
    ],
)
def test_info_errors_are_one_line(srsci, tmp_path, make, message):
    path = tmp_path / "input.txt"
    make(path)
    result = srsci("info", str(path), check_rc=2)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("srsci: error: ") and message in lines[0]
    assert "Traceback" not in result.stderr


def test_table_hdu_error_and_debug_traceback(srsci, tmp_path):
    path = tmp_path / "table.fits"
    table = fits.BinTableHDU.from_columns([fits.Column(name="a", format="E", array=np.arange(3.0))])
    fits.HDUList([fits.PrimaryHDU(), table]).writeto(path)
    result = srsci("info", f"{path}[1]", check_rc=2)
    assert result.stderr.count("\n") == 1 and "table" in result.stderr.lower()
    debug = srsci("--debug", "info", f"{path}[1]", check_rc=None)
    assert debug.returncode != 0 and "Traceback" in debug.stderr


def test_usage_errors_are_one_line(srsci):
    result = srsci("info", check_rc=2)
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("srsci: error: ")
