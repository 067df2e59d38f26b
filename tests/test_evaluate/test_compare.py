"""evaluate_arrays: metrics that agree with the metric functions, consistency, figures."""

import numpy as np
import pytest

from srgan_sci.compare import EvaluateError, evaluate_arrays
from srgan_sci.degrade.chain import degrade
from srgan_sci.degrade.scenes import synthetic_scene
from srgan_sci.degrade.spec import preset
from srgan_sci.metrics import default_data_range, lr_pedestal, metrics_table


def test_rows_hold_every_metric_and_match_the_metric_functions(moon_case):
    truth, pred, lr = moon_case["truth"], moon_case["pred"], moon_case["lr"]
    report = evaluate_arrays(truth, {"SR": pred}, lr=lr, spec=moon_case["spec"],
                             baselines=("bicubic",))  # fmt: skip
    assert list(report.table.rows) == ["bicubic", "SR"]
    calibrated = pred - np.float32(lr_pedestal(moon_case["spec"]))  # pred keeps the LR zero point
    expected = metrics_table(truth, calibrated, data_range=default_data_range(truth))
    for name, value in expected.items():
        assert report.table["SR"][name] == pytest.approx(value, rel=1e-9)
    for column in ("care_psnr", "frc_resolution", "chi2_per_pixel", "flux_ratio"):
        assert np.isfinite(report.table["SR"][column])
    assert report.details["data_range"] == pytest.approx(default_data_range(truth))


def test_a_perfect_prediction_is_consistent_with_the_lr_at_the_noise_level():
    spec = preset("ground-seeing").with_overrides(photons=400.0)
    scene = synthetic_scene("galaxies", (256, 256), seed=5).compute()
    hr_adu, lr = degrade(scene, spec, seed=8)
    truth = hr_adu * spec.scale**2  # models output LR units per HR pixel
    report = evaluate_arrays(truth, {"perfect": truth}, lr=lr, spec=spec, baselines=("bicubic",))
    perfect = report.details["consistency"]["perfect"]
    assert perfect["chi2_per_pixel"] == pytest.approx(1.0, abs=0.1)
    assert report.table["perfect"]["frc_resolution"] == pytest.approx(2.0)
    assert report.table["bicubic"]["psnr"] < 60


def test_figures_are_written_and_listed(moon_case, tmp_path):
    report = evaluate_arrays(moon_case["truth"], {"SR": moon_case["pred"]}, lr=moon_case["lr"],
                             spec=moon_case["spec"], figures_dir=tmp_path)  # fmt: skip
    assert set(report.figures) == {"panels", "frc", "consistency"}
    import matplotlib.image

    panels = matplotlib.image.imread(report.figures["panels"])
    # LR | SR | truth | |error| over their zooms: 4 columns of 2.6 x 5.4 inches
    assert panels.shape[1] / panels.shape[0] == pytest.approx(4 * 2.6 / 5.4, rel=0.02)
    assert [s.title for s in report.sections][:3] == [
        "Images", "Fourier ring correlation", "Data consistency"
    ]  # fmt: skip


def test_mismatched_shapes_are_refused(moon_case):
    with pytest.raises(EvaluateError, match="shape"):
        evaluate_arrays(moon_case["truth"], {"SR": moon_case["pred"][:-2]})
    with pytest.raises(EvaluateError, match="integer multiple"):
        evaluate_arrays(moon_case["truth"], {"SR": moon_case["pred"]}, lr=moon_case["lr"][:-1, :])


def test_predictions_from_the_raw_lr_lose_the_pedestal_before_comparing():
    spec = preset("widefield-lowlight")
    scene = synthetic_scene("nuclei", (128, 128), seed=2).compute()
    truth, lr = degrade(scene, spec, seed=1)
    pedestal = spec.sky / spec.gain  # sky not subtracted by this preset, offset is
    raw_zero_point = truth + np.float32(pedestal)
    report = evaluate_arrays(truth, {"SR": raw_zero_point}, lr=lr, spec=spec)
    assert report.table["SR"]["nrmse"] == pytest.approx(0.0, abs=1e-6)
    assert any("pedestal" in note for note in report.notes)
    calibrated = evaluate_arrays(truth, {"SR": raw_zero_point}, spec=spec, pred_zero_point="truth")
    assert calibrated.table["SR"]["nrmse"] > 0.02  # the 10 ADU offset, now counted
