"""Benchmark: open a ~2 GB FITS image lazily.

Run from the repository root::

    python -m benchmarks.fits_open            # 2 GB, 3 repeats
    python -m benchmarks.fits_open --size-gb 8 --repeats 5

A float32 FITS file of the requested size is created in a temporary directory: the
header is written with astropy and the file is extended to its full length with
``truncate``, so the data is a sparse hole (all zeros, no disk space; reads come from
zero pages, so the one-chunk time is a lower bound of real disk reads).  Each repeat
runs in a fresh Python subprocess, so its peak RSS (``ru_maxrss``) is its own:

* ``open_array`` time (headers parsed, dask graph built, no pixel read),
* metadata (shape, chunks, units, pixel sizes from the WCS),
* computing one 1024 x 1024 chunk (the first compute also pays dask's one-off
  scheduler imports), then a second one.

If the ``srsci`` CLI is importable, ``srsci info PATH --json`` is timed the same way.
Results go to ``benchmarks/results/fits_open.json`` and ``benchmarks/results/fits_open.md``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import astropy
import dask
import numpy as np
from astropy.io import fits

import srgan_sci

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"

# Runs in a fresh interpreter: argv[1] is the FITS path.  Prints one JSON line.
OPEN_PROBE = r"""
import json, resource, sys, time

def peak_rss_mb():
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10

