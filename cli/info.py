"""``srsci info``: describe an image file without loading it."""

from __future__ import annotations

import argparse
import json

from srgan_sci.workflows import InfoConfig, describe_image, format_summary, sample_path


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``srsci info``."""
    parser = subparsers.add_parser(
        "info",
        help="describe an image: format, shape, axes, units, pixel scale/WCS, NaN fraction",
        description="Describe a FITS, TIFF or Zarr image without loading it into memory.",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "path", nargs="?", help="image path; FITS may end in [HDU], e.g. f.fits[SCI]"
    )
    source.add_argument(
        "--sample", action="store_true", help="describe the bundled Hubble Deep Field sample"
    )
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print the summary of one image."""
    path = str(sample_path("hdf")) if args.sample else args.path
    summary = describe_image(InfoConfig(path=path))
    print(json.dumps(summary, indent=2) if args.json else format_summary(summary))
    return 0
