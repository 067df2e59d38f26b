"""``srsci demo``: simulate, upscale with the bundled models, evaluate; offline, minutes."""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``srsci demo``."""
    parser = subparsers.add_parser(
        "demo",
        help="run the whole pipeline on synthetic data and write evaluation reports",
        description="Synthesise a survey-like galaxy field and a fluorescence nuclei field, "
        "degrade them, upscale them with the bundled default models through the Dask "
        "pipeline, evaluate against the truth and classical baselines, and write reports.",
    )
    parser.add_argument("--out", default="srsci-demo", help="folder to create (srsci-demo)")
    parser.add_argument(
        "--kind",
        choices=("astro", "fluo", "both"),
        default="both",
        help="which demo to run (both)",
    )
    parser.add_argument("--size", type=int, default=1024, help="truth side in HR pixels (1024)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run the demo and print a summary and where the reports are."""
    from srgan_sci.demo import DemoConfig, run_demo

    kinds = ("astro", "fluo") if args.kind == "both" else (args.kind,)
    config = DemoConfig(
        out=args.out,
        kinds=kinds,
        size=args.size,
        overwrite=args.overwrite,
        progress=not args.no_progress,
    )
    results = run_demo(config)
    for kind, result in results.items():
        metrics = result["metrics"]
        model = result["model"]
        line = ", ".join(
            f"{name} {row['psnr']:.2f} dB / SSIM {row['ssim']:.3f}" for name, row in metrics.items()
        )
        print(f"{kind} ({model}, {result['seconds']:.0f} s): {line}")
    for result in results.values():
        print(f"report: {result['report']}")
    print(f"all outputs in {args.out}/ (open {args.out}/index.html)")
    return 0