start = time.perf_counter()
from srgan_sci.io import open_array
imported = time.perf_counter()
rss_after_import = peak_rss_mb()
image = open_array(sys.argv[1])
opened = time.perf_counter()
rss_after_open = peak_rss_mb()
meta = image.meta
summary = {
    "shape": list(image.data.shape),
    "chunksize": list(image.data.chunksize),
    "npartitions": image.data.npartitions,
    "units": meta.units,
    "dtype_on_disk": meta.dtype_on_disk,
    "pixel_sizes_deg": {k: v.value for k, v in meta.pixel_sizes.items()},
}
described = time.perf_counter()
block = image.data.blocks[(0,) * image.data.ndim].compute()
chunk_read = time.perf_counter()
middle = tuple(n // 2 for n in image.data.numblocks)
image.data.blocks[middle].compute()
second_read = time.perf_counter()
print(json.dumps({
    "import_s": imported - start,
    "open_s": opened - imported,
    "metadata_s": described - opened,
    "one_chunk_s": chunk_read - described,
    "second_chunk_s": second_read - chunk_read,
    "chunk_shape": list(block.shape),
    "peak_rss_after_import_mb": rss_after_import,
    "peak_rss_after_open_mb": rss_after_open,
    "peak_rss_mb": peak_rss_mb(),
    "summary": summary,
}))
"""

# Runs ``srsci info PATH --json`` in-process and reports time and peak RSS on stderr.
CLI_PROBE = r"""
import json, resource, sys, time
start = time.perf_counter()
from srgan_sci.cli.main import main
code = main(["info", sys.argv[1], "--json"])
elapsed = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
peak_mb = peak / 2**20 if sys.platform == "darwin" else peak / 2**10
report = {"exit_code": code, "wall_s": elapsed, "peak_rss_mb": peak_mb}
sys.stderr.write("PROBE " + json.dumps(report) + "\n")
"""


def make_sparse_fits(path: Path, size_bytes: float) -> tuple[int, int]:
    """Write a float32 FITS file of about ``size_bytes`` whose data is a sparse hole."""
    side = int(math.sqrt(size_bytes / 4))
    header = fits.Header()
    header["SIMPLE"] = True
    header["BITPIX"] = -32
    header["NAXIS"] = 2
    header["NAXIS1"] = side
    header["NAXIS2"] = side
    header["BUNIT"] = "MJy/sr"
    header["CTYPE1"], header["CTYPE2"] = "RA---TAN", "DEC--TAN"
    header["CRVAL1"], header["CRVAL2"] = 266.4, -28.93333
    header["CRPIX1"], header["CRPIX2"] = side / 2 + 0.5, side / 2 + 0.5
    header["CDELT1"], header["CDELT2"] = -0.001388889, 0.001388889
    head = header.tostring().encode("ascii")
    nbytes = side * side * 4
    with path.open("wb") as file:
        file.write(head)
        file.truncate(len(head) + nbytes + (-nbytes % 2880))
    return side, side


def run_probe(code: str, path: Path, timeout: float) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter from the repository root."""
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run(
        [sys.executable, "-c", code, str(path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def measure_open(path: Path, repeats: int, timeout: float) -> list[dict]:
    """Time open + metadata + one chunk, once per fresh subprocess."""
    runs = []
    for _ in range(repeats):
        done = run_probe(OPEN_PROBE, path, timeout)
        if done.returncode != 0:
            raise RuntimeError(f"open probe failed:\n{done.stderr}")
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return runs


def measure_cli(path: Path, repeats: int, timeout: float) -> dict:
    """Time ``srsci info PATH --json`` per fresh subprocess, or say why it could not run."""
    runs = []
    for _ in range(repeats):
        try:
            done = run_probe(CLI_PROBE, path, timeout)
        except subprocess.TimeoutExpired:
            return {"status": f"timed out after {timeout} s"}
        probe = [line for line in done.stderr.splitlines() if line.startswith("PROBE ")]
        if not probe:
            tail = " ".join(done.stderr.split())[-300:]
            return {"status": f"did not run: {tail}"}
        runs.append(json.loads(probe[-1][len("PROBE ") :]))
    return {"status": "ok", "runs": runs}


def machine_info() -> dict:
    """Platform, CPU, memory and library versions."""
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        ram = None
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        "cpu_count": os.cpu_count(),
        "ram_gb": round(ram / 2**30, 1) if ram else None,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "dask": dask.__version__,
        "astropy": astropy.__version__,
        "srgan_sci": srgan_sci.__version__,
    }


def median(runs: list[dict], key: str) -> float:
    """Median of one field over the runs."""
    return statistics.median(run[key] for run in runs)


def markdown_report(result: dict) -> str:
    """Human-readable table of the results."""
    runs = result["open_array"]
    lines = [
        "# FITS open benchmark",
        "",
        "The first compute includes dask's one-off scheduler set-up (it imports"
        " `distributed`); the second chunk shows the read itself.",
        "",
        f"File: {result['file']['size_gb']:.2f} GB float32, shape {result['file']['shape']}, "
        "sparse (data not on disk; one-chunk time is a lower bound).",
        f"Median of {len(runs)} fresh subprocesses. Generated by `python -m benchmarks.fits_open`.",
        "",
        "| step | median | all runs |",
        "|---|---|---|",
    ]
    for key, label in (
        ("open_s", "`open_array` (headers, dask graph)"),
        ("metadata_s", "metadata (shape, units, WCS pixel sizes)"),
        ("one_chunk_s", "compute one 1024x1024 chunk (first compute)"),
        ("second_chunk_s", "compute another chunk (dask warmed up)"),
        ("import_s", "import srgan_sci.io (for scale)"),
    ):
        values = ", ".join(f"{run[key] * 1e3:.1f}" for run in runs)
        lines.append(f"| {label} | {median(runs, key) * 1e3:.1f} ms | {values} |")
    for key, label in (
        ("peak_rss_after_import_mb", "peak RSS after import"),
        ("peak_rss_after_open_mb", "peak RSS after open"),
        ("peak_rss_mb", "peak RSS after two chunks"),
    ):
        values = ", ".join(f"{run[key]:.0f}" for run in runs)
        lines.append(f"| {label} | {median(runs, key):.0f} MB | {values} |")
    cli = result["srsci_info"]
    if cli["status"] == "ok":
        lines.append(
            f"| `srsci info PATH --json` wall time | {median(cli['runs'], 'wall_s'):.2f} s | "
            + ", ".join(f"{run['wall_s']:.2f}" for run in cli["runs"])
            + " |"
        )
        lines.append(
            f"| `srsci info PATH --json` peak RSS | {median(cli['runs'], 'peak_rss_mb'):.0f} MB | "
            + ", ".join(f"{run['peak_rss_mb']:.0f}" for run in cli["runs"])
            + " |"
        )
    else:
        lines.append(f"| `srsci info PATH --json` | {cli['status']} | |")
    lines += ["", "## Machine", "", "| | |", "|---|---|"]
    lines += [f"| {key} | {value} |" for key, value in result["machine"].items()]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Create the file, measure, write the results and print the Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-gb", type=float, default=2.0, help="file size (default 2)")
    parser.add_argument("--repeats", type=int, default=3, help="fresh subprocesses (default 3)")
    parser.add_argument("--timeout", type=float, default=600.0, help="per subprocess, seconds")
    parser.add_argument("--tmpdir", default=None, help="where to create the file")
    parser.add_argument("--no-cli", action="store_true", help="skip `srsci info`")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(dir=args.tmpdir, prefix="srsci-fits-bench-") as tmp:
        path = Path(tmp) / "big.fits"
        started = time.perf_counter()
        shape = make_sparse_fits(path, args.size_gb * 1e9)
        create_s = time.perf_counter() - started
        size = path.stat().st_size
        runs = measure_open(path, args.repeats, args.timeout)
        cli = (
            {"status": "skipped (--no-cli)"}
            if args.no_cli
            else measure_cli(path, args.repeats, args.timeout)
        )
    result = {
        "file": {
            "size_bytes": size,
            "size_gb": size / 1e9,
            "shape": list(shape),
            "dtype": "float32",
            "sparse": True,
            "create_s": create_s,
        },
        "open_array": runs,
        "median": {
            key: median(runs, key)
            for key in (
                "open_s",
                "metadata_s",
                "one_chunk_s",
                "second_chunk_s",
                "import_s",
                "peak_rss_mb",
            )
        },
        "srsci_info": cli,
        "machine": machine_info(),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "fits_open.json").write_text(json.dumps(result, indent=2) + "\n")
    report = markdown_report(result)
    (RESULTS / "fits_open.md").write_text(report)
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
