"""Upscaling performance: pipeline overhead, peak memory, and LocalCluster scaling.

1. **Pipeline throughput**: Zarr -> Zarr :func:`srgan_sci.upscale.upscale_file` (threads
   scheduler, chunk 512, no progress) with an ``MSRResNet(channels=16, blocks=4, scale=2)``
   bundle, against the bare generator forward on the same tiles (``512 + 2 * halo`` pixels
   a side, ``torch.no_grad``, float32), in the same process with the same
   ``torch.set_num_threads``.  The ratio pipeline / bare is the share of the model's speed
   that reading, normalising, halo exchange, cropping and writing leave (goal >= 0.90).
2. **Peak RSS** of ``srsci upscale in.zarr out.ome.zarr --model bicubic --scale 4`` in a
   child process as N grows (goal <= 1 GB and flat); a size whose x4 float32 output would not
   fit on the temporary disk is skipped.
3. **LocalCluster scaling**: the same bundle upscale with ``--scheduler local:1`` and
   ``local:2`` in child processes; wall time of each and the speed-up.

Run: ``python -m benchmarks.upscale_perf [--size 2048] [--rss-sizes 2048 4096 8192]``.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._machine import machine_info, write_results

CHUNK = 512


def write_scene(path: Path, size: int) -> Path:
    """Write the ``galaxies`` synthetic scene of ``size`` x ``size`` as a float32 Zarr."""
    from srgan_sci.degrade.scenes import synthetic_scene
    from srgan_sci.io import ImageMetadata, write_array

    scene = synthetic_scene("galaxies", (size, size), seed=0)
    return write_array(path, scene, ImageMetadata("synthetic-galaxies", "zarr", "yx", "float32"))


def write_bundle(path: Path) -> Path:
    """Save a seeded ``MSRResNet(channels=16, blocks=4, scale=2)`` as a model bundle."""
    import torch

    from srgan_sci.models.bundle import BundleMetadata, save_bundle
    from srgan_sci.models.generator import MSRResNet

    torch.manual_seed(0)
    generator = MSRResNet(channels=16, blocks=4, scale=2)
    metadata = BundleMetadata(
        arch="msrresnet", arch_config=generator.config(), scale=2, in_channels=1,
        out_channels=1, normalizer=None, degradation=None, training={}, name="bench",
    )  # fmt: skip
    return save_bundle(path, generator, metadata)


def run_child(command: list[str]) -> dict[str, float]:
    """Run ``command``; wall time and peak RSS of that child (and its waited-for children)."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    stdout, stderr = process.communicate()
    wall = time.perf_counter() - start
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{stderr.decode()[-2000:]}")
    return {"wall_s": wall, "stdout": stdout.decode().strip()}


# Linux keeps a process's peak RSS across exec (and a vfork/fork child starts from its
# parent's), so a child of this torch-laden process would report this process's peak.  A
# tiny launcher, started first, spawns the measured command and reports its ru_maxrss.
LAUNCHER = """
import os, subprocess, sys, time
start = time.perf_counter()
process = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
_, status, usage = os.wait4(process.pid, 0)
code = os.waitstatus_to_exitcode(status)
if code:
    sys.stderr.write(process.stderr.read().decode()[-2000:])
    sys.exit(code)
print(time.perf_counter() - start, usage.ru_maxrss)
"""


def run_child_rss(command: list[str]) -> dict[str, float]:
    """Run ``command`` under :data:`LAUNCHER`; wall time and ``ru_maxrss`` of that command."""
    done = subprocess.run(
        [sys.executable, "-S", "-c", LAUNCHER, *command], capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr}")
    wall, peak_kb = done.stdout.split()
    return {"wall_s": float(wall), "peak_rss_mb": int(peak_kb) / 1024}


def srsci(*args: str) -> list[str]:
    """The ``srsci`` command line run with this interpreter."""
    return [sys.executable, "-m", "srgan_sci.cli.main", *args]


# --------------------------------------------------------------------------- 1. throughput


