"""Out-of-core evaluation: peak memory of ``srsci evaluate`` as the image grows.

For each size N a galaxy field is simulated (``srsci simulate``, ground-seeing, x4), the
LR is upscaled with Lanczos as the "prediction" (``srsci upscale``), and
``srsci evaluate --pred sr.zarr --truth pairs.zarr/hr/0 --lr pairs.zarr/lr/0`` runs in a
fresh process with the three baselines (bicubic, Lanczos, Richardson–Lucy) computed from
the LR over the whole image.  Flat peak RSS as N grows means the metrics are accumulated
chunk by chunk instead of loading the images.

Run: ``python -m benchmarks.evaluate_memory [--sizes 2048 4096 8192]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from benchmarks._machine import machine_info, run_child, run_sizes, write_results


def _srsci(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "srgan_sci.cli.main", *args], check=True,
                   capture_output=True)  # fmt: skip


def run_once(size: int, workdir: Path) -> dict[str, float]:
    """Simulate, upscale and evaluate one ``size``² field; wall time and peak RSS of evaluate."""
    pairs, sr, report = workdir / f"p{size}.zarr", workdir / f"sr{size}.zarr", workdir / f"r{size}"
    _srsci("simulate", "--scene", "galaxies", "--size", str(size), "--preset", "ground-seeing",
           "--val-fraction", "0", "--out", str(pairs), "--no-progress")  # fmt: skip
    _srsci("upscale", str(pairs / "lr" / "0"), str(sr), "--model", "lanczos", "--scale", "4",
           "--no-progress")  # fmt: skip
    child = run_child([sys.executable, "-m", "srgan_sci.cli.main", "evaluate", "--pred", str(sr),
                       "--truth", str(pairs / "hr" / "0"), "--lr", str(pairs / "lr" / "0"),
                       "--out", str(report), "--no-progress"])  # fmt: skip
    psnr = json.loads((report / "report.json").read_text())["metrics"]["SR"]["psnr"]
    return {
        "size": size,
        "hr_float32_mb": size * size * 4 / 2**20,
        "evaluate_wall_s": child["wall_s"],
        "evaluate_peak_rss_mb": child["peak_rss_mb"],
        "peak_rss_is_max_so_far": child["peak_is_this_run"],
        "sr_psnr_db": psnr,
    }


def main() -> None:
    """Measure each size and write JSON + Markdown results."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[2048, 4096, 8192])
    args = parser.parse_args()
    rows = run_sizes(run_once, args.sizes)
    lines = [
        "Peak RSS of `srsci evaluate` (largest child so far; sizes in increasing order), with",
        "bicubic, Lanczos and Richardson–Lucy baselines computed over the whole image.",
        "",
        "| HR size | one HR float32 image (MB) | evaluate wall (s) | peak RSS (MB) |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {r['size']}² | {r['hr_float32_mb']:.0f} | {r['evaluate_wall_s']:.1f} | "
        f"{r['evaluate_peak_rss_mb']:.0f} |"
        for r in rows
    ]
    write_results("evaluate_memory", {"machine": machine_info(), "rows": rows}, lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
