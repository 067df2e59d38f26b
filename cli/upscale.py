"""``srsci upscale``: super-resolve an image file, tile by tile, out of core."""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``srsci upscale``."""
    parser = subparsers.add_parser(
        "upscale",
        help="upscale a FITS/TIFF/Zarr image with a model bundle or a baseline",
        description="Seam-free tiled upscaling over dask chunks; output Zarr/OME-Zarr (or FITS/"
        "TIFF for results that fit in memory) with WCS and pixel sizes updated.",
    )
    parser.add_argument("input", help="image to upscale (FITS may end in [HDU])")
    parser.add_argument("output", help="output path (.ome.zarr, .zarr, .fits, .tif)")
    parser.add_argument(
        "--model", default="bicubic", help="bicubic, lanczos or a model bundle folder (bicubic)"
    )
    parser.add_argument("--scale", type=int, help="factor (required for baselines)")
    parser.add_argument("--chunk", type=int, default=512, help="input tile side (512)")
    parser.add_argument("--normalizer", choices=("auto", "percentile", "asinh"), default="auto")
    parser.add_argument(
        "--scheduler",
        default="threads",
        help="threads (default), synchronous, processes, local:N, tcp://host:port or slurm",
    )
    parser.add_argument("--slurm-config", help="TOML with a [slurm] table for --scheduler slurm")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")
    parser.add_argument("--resume", action="store_true", help="continue a killed run (Zarr output)")
    parser.add_argument("--no-progress", action="store_true")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Upscale one file and print what was written."""
    from srgan_sci.upscale import UpscaleConfig, upscale_file

    summary = upscale_file(
        UpscaleConfig(
            input=args.input,
            output=args.output,
            model=args.model,
            scale=args.scale,
            chunk=args.chunk,
            normalizer=args.normalizer,
            scheduler=args.scheduler,
            slurm_config=args.slurm_config,
            device=args.device,
            overwrite=args.overwrite,
            resume=args.resume,
            progress=not args.no_progress,
        )
    )
    shape_in, shape_out = tuple(summary["input_shape"]), tuple(summary["output_shape"])
    print(f"{summary['input']} {shape_in} -> {summary['output']} {shape_out} ({summary['model']})")
    return 0
