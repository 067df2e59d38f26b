"""``srsci simulate``: make high/low-resolution training pairs."""

from __future__ import annotations

import argparse

from srgan_sci.degrade.scenes import SCENE_KINDS
from srgan_sci.degrade.spec import PRESETS
from srgan_sci.simulate import SimulateConfig, simulate_pairs


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``srsci simulate``."""
    parser = subparsers.add_parser(
        "simulate",
        help="degrade HR images (or a synthetic scene) into a paired HR/LR Zarr dataset",
        description="Simulate a realistic instrument (PSF, binning, photon budget, sky, "
        "Poisson and read noise) on high-resolution images and write HR/LR pairs to Zarr.",
    )
    parser.add_argument("inputs", nargs="*", metavar="HR_INPUT", help="FITS/TIFF/Zarr HR images")
    parser.add_argument("--out", required=True, help="output Zarr dataset, e.g. pairs.zarr")
    parser.add_argument("--scene", choices=SCENE_KINDS, help="synthesise a scene instead of inputs")
    parser.add_argument("--size", type=int, default=1024, help="scene side in HR pixels (1024)")
    parser.add_argument(
        "--preset", choices=sorted(PRESETS), default="ground-seeing", help="instrument preset"
    )
    parser.add_argument("--scale", type=int, help="resolution factor (preset: 4)")
    parser.add_argument("--psf", help="PSF override, e.g. moffat:fwhm=3,beta=3.5 or file:psf.fits")
    parser.add_argument("--photons", type=float, help="mean signal in e- per LR pixel")
    parser.add_argument("--read-noise", type=float, help="read noise in e- RMS")
    parser.add_argument(
        "--hr-psf",
        help="PSF the HR input already has (real data), e.g. gaussian:fwhm=2; blur by the "
        "kernel matching it to the target PSF",
    )
    parser.add_argument(
        "--hr-noise",
        metavar="SIGMA|auto",
        help="white noise the HR input already has, sigma per HR pixel in input units, or "
        "'auto' to estimate it; the read noise added is reduced accordingly",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of scene and noise (0)")
    parser.add_argument(
        "--val-fraction", type=float, default=0.1, help="LR rows held out per image (0.1)"
    )
    parser.add_argument(
        "--crop", action="store_true", help="trim images not divisible by the scale"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Simulate and print where the pairs went."""
    config = SimulateConfig(
        out=args.out,
        inputs=list(args.inputs),
        scene=args.scene,
        size=args.size,
        preset=args.preset,
        scale=args.scale,
        psf=args.psf,
        photons=args.photons,
        read_noise=args.read_noise,
        hr_psf=args.hr_psf,
        hr_noise=args.hr_noise,
        seed=args.seed,
        val_fraction=args.val_fraction,
        crop=args.crop,
        overwrite=args.overwrite,
        progress=not args.no_progress,
    )
    summary = simulate_pairs(config)
    spec = summary["spec"]
    for image in summary["images"]:
        print(f"{image['source']}: HR {tuple(image['hr_shape'])} -> LR {tuple(image['lr_shape'])}")
        noise = image["noise"]
        if noise["inherited_variance_adu2"] > 0:
            print(
                f"  HR noise sigma {noise['hr_sigma']:.4g} ({noise['hr_sigma_from']}) brings "
                f"{noise['inherited_variance_adu2']:.4g} ADU^2 per LR pixel; read-noise "
                f"variance added {noise['added_read_variance_adu2']:.4g} "
                f"of {noise['target_read_variance_adu2']:.4g}"
            )
    if "psf_matching" in summary:
        matching = summary["psf_matching"]
        fwhm = matching["kernel_fwhm"]
        print(
            f"PSF matching {matching['hr_psf']} -> {matching['target_psf']}: kernel FWHM "
            + (f"{fwhm:.3g} HR px" if fwhm is not None else "n/a")
        )
    print(f"wrote {args.out} (preset {spec['name']}, x{spec['scale']}, seed {summary['seed']})")
    return 0
