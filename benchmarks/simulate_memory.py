"""Out-of-core degradation: peak memory of ``srsci simulate`` as the image grows.

Each size runs ``srsci simulate --scene galaxies --size N --preset ground-seeing`` in a
fresh process and records wall time and peak RSS (``ru_maxrss`` of the child).  Flat
memory as N grows means the chain streams tiles instead of loading the image.

Run: ``python -m benchmarks.simulate_memory [--sizes 4096 8192 20480]``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from benchmarks._machine import machine_info, run_child, run_sizes, write_results


def run_once(size: int, workdir: Path) -> dict[str, float]:
    """Simulate one ``size`` x ``size`` scene in a child process; time and peak RSS."""
    out = workdir / f"pairs-{size}.zarr"
    command = [
        sys.executable, "-m", "srgan_sci.cli.main", "simulate", "--scene", "galaxies",
        "--size", str(size), "--preset", "ground-seeing", "--out", str(out), "--no-progress",
    ]  # fmt: skip
    child = run_child(command)
    return {
        "size": size,
        "hr_megapixels": size * size / 1e6,
        "hr_float32_mb": size * size * 4 / 2**20,
        "wall_s": child["wall_s"],
        "peak_rss_mb": child["peak_rss_mb"],
        "peak_rss_is_max_so_far": child["peak_is_this_run"],
    }


def main() -> None:
    """Measure each size and write JSON + Markdown results."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[4096, 8192, 20480])
    args = parser.parse_args()
    rows = run_sizes(run_once, args.sizes)
    lines = [
        "Peak RSS is the largest child so far (sizes run in increasing order).",
        "",
        "| HR size | HR float32 (MB) | wall (s) | peak RSS (MB) |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {r['size']}² | {r['hr_float32_mb']:.0f} | {r['wall_s']:.1f} | {r['peak_rss_mb']:.0f} |"
        for r in rows
    ]
    write_results("simulate_memory", {"machine": machine_info(), "rows": rows}, lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
