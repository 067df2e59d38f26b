"""``srsci evaluate --astro``: the seven validation checks end to end, on a simulated field."""

import json

import pytest

from srgan_sci.evaluate import EvaluateConfig, evaluate_files
from srgan_sci.evaluate_lr import TRUTH_FREE_CHECKS

CHECKS = (
    "consistency",
    "photometry",
    "astrometry",
    "effective_psf",
    "noise",
    "hallucination",
    "seams",
)
METHODS = ("bicubic", "lanczos", "richardson-lucy", "SR")


@pytest.fixture(scope="module")
def field(tmp_path_factory):
    """A 512² galaxies field through ground-seeing, upscaled by astro-x4 via the CLI."""
    import subprocess
    import sys

    folder = tmp_path_factory.mktemp("astro")

    def srsci(*args):
        done = subprocess.run(
            [sys.executable, "-m", "srgan_sci.cli.main", *args],
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stderr
        return done

    pairs, sr = folder / "pairs.zarr", folder / "sr.zarr"
    srsci(
        "simulate",
        "--scene",
        "galaxies",
        "--size",
        "512",
        "--preset",
        "ground-seeing",
        "--out",
        str(pairs),
        "--no-progress",
    )
    srsci("upscale", f"{pairs}/lr/0", str(sr), "--model", "astro-x4", "--no-progress")
    out = folder / "report"
    srsci(
        "evaluate",
        "--pred",
        str(sr),
        "--truth",
        f"{pairs}/hr/0",
        "--lr",
        f"{pairs}/lr/0",
        "--model",
        "astro-x4",
        "--astro",
        "--out",
        str(out),
        "--no-progress",
    )
    return {"pairs": pairs, "sr": sr, "out": out}


def test_every_check_has_numbers_in_report_json(field):
    report = json.loads((field["out"] / "report.json").read_text())
    checks = report["details"]["astro_validation"]
    assert set(checks) == set(CHECKS)
    for name in ("consistency", "photometry", "astrometry"):
        assert set(checks[name]) == set(METHODS)
    assert checks["consistency"]["SR"]["residual_rms_sigma"] == pytest.approx(1.0, abs=0.3)
    assert checks["photometry"]["SR"]["n_sources"] > 5
    assert isinstance(checks["photometry"]["SR"]["median_abs_dmag"], float)
    assert isinstance(checks["astrometry"]["SR"]["half_pixel_flag"], bool)
    psf = checks["effective_psf"]
    assert set(psf["methods"]) == {"truth", *METHODS}
    assert set(psf["header"]) == {"SRPSFFW", "SRPSFEL", "SRPSFN"}
    assert checks["noise"]["truth_noise_free"] is True
    assert checks["noise"]["methods"]["SR"]["sky_rms"] < checks["noise"]["lr_sigma"]
    hallucination = checks["hallucination"]
    assert set(hallucination) == {"astro-x4", "bicubic", "richardson-lucy"}
    assert hallucination["bicubic"]["pure_noise_per_1000_lr_px2"] < 1.0
    for runner in ("astro-x4", "bicubic"):
        assert checks["seams"][runner]["max_abs_diff_over_range"] < 1e-5
        assert checks["seams"][runner]["grid_peak_ratio"] == pytest.approx(1.0, abs=0.3)


def test_every_check_has_a_figure_in_report_html(field):
    report = json.loads((field["out"] / "report.json").read_text())
    html = (field["out"] / "report.html").read_text()
    for name in CHECKS:
        png = report["figures"][f"astro_{name}"]
        assert (field["out"] / png).stat().st_size > 10_000
        assert f'<img src="{png}"' in html
    assert "5. Sky noise" in html and "7. Seams" in html


def test_without_a_model_the_model_checks_are_skipped(field, tmp_path):
    config = EvaluateConfig(
        pred=str(field["sr"]),
        truth=f"{field['pairs']}/hr/0",
        lr=f"{field['pairs']}/lr/0",
        out=str(tmp_path / "report"),
        baselines=("bicubic",),
        astro=True,
        region=256,
        progress=False,
    )
    report = evaluate_files(config)
    checks = report.details["astro_validation"]
    assert checks["hallucination"] == {"skipped": "skipped: pass --model"}
    assert checks["seams"] == {"skipped": "skipped: pass --model"}
    assert "photometry" in checks and "noise" in checks
    assert "skipped: pass --model" in (tmp_path / "report" / "report.html").read_text()


def test_a_real_observation_without_truth_gets_the_truth_free_checks(field, srsci, tmp_path):
    out = tmp_path / "report"
    result = srsci("evaluate", "--pred", str(field["sr"]), "--lr", f"{field['pairs']}/lr/0",
                   "--model", "astro-x4", "--astro", "--baselines", "bicubic",
                   "--region", "256", "--out", str(out), "--no-progress")  # fmt: skip
    assert "| SR |" in result.stdout
    report = json.loads((out / "report.json").read_text())
    checks = report["details"]["astro_validation"]
    assert set(checks) == set(TRUTH_FREE_CHECKS)
    assert report["inputs"]["truth"] is None
    assert set(checks["consistency"]) == {"bicubic", "SR"}
    # the bicubic of the LR keeps the LR's noise; the model removes most of it
    noise = checks["noise"]["methods"]
    assert noise["SR"]["rms_over_lr_sigma"] < noise["bicubic"]["rms_over_lr_sigma"]
    assert "SRPSFN" in checks["effective_psf"]["header"]
    assert checks["seams"]["astro-x4"]["max_abs_diff_over_range"] < 1e-5
    html = (out / "report.html").read_text()
    assert "No truth" in html and "4. Effective PSF" in html and "2. Point-source" not in html
    for name in TRUTH_FREE_CHECKS:
        assert (out / report["figures"][f"astro_{name}"]).stat().st_size > 10_000


def test_without_truth_evaluate_needs_astro_and_lr(field, srsci, tmp_path):
    result = srsci("evaluate", "--pred", str(field["sr"]), "--lr", f"{field['pairs']}/lr/0",
                   "--out", str(tmp_path / "r"), check_rc=2)  # fmt: skip
    assert result.stderr.startswith("srsci: error: --truth is required, except with --astro")
    assert "Traceback" not in result.stderr and not (tmp_path / "r").exists()
