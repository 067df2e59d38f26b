import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from srgan_sci.infer.schedulers import SchedulerError, parse_scheduler, slurm_options
from srgan_sci.io import open_array
from srgan_sci.workflows import sample_path


def _upscale(srsci, out, *scheduler):
    srsci("upscale", str(sample_path("hdf")), str(out),
          "--model", "bicubic", "--scale", "2", "--chunk", "64",
          "--no-progress", *scheduler)  # fmt: skip
    return open_array(out).data.compute()


def test_parse_scheduler_accepts_the_documented_forms_only():
    assert parse_scheduler("threads") == ("threads", None)
    assert parse_scheduler("local:3") == ("local", 3)
    assert parse_scheduler("tcp://127.0.0.1:8786") == ("tcp", "tcp://127.0.0.1:8786")
    for bad in ("local:0", "local:x", "mpi"):
        with pytest.raises(SchedulerError):
            parse_scheduler(bad)


def test_slurm_options_from_toml(tmp_path):
    config = tmp_path / "slurm.toml"
    config.write_text('[slurm]\nqueue = "gpu"\ngpus = 1\njobs = 4\nmemory = "16GB"\n')
    options = slurm_options(config)
    assert (options["queue"], options["gpus"], options["jobs"], options["cores"]) == (
        "gpu",
        1,
        4,
        1,
    )
    config.write_text("[slurm]\nnodes = 3\n")
    with pytest.raises(SchedulerError, match="unknown \\[slurm\\] options nodes"):
        slurm_options(config)


def test_local_cluster_gives_the_threads_result_bit_for_bit(srsci, tmp_path):
    threads = _upscale(srsci, tmp_path / "threads.ome.zarr")
    local = _upscale(srsci, tmp_path / "local.ome.zarr", "--scheduler", "local:2")
    np.testing.assert_array_equal(local, threads)


def test_unreachable_cluster_is_a_one_line_error(srsci, tmp_path):
    out = tmp_path / "x.ome.zarr"
    result = srsci("upscale", str(sample_path("hdf")), str(out),
                   "--model", "bicubic", "--scale", "2",
                   "--scheduler", "tcp://127.0.0.1:9", check_rc=2)  # fmt: skip
    assert result.stderr.count("\n") == 1 and "cannot reach dask scheduler" in result.stderr
    assert not out.exists()


def _slurm_is_up() -> bool:
    if not shutil.which("sinfo"):
        return False
    states = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True)
    return any(s in states.stdout for s in ("idle", "mixed"))


@pytest.mark.slurm
def test_slurm_scheduler_gives_the_threads_result(srsci, tmp_path):
    if not _slurm_is_up():
        message = "SLURM cluster is not up: run `.ci/slurm-up` (as root) first"
        if os.environ.get("SRSCI_REQUIRE_SLURM") == "1":
            pytest.fail(message)
        pytest.skip(message)
    config = tmp_path / "slurm.toml"
    logs = tmp_path / "slurm-logs"
    config.write_text(
        f'[slurm]\ncores = 1\nmemory = "2GB"\nwalltime = "00:10:00"\nlog_directory = "{logs}"\n'
    )
    before = set(Path.cwd().glob("slurm-*.out"))
    threads = _upscale(srsci, tmp_path / "threads.ome.zarr")
    slurm = _upscale(srsci, tmp_path / "slurm.ome.zarr", "--scheduler", "slurm",
                     "--slurm-config", str(config))  # fmt: skip
    np.testing.assert_array_equal(slurm, threads)
    assert list(logs.glob("*.out")) or list(logs.glob("*.err"))  # the job logs went there
    assert set(Path.cwd().glob("slurm-*.out")) == before  # and not into the working directory


def test_existing_cluster_by_address_gives_the_threads_result(srsci, tmp_path):
    import distributed

    threads = _upscale(srsci, tmp_path / "threads.ome.zarr")
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, host="127.0.0.1", dashboard_address="127.0.0.1:0"
    ) as cluster:
        remote = _upscale(
            srsci, tmp_path / "remote.ome.zarr", "--scheduler", cluster.scheduler_address
        )
    np.testing.assert_array_equal(remote, threads)


def test_time_lapse_zarr_is_upscaled_plane_by_plane(srsci, tmp_path):
    from srgan_sci.io import ImageMetadata, write_array

    rng = np.random.default_rng(0)
    movie = rng.random((3, 40, 48), dtype=np.float32)
    meta = ImageMetadata(source="movie", format="zarr", axes="tyx", dtype_on_disk="float32")
    source = write_array(tmp_path / "movie.ome.zarr", movie, meta)
    out = tmp_path / "movie_x2.ome.zarr"
    srsci(
        "upscale",
        str(source),
        str(out),
        "--model",
        "bicubic",
        "--scale",
        "2",
        "--chunk",
        "16",
        "--no-progress",
    )
    result = open_array(out)
    assert result.meta.axes == "tyx" and result.data.shape == (3, 80, 96)
    frames = result.data.compute()
    single = tmp_path / "frame1.ome.zarr"
    write_array(tmp_path / "f1.ome.zarr", movie[1], meta.with_updates(axes="yx"))
    srsci("upscale", str(tmp_path / "f1.ome.zarr"), str(single),
          "--model", "bicubic", "--scale", "2", "--chunk", "16",
          "--normalizer", "percentile", "--no-progress")  # fmt: skip
    # frames share one normaliser fitted on the whole movie, so compare shapes of the signal
    np.testing.assert_allclose(
        np.corrcoef(frames[1].ravel(), open_array(single).data.compute().ravel())[0, 1], 1.0,
        atol=1e-6,
    )  # fmt: skip


def test_a_worker_killed_mid_run_loses_and_duplicates_nothing(srsci, tmp_path):
    import signal
    import threading
    import time

    import distributed
    from astropy.io import fits

    from srgan_sci.degrade.scenes import render_scene
    from srgan_sci.upscale import UpscaleConfig, upscale_file

    source = tmp_path / "field.fits"
    fits.writeto(source, render_scene("galaxies", (512, 512), seed=2))
    common = {"input": str(source), "model": "lanczos", "scale": 2, "chunk": 32, "band_bytes": 1}
    common["progress"] = False
    upscale_file(UpscaleConfig(output=str(tmp_path / "threads.ome.zarr"), **common))
    journal = tmp_path / ".killed.ome.zarr.partial" / ".srsci-bands" / "0"
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address="127.0.0.1:0"
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        victim = next(iter(client.run(os.getpid).values()))
        config = UpscaleConfig(
            output=str(tmp_path / "killed.ome.zarr"), scheduler=cluster.scheduler_address, **common
        )
        errors = []
        run = threading.Thread(target=lambda: _record(errors, upscale_file, config))
        run.start()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(list(journal.glob("*"))) < 2:
            time.sleep(0.02)
        bands_before_kill = len(list(journal.glob("*")))
        os.kill(victim, signal.SIGKILL)
        run.join(timeout=300)
    assert 2 <= bands_before_kill < 16, "the worker must die while bands remain to be written"
    assert not errors, errors
    killed = open_array(tmp_path / "killed.ome.zarr").data.compute()
    np.testing.assert_array_equal(killed, open_array(tmp_path / "threads.ome.zarr").data.compute())


def _record(errors, function, *args):
    try:
        function(*args)
    except Exception as error:  # surfaced by the assertion in the test
        errors.append(error)
