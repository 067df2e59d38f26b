"""``srsci evaluate``: metrics, baselines and a report for a super-resolved image."""

from __future__ import annotations

import argparse

from srgan_sci.degrade.spec import PRESETS

BASELINE_CHOICES = ("bicubic", "lanczos", "richardson-lucy")


def _baselines(text: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    if text.strip().lower() == "none":
        return ()
    unknown = sorted(set(names) - set(BASELINE_CHOICES))
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown baselines {', '.join(unknown)}; choose from {', '.join(BASELINE_CHOICES)}"
        )
    return names


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``srsci evaluate``."""
    parser = subparsers.add_parser(
        "evaluate",
        help="compare a super-resolved image with the truth and baselines; write a report",
        description="Compute PSNR, SSIM, NRMSE, MAE (whole image, chunk by chunk), CARE-"
        "normalised metrics, Fourier ring correlation and data consistency for a prediction "
        "and for baselines computed from the LR input; write report.json, report.md, "
        "report.html and PNG figures.",
    )
    parser.add_argument("--pred", required=True, help="super-resolved image (FITS/TIFF/Zarr)")
    parser.add_argument(
        "--truth",
        help="high-resolution ground truth; without it (a real observation) --astro --lr run "
        "the truth-free checks: consistency, stars, sky noise, hallucination, seams",
    )
    parser.add_argument("--lr", help="the low-resolution input (enables baselines, consistency)")
    parser.add_argument("--out", required=True, help="report folder to create")
    parser.add_argument(
        "--baselines",
        type=_baselines,
        default=BASELINE_CHOICES,
        help="comma-separated baselines from the LR, or 'none' (bicubic,lanczos,richardson-lucy)",
    )
    parser.add_argument(
        "--model",
        help="model name or bundle: its degradation (PSF, noise) is assumed, and with --astro "
        "it is run for the hallucination and seam checks",
    )
    parser.add_argument("--preset", choices=sorted(PRESETS), help="degradation preset to assume")
    parser.add_argument("--data-range", type=float, help="PSNR/SSIM data range (truth 0.1-99.9 %%)")
    parser.add_argument("--crop", type=int, default=0, help="HR pixels cropped at each border")
    parser.add_argument(
        "--truth-factor", type=float, help="multiply the truth into the prediction's units (auto)"
    )
    parser.add_argument("--label", default="SR", help="name of the prediction in the report")
    parser.add_argument(
        "--region", type=int, default=1024, help="side of the central analysis region (1024)"
    )
    parser.add_argument(
        "--astro",
        action="store_true",
        help="astronomy validation: consistency, photometry, astrometry, PSF, noise, "
        "hallucination and seams",
    )
    parser.add_argument(
        "--pred-zero-point",
        choices=("lr", "truth"),
        default="lr",
        help="lr: the prediction was upscaled from the raw LR (the degradation's pedestal is "
        "removed before comparing); truth: it is already calibrated (lr)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Evaluate and print the metrics table and where the report went."""
    from srgan_sci.evaluate import EvaluateConfig, evaluate_files

    config = EvaluateConfig(
        pred=args.pred,
        truth=args.truth,
        out=args.out,
        lr=args.lr,
        baselines=args.baselines,
        model=args.model,
        preset=args.preset,
        data_range=args.data_range,
        crop=args.crop,
        truth_factor=args.truth_factor,
        label=args.label,
        region=args.region,
        astro=args.astro,
        pred_zero_point=args.pred_zero_point,
        overwrite=args.overwrite,
        progress=not args.no_progress,
    )
    report = evaluate_files(config)
    print(report.table.to_markdown())
    print(f"wrote {args.out}/report.html (and report.json, report.md, PNG figures)")
    return 0