def bare_forward(generator: Any, size: int) -> dict[str, Any]:
    """Time the generator alone on the tiles the pipeline runs (same count and side)."""
    import numpy as np
    import torch

    halo = int(generator.receptive_field_radius)
    tiles = math.ceil(size / CHUNK) ** 2
    side = CHUNK + 2 * halo
    x = torch.from_numpy(np.random.default_rng(0).random((1, 1, side, side), dtype=np.float32))
    with torch.no_grad():
        start = time.perf_counter()
        for _ in range(tiles):
            generator(x)
        seconds = time.perf_counter() - start
    return {"halo": halo, "tiles": tiles, "tile_side": side, "seconds": seconds}


def pipeline(source: Path, bundle: Path, out: Path) -> float:
    """Seconds of one ``upscale_file`` Zarr -> Zarr with the threads scheduler."""
    from srgan_sci.upscale import UpscaleConfig, upscale_file

    config = UpscaleConfig(
        input=str(source), output=str(out), model=str(bundle), chunk=CHUNK,
        scheduler="threads", device="cpu", progress=False,
    )  # fmt: skip
    start = time.perf_counter()
    upscale_file(config)
    seconds = time.perf_counter() - start
    shutil.rmtree(out)
    return seconds


def throughput(source: Path, bundle: Path, size: int, workdir: Path, repeats: int) -> dict:
    """Pixels/s of the pipeline and of the bare forward (repeats interleaved, best of each)."""
    import torch

    from srgan_sci.models.bundle import load_bundle

    generator, _ = load_bundle(bundle)
    generator.eval()
    with torch.no_grad():
        generator(torch.zeros(1, 1, 64, 64))  # warm-up
    bare_times, pipe_times = [], []
    for i in range(repeats):
        bare = bare_forward(generator, size)
        bare_times.append(bare.pop("seconds"))
        pipe_times.append(pipeline(source, bundle, workdir / f"pipeline-{i}.ome.zarr"))
        print(
            f"repeat {i}: bare {bare_times[-1]:.2f} s, pipeline {pipe_times[-1]:.2f} s", flush=True
        )
    pixels = size * size
    result = {
        "input_pixels": pixels,
        "bare": bare | {"seconds": min(bare_times), "all": bare_times},
        "pipeline": {"seconds": min(pipe_times), "all": pipe_times},
        "bare_pixels_per_s": pixels / min(bare_times),
        "pipeline_pixels_per_s": pixels / min(pipe_times),
    }
    result["ratio"] = result["pipeline_pixels_per_s"] / result["bare_pixels_per_s"]
    return result


# --------------------------------------------------------------------------- 2. peak RSS


def peak_rss(sizes: list[int], workdir: Path) -> list[dict[str, Any]]:
    """Peak RSS of a bicubic x4 upscale of each N x N scene; skip what the disk cannot hold."""
    rows = []
    for size in sorted(sizes):
        need = (4 * size) ** 2 * 4 + size * size * 4  # uncompressed output + input, bytes
        free = shutil.disk_usage(workdir).free
        row: dict[str, Any] = {"size": size, "output_float32_mb": (4 * size) ** 2 * 4 / 2**20}
        if need * 1.2 > free:
            row["skipped"] = f"needs ~{need / 2**30:.1f} GiB, {free / 2**30:.1f} GiB free"
            rows.append(row)
            print(row, flush=True)
            continue
        source = write_scene(workdir / f"rss-{size}.zarr", size)
        out = workdir / f"rss-{size}.ome.zarr"
        command = srsci(
            "upscale", str(source), str(out), "--model", "bicubic", "--scale", "4", "--no-progress"
        )
        row |= run_child_rss(command)
        shutil.rmtree(out)
        shutil.rmtree(source)
        rows.append(row)
        print(row, flush=True)
    return rows


# --------------------------------------------------------------------------- 3. LocalCluster


def local_cluster(source: Path, bundle: Path, workdir: Path) -> dict[str, Any]:
    """Wall time of the bundle upscale with ``local:1`` and ``local:2`` (child processes)."""
    result: dict[str, Any] = {}
    for workers in (1, 2):
        out = workdir / f"local-{workers}.ome.zarr"
        command = srsci(
            "upscale", str(source), str(out), "--model", str(bundle), "--device", "cpu",
            "--scheduler", f"local:{workers}", "--no-progress",
        )  # fmt: skip
        result[f"local:{workers}"] = run_child(command)["wall_s"]
        shutil.rmtree(out)
        print(workers, result[f"local:{workers}"], flush=True)
    result["speedup"] = result["local:1"] / result["local:2"]
    return result


