"""A short CPU training run on a real image's degraded pairs, against bicubic.

Simulates x2 pairs from scikit-image's ``moon`` (confocal preset), trains with
``benchmarks/configs/train_quick.toml`` and reports the held-out validation PSNR/SSIM of
the EMA generator next to bicubic upsampling of the same LR crops, plus steps/s.

Run: ``python -m benchmarks.train_quick [--steps N]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import tifffile
from skimage import data as skdata

from benchmarks._machine import machine_info, write_results
from srgan_sci.simulate import SimulateConfig, simulate_pairs
from srgan_sci.training.config import TrainConfig, load_toml
from srgan_sci.training.loop import train

CONFIG = Path(__file__).parent / "configs" / "train_quick.toml"


def main() -> None:
    """Simulate, train, and write the validation figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, help="override pretrain_steps")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        moon = Path(tmp) / "moon.tif"
        tifffile.imwrite(moon, skdata.moon())
        pairs = Path(tmp) / "pairs.zarr"
        simulate_pairs(
            SimulateConfig(
                out=str(pairs), inputs=[str(moon)], preset="confocal", scale=2,
                val_fraction=0.25, progress=False,
            )
        )  # fmt: skip
        options = load_toml(CONFIG) | {"data": str(pairs), "out": str(Path(tmp) / "run")}
        if args.steps:
            options["pretrain_steps"] = args.steps
        config = TrainConfig.from_dict(options)
        start = time.perf_counter()
        result = train(config)
        seconds = time.perf_counter() - start
    validation = result.last_validation or {}
    row = {"steps": config.total_steps, "seconds": seconds,
           "steps_per_s": config.total_steps / seconds} | validation  # fmt: skip
    lines = [
        "Held-out crops of `moon` (bottom 25 % of rows), confocal preset x2, normalised units.",
        "",
        "| steps | wall (s) | steps/s | model PSNR | bicubic PSNR | model SSIM | bicubic SSIM |",
        "|---|---|---|---|---|---|---|",
        f"| {row['steps']} | {seconds:.0f} | {row['steps_per_s']:.2f} | "
        f"{validation.get('val_psnr', float('nan')):.2f} | "
        f"{validation.get('val_bicubic_psnr', float('nan')):.2f} | "
        f"{validation.get('val_ssim', float('nan')):.4f} | "
        f"{validation.get('val_bicubic_ssim', float('nan')):.4f} |",
    ]
    write_results("train_quick", {"machine": machine_info(), "result": row}, lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
