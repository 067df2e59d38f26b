"""evaluate_files / srsci evaluate: whole-image metrics chunk by chunk, report folder, errors."""

import json

import dask.array as da
import numpy as np
import pytest

from srgan_sci.compare import evaluate_arrays
from srgan_sci.evaluate import EvaluateConfig, auto_truth_factor, evaluate_files
from srgan_sci.metrics import default_data_range, lr_pedestal, metrics_table
from srgan_sci.simulate import SimulateConfig, simulate_pairs


def test_report_folder_and_whole_image_metrics(moon_case, tmp_path):
    paths = moon_case["paths"]
    config = EvaluateConfig(
        pred=str(paths["pred"]), truth=str(paths["truth"]), lr=str(paths["lr"]),
        out=str(tmp_path / "report"), preset="confocal", region=128, progress=False,
    )  # fmt: skip
    evaluate_files(config)
    folder = tmp_path / "report"
    names = {p.name for p in folder.iterdir()}
    assert {"report.json", "report.md", "report.html", "panels.png", "frc.png"} <= names
    record = json.loads((folder / "report.json").read_text())
    assert list(record["metrics"]) == ["bicubic", "lanczos", "richardson-lucy", "SR"]
    # PSNR/SSIM are over the whole image even though the analysis region is 128²
    truth, pred = moon_case["truth"], moon_case["pred"]
    data_range = record["details"]["data_range"]
    assert data_range == pytest.approx(default_data_range(truth), rel=1e-6)
    calibrated = pred - np.float32(lr_pedestal(moon_case["spec"]))  # as made from the raw LR
    expected = metrics_table(truth, calibrated, data_range=data_range)
    for name, value in expected.items():
        assert record["metrics"]["SR"][name] == pytest.approx(value, rel=1e-6)
    assert record["details"]["region"] == {"y": [64, 192], "x": [64, 192]}
    assert record["details"]["degradation"]["name"] == "confocal"
    html = (folder / "report.html").read_text()
    assert '<img src="panels.png"' in html and "PSNR (dB)" in html


def test_existing_report_is_kept_without_overwrite(moon_case, tmp_path, srsci):
    paths = moon_case["paths"]
    out = tmp_path / "report"
    out.mkdir()
    (out / "mine.txt").write_text("user data")
    args = ["evaluate", "--pred", str(paths["pred"]), "--truth", str(paths["truth"]),
            "--out", str(out), "--no-progress"]  # fmt: skip
    result = srsci(*args, check_rc=2)
    assert result.stderr.startswith("srsci: error:") and "--overwrite" in result.stderr
    assert (out / "mine.txt").read_text() == "user data"
    srsci(*args, "--overwrite")
    assert not (out / "mine.txt").exists() and (out / "report.json").exists()


def test_mismatched_images_are_a_one_line_error(moon_case, tmp_path, srsci):
    paths = moon_case["paths"]
    result = srsci("evaluate", "--pred", str(paths["lr"]), "--truth", str(paths["truth"]),
                   "--out", str(tmp_path / "r"), check_rc=2)  # fmt: skip
    assert result.stderr.count("\n") == 1 and "same pixel grid" in result.stderr
    assert not (tmp_path / "r").exists()
    result = srsci("evaluate", "--pred", str(paths["pred"]), "--truth", str(paths["truth"]),
                   "--out", str(tmp_path / "r"), "--baselines", "nearest", check_rc=2)  # fmt: skip
    assert "unknown baselines nearest" in result.stderr


def test_without_a_degradation_rl_and_consistency_are_skipped_and_said(moon_case, tmp_path):
    paths = moon_case["paths"]
    report = evaluate_files(EvaluateConfig(
        pred=str(paths["pred"]), truth=str(paths["truth"]), lr=str(paths["lr"]),
        out=str(tmp_path / "r"), progress=False,
    ))  # fmt: skip
    assert "richardson-lucy" not in report.table.rows
    assert any("Richardson–Lucy baseline skipped" in note for note in report.notes)
    assert "consistency" not in report.details


def test_truth_from_a_sum_binned_pairs_dataset_is_put_in_lr_units(tmp_path):
    pairs = tmp_path / "pairs.zarr"
    simulate_pairs(SimulateConfig(out=str(pairs), scene="stars", size=256, preset="ground-seeing",
                                  val_fraction=0.0, progress=False))  # fmt: skip
    assert auto_truth_factor(str(pairs / "hr" / "0")) == 16.0
    assert auto_truth_factor(str(pairs / "lr" / "0")) == 1.0
    truth = da.from_zarr(str(pairs / "hr" / "0")).compute() * 16
    report = evaluate_files(EvaluateConfig(
        pred=str(pairs / "hr" / "0"), truth=str(pairs / "hr" / "0"), lr=str(pairs / "lr" / "0"),
        out=str(tmp_path / "r"), truth_factor=1.0, baselines=("bicubic",), progress=False,
    ))  # fmt: skip
    assert report.table["SR"]["nrmse"] == 0.0
    assert report.details["degradation_source"] == "the truth's pairs dataset"
    direct = evaluate_arrays(truth, {"SR": truth})
    assert direct.table["SR"]["nrmse"] == 0.0


def test_a_bundled_model_name_gives_the_degradation(moon_case, tmp_path):
    paths = moon_case["paths"]
    from srgan_sci.evaluate import resolve_spec

    config = EvaluateConfig(pred=str(paths["pred"]), truth=str(paths["truth"]),
                            out=str(tmp_path / "r"), model="fluo-x2")  # fmt: skip
    spec, source = resolve_spec(config)
    assert spec.scale == 2 and spec.name in ("widefield-lowlight", "confocal")
    assert source == "model fluo-x2"
