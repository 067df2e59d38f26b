"""srsci demo: the whole pipeline, offline, with the bundled models."""

import json

from srgan_sci.demo import DemoConfig, run_demo


def test_demo_runs_every_stage_and_the_models_beat_bicubic(tmp_path):
    out = tmp_path / "demo"
    results = run_demo(DemoConfig(out=str(out), size=256, progress=False), log=lambda line: None)
    assert set(results) == {"astro", "fluo"}
    assert results["astro"]["model"] == "astro-x4" and results["fluo"]["model"] == "fluo-x4"
    for kind, result in results.items():
        folder = out / kind
        assert (folder / "sr.zarr").is_dir() and result["report"].is_file()
        record = json.loads((folder / "report" / "report.json").read_text())
        model = record["metrics"][result["model"]]
        assert model["psnr"] > record["metrics"]["bicubic"]["psnr"], kind
        assert model["ssim"] > record["metrics"]["bicubic"]["ssim"], kind
    assert (out / "astro" / "lr.fits").is_file() and (out / "fluo" / "lr.ome.tif").is_file()
    assert "photometry" in json.loads((out / "astro/report/report.json").read_text())["details"]
    assert 'href="astro/report/report.html"' in (out / "index.html").read_text()


def test_demo_refuses_an_existing_folder(srsci, tmp_path):
    out = tmp_path / "demo"
    out.mkdir()
    result = srsci("demo", "--out", str(out), "--no-progress", check_rc=2)
    assert result.stderr.startswith("srsci: error:") and "--overwrite" in result.stderr