# --------------------------------------------------------------------------- report


def markdown(payload: dict[str, Any]) -> list[str]:
    """Tables of the three measurements."""
    t, size = payload["throughput"], payload["size"]
    bare = t["bare"]
    lines = [
        f"Sizes kept modest (2-core machine shared with other work). torch threads: "
        f"{payload['torch_threads']}. Model: MSRResNet(channels=16, blocks=4, scale=2) bundle.",
        "",
        f"## 1. Pipeline vs bare forward ({size}² float32 Zarr -> Zarr, threads, chunk {CHUNK})",
        "",
        f"Bare: {bare['tiles']} forwards of a {bare['tile_side']}² tile (halo {bare['halo']}), "
        f"pipeline: `upscale_file`; {len(bare['all'])} interleaved repeats, best of each "
        f"(bare all: {', '.join(f'{v:.1f}' for v in bare['all'])} s; pipeline all: "
        f"{', '.join(f'{v:.1f}' for v in t['pipeline']['all'])} s).",
        "",
        "| run | seconds | input Mpixel/s |",
        "|---|---|---|",
        f"| bare generator forward | {bare['seconds']:.2f} | {t['bare_pixels_per_s'] / 1e6:.3f} |",
        f"| upscale_file pipeline | {t['pipeline']['seconds']:.2f} | "
        f"{t['pipeline_pixels_per_s'] / 1e6:.3f} |",
        "",
        f"Ratio pipeline / bare: **{t['ratio']:.2f}** (goal >= 0.90).",
        "",
        "## 2. Peak RSS, bicubic x4 (`srsci upscale in.zarr out.ome.zarr --model bicubic "
        "--scale 4 --no-progress`, one child process per size)",
        "",
        "| input | output float32 (MB) | wall (s) | peak RSS (MB) |",
        "|---|---|---|---|",
    ]
    for r in payload["peak_rss"]:
        if "skipped" in r:
            lines.append(f"| {r['size']}² | {r['output_float32_mb']:.0f} | skipped | "
                         f"{r['skipped']} |")  # fmt: skip
        else:
            lines.append(f"| {r['size']}² | {r['output_float32_mb']:.0f} | {r['wall_s']:.1f} | "
                         f"{r['peak_rss_mb']:.0f} |")  # fmt: skip
    lines.append("")
    lines.append("Goal: <= 1024 MB and flat as N grows.")
    c = payload["local_cluster"]
    lines += [
        "",
        f"## 3. LocalCluster scaling ({size}² bundle upscale, `--scheduler local:N`, "
        "1 thread per worker, child processes, wall time includes start-up)",
        "",
        "| scheduler | wall (s) |",
        "|---|---|",
        f"| local:1 | {c['local:1']:.1f} |",
        f"| local:2 | {c['local:2']:.1f} |",
        "",
        f"Speed-up local:1 / local:2: **{c['speedup']:.2f}**.",
    ]
    return lines


def main() -> None:
    """Run the three measurements and write JSON + Markdown results."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=2048, help="input side for 1 and 3")
    parser.add_argument("--rss-sizes", type=int, nargs="+", default=[2048, 4096, 8192])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    payload: dict[str, Any] = {"machine": machine_info(), "size": args.size}
    payload["torch_threads"] = torch.get_num_threads()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        source = write_scene(workdir / f"scene-{args.size}.zarr", args.size)
        bundle = write_bundle(workdir / "bundle")
        payload["throughput"] = throughput(source, bundle, args.size, workdir, args.repeats)
        print(payload["throughput"], flush=True)
        payload["local_cluster"] = local_cluster(source, bundle, workdir)
        payload["peak_rss"] = peak_rss(args.rss_sizes, workdir)
    lines = markdown(payload)
    write_results("upscale_perf", payload, lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
