"""Machine description and result writing shared by the benchmark scripts."""

from __future__ import annotations

import json
import os
import platform
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def machine_info() -> dict[str, Any]:
    """Platform, CPU count, memory and library versions of this run."""
    import dask
    import numpy
    import psutil

    import srgan_sci

    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "srgan_sci": srgan_sci.__version__,
        "numpy": numpy.__version__,
        "dask": dask.__version__,
    }


def write_results(name: str, payload: dict[str, Any], markdown_lines: list[str]) -> None:
    """Write ``results/<name>.json`` and ``results/<name>.md`` (with the machine line)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(payload, indent=2) + "\n")
    machine = payload.get("machine") or machine_info()
    header = [
        f"# {name}",
        "",
        f"Command: `python -m benchmarks.{name}`",
        "",
        "Machine: " + ", ".join(f"{k} {v}" for k, v in machine.items()),
        "",
    ]
    (RESULTS / f"{name}.md").write_text("\n".join(header + markdown_lines) + "\n")


def run_child(command: list[str]) -> dict[str, Any]:
    """Run ``command`` to completion; its wall time and the children's peak RSS so far.

    ``ru_maxrss`` of ``RUSAGE_CHILDREN`` is the largest child of this process so far, so
    runs should go in increasing size; ``peak_is_this_run`` says whether this one set it.
    """
    import resource
    import subprocess
    import time

    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    wall = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"wall_s": wall, "peak_rss_mb": peak_kb / 1024, "peak_is_this_run": peak_kb > before}


def run_sizes(run_once: Callable[[int, Path], dict[str, Any]], sizes: list[int]) -> list[dict]:
    """``run_once(size, workdir)`` for each size in increasing order, in one temporary folder.

    Sizes run smallest first, so a peak RSS that is "the largest child so far" belongs to
    the size being measured.  Each row is printed as it comes.
    """
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in sorted(sizes):
            rows.append(run_once(size, Path(tmp)))
            print(rows[-1], flush=True)
    return rows
