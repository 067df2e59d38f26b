"""``srsci upscale``: super-resolve an image file, tile by tile, out of core."""

from __future__ import annotations

import argparse
import sys
import warnings
from typing import Any


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``srsci upscale``."""
    parser = subparsers.add_parser(
        "upscale",
        help="upscale a FITS/TIFF/Zarr image with a model bundle or a baseline",
        description="Seam-free tiled upscaling over dask chunks; output Zarr/OME-Zarr (or FITS/"
        "TIFF for results that fit in memory) with WCS and pixel sizes updated.",
    )
    parser.add_argument("input", nargs="?", help="image to upscale (FITS may end in [HDU])")
    parser.add_argument("output", nargs="?", help="output path (.ome.zarr, .zarr, .fits, .tif)")
    parser.add_argument(
        "--batch",
        nargs="+",
        metavar="GLOB",
        help="many inputs (globs or @list.txt) into --out-dir, with a resumable manifest",
    )
    parser.add_argument("--out-dir", help="output folder of --batch")
    parser.add_argument(
        "--tta",
        action="store_true",
        help="average 8 flips/rotations; add their spread as an uncertainty channel",
    )
    parser.add_argument(
        "--model",
        help="model name (`srsci models`), bundle folder, bicubic or lanczos "
        "(default: astro-x4 for FITS, fluo-x4 or fluo-x2 for TIFF/Zarr)",
    )
    parser.add_argument("--scale", type=int, help="factor (required for baselines)")
    parser.add_argument("--chunk", type=int, default=512, help="input tile side (512)")
    parser.add_argument(
        "--normalizer",
        choices=("auto", "percentile", "asinh"),
        default="auto",
        help="auto: as the model was trained (baselines: asinh for FITS, else percentile)",
    )
    parser.add_argument(
        "--scheduler",
        default="threads",
        help="threads (default), synchronous, processes, local:N, tcp://host:port or slurm",
    )
    parser.add_argument("--slurm-config", help="TOML with a [slurm] table for --scheduler slurm")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument(
        "--precision",
        choices=("float32", "bf16", "fp16"),
        default="float32",
        help="inference precision (fp16 needs CUDA)",
    )
    parser.add_argument(
        "--band-mb",
        type=float,
        default=32.0,
        help="output MB computed per band of chunk rows (32); the unit of --resume",
    )
    parser.add_argument(
        "--units",
        choices=("auto", "per-pixel", "surface-brightness"),
        default="auto",
        help="FITS values: per-pixel divides by scale**2 (flux conserved), surface-brightness "
        "keeps them; auto reads BUNIT (unknown: kept, with a warning)",
    )
    parser.add_argument(
        "--drop-lookup-distortion",
        action="store_true",
        help="remove FITS lookup-table distortions (CPDIS/D2IM), which cannot be rescaled, "
        "instead of refusing the file; astrometry keeps the linear WCS and SIP",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")
    parser.add_argument("--resume", action="store_true", help="continue a killed run (Zarr output)")
    parser.add_argument("--no-progress", action="store_true")
    parser.set_defaults(run=run)


def _config(args: argparse.Namespace, input_path: str, output_path: str) -> Any:
    """The UpscaleConfig the flags describe, for one input and output."""
    from srgan_sci.upscale import UpscaleConfig

    return UpscaleConfig(
        input=input_path,
        output=output_path,
        model=args.model,
        scale=args.scale,
        chunk=args.chunk,
        normalizer=args.normalizer,
        scheduler=args.scheduler,
        slurm_config=args.slurm_config,
        device=args.device,
        overwrite=args.overwrite,
        resume=args.resume,
        tta=args.tta,
        precision=args.precision,
        band_bytes=max(1, int(args.band_mb * 2**20)),
        progress=not args.no_progress,
        units=args.units,
        drop_lookup_distortion=args.drop_lookup_distortion,
    )


def run(args: argparse.Namespace) -> int:
    """Upscale one file (or a batch) and print what was written."""
    from srgan_sci.upscale import upscale_file

    if args.batch:
        return _run_batch(args)
    if not (args.input and args.output):
        raise ValueError("give INPUT and OUTPUT, or --batch GLOB... --out-dir DIR")
    from srgan_sci.io.fits_output import FitsOutputWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FitsOutputWarning)  # printed once below, on one line
        summary = upscale_file(_config(args, args.input, args.output))
    for message in summary.get("warnings", []):
        print(f"srsci: warning: {message}", file=sys.stderr)
    if "model_choice" in summary:
        print(summary["model_choice"], file=sys.stderr)
    shape_in, shape_out = tuple(summary["input_shape"]), tuple(summary["output_shape"])
    print(f"{summary['input']} {shape_in} -> {summary['output']} {shape_out} ({summary['model']})")
    if "effective_psf" in summary:
        print(_psf_line(summary["effective_psf"]))
    return 0


def _psf_line(psf: dict) -> str:
    """What the SRPSF* header cards say, in words."""
    if not psf["n_stars"]:
        return "effective PSF: no isolated stars found (header SRPSFN = 0)"
    return (
        f"effective PSF of the output: FWHM {psf['fwhm']:.2f} px, ellipticity "
        f"{psf['ellipticity']:.3f}, from {psf['n_stars']} stars (header SRPSFFW, SRPSFEL)"
    )


def _run_batch(args: argparse.Namespace) -> int:
    """Upscale every matched file; exit 1 if any failed (see the manifest)."""
    from srgan_sci.batch import MANIFEST_NAME, expand_inputs, upscale_batch

    if not args.out_dir or args.input or args.output:
        raise ValueError("--batch takes --out-dir DIR and no positional INPUT/OUTPUT")
    from srgan_sci.io.fits_output import FitsOutputWarning

    template = _config(args, "", "")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FitsOutputWarning)  # printed once below, per file
        manifest = upscale_batch(expand_inputs(args.batch), args.out_dir, template)
    for source, entry in manifest.items():
        for message in entry.get("warnings", []):
            print(f"srsci: warning: {source}: {message}", file=sys.stderr)
    failed = [source for source, entry in manifest.items() if entry["status"] == "failed"]
    print(
        f"{len(manifest) - len(failed)} done, {len(failed)} failed; "
        f"see {args.out_dir}/{MANIFEST_NAME}"
    )
    return 1 if failed else 0
