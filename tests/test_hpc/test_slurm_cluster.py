"""Smoke tests against the real single-node SLURM cluster started by ``.ci/slurm-up``.

Without a running cluster these tests skip, unless ``SRSCI_REQUIRE_SLURM=1`` is set (as in
CI), in which case they fail so that a broken cluster cannot pass silently.
"""

import os
import shutil
import subprocess
import sys
import time

import pytest

import srgan_sci

pytestmark = pytest.mark.slurm

HINT = "SLURM cluster is not up: run `.ci/slurm-up` (as root) first"
READY_STATES = {"idle", "mixed"}


def _slurm_problem(timeout=10.0):
    """Return why the local cluster is unusable, or None when a node is idle/mixed."""
    if shutil.which("sbatch") is None or shutil.which("sinfo") is None:
        return "sbatch/sinfo not found on PATH"
    deadline = time.monotonic() + timeout
    last = ""
    while True:
        try:
            proc = subprocess.run(
                ["sinfo", "-h", "-o", "%T"],
                capture_output=True,
                text=True,
                timeout=max(1.0, deadline - time.monotonic()),
            )
            states = {s.strip().rstrip("*~#$@") for s in proc.stdout.split()}
            if proc.returncode == 0 and states & READY_STATES:
                return None
            last = f"sinfo rc={proc.returncode} states={sorted(states)} {proc.stderr.strip()}"
        except subprocess.TimeoutExpired:
            last = "sinfo timed out"
        if time.monotonic() >= deadline:
            return f"no idle/mixed node within {timeout:.0f} s ({last})"
        time.sleep(0.5)


@pytest.fixture(scope="module", autouse=True)
def slurm_cluster():
    problem = _slurm_problem()
    if problem is not None:
        msg = f"{HINT} ({problem})"
        if os.environ.get("SRSCI_REQUIRE_SLURM") == "1":
            pytest.fail(f"SRSCI_REQUIRE_SLURM=1: {msg}", pytrace=False)
        pytest.skip(msg)


def test_sbatch_job_sees_project_python(tmp_path):
    out = tmp_path / "out.txt"
    code = "import srgan_sci; print(srgan_sci.__version__)"
    proc = subprocess.run(
        [
            "sbatch",
            "--wait",
            "--job-name=srsci-version",
            "--time=00:05:00",
            f"--output={out}",
            "--wrap",
            f"{sys.executable} -c '{code}'",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
    )
    log = out.read_text() if out.exists() else "<no output file>"
    assert proc.returncode == 0, f"sbatch failed: {proc.stdout}{proc.stderr}\njob output:\n{log}"
    assert log.strip().splitlines()[-1] == srgan_sci.__version__, log


def test_dask_jobqueue_slurmcluster(tmp_path):
    da = pytest.importorskip("dask.array")
    distributed = pytest.importorskip("distributed")
    dask_jobqueue = pytest.importorskip("dask_jobqueue")

    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    with (
        dask_jobqueue.SLURMCluster(
            cores=1,
            processes=1,
            memory="1GB",
            queue="debug",
            walltime="00:10:00",
            interface="lo",
            scheduler_options={"interface": "lo", "dashboard_address": "127.0.0.1:0"},
            job_extra_directives=[],
            local_directory=str(tmp_path / "dask-worker-space"),
            log_directory=str(log_dir),
            python=sys.executable,
            name="srsci-dask",
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:"), cluster.scheduler_address
        cluster.scale(jobs=1)
        try:
            client.wait_for_workers(1, timeout=120)
        except Exception:  # attach the job script and worker logs to the failure
            logs = "\n".join(f"--- {p.name}\n{p.read_text()}" for p in log_dir.iterdir())
            pytest.fail(f"no dask worker within 120 s\n{cluster.job_script()}\n{logs}")

        total = da.arange(1000, chunks=100).sum().compute()
        assert int(total) == 499500

        workers = client.scheduler_info()["workers"]
        assert len(workers) == 1
        for addr in workers:
            assert addr.startswith("tcp://127.0.0.1:"), addr
        cluster.scale(0)
