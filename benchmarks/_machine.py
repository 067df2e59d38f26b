"""Machine description and result writing shared by the benchmark scripts."""

from __future__ import annotations

import json
import os
import platform
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
