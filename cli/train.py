"""``srsci train``: train an SRGAN on simulated pairs or on HR images."""

from __future__ import annotations

import argparse

from srgan_sci.training.config import PHASES, TrainConfig, load_toml


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``srsci train``."""
    parser = subparsers.add_parser(
        "train",
        help="train a super-resolution generator (pixel pretraining, then GAN fine-tuning)",
        description="Train an SRGAN on a pairs dataset from `srsci simulate` or on HR images "
        "degraded on the fly. Options come from --config TOML; flags override it. "
        "Multi-GPU: torchrun --nproc_per_node N -m srgan_sci.cli.main train ...",
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--data", help="pairs dataset (Zarr) made by `srsci simulate`")
    source.add_argument("--hr", nargs="+", help="HR images to degrade on the fly")
    parser.add_argument("--preset", help="degradation preset for --hr")
    parser.add_argument("--scale", type=int, help="scale for --hr (default: the preset's)")
    parser.add_argument("--out", help="run folder (checkpoint, metrics, model bundle)")
    parser.add_argument("--config", help="TOML file with any TrainConfig option")
    parser.add_argument("--phase", choices=PHASES, help="pretrain, gan or both")
    parser.add_argument("--steps", type=int, help="steps of each phase that runs")
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--patch-size", type=int, help="LR patch side")
    parser.add_argument("--arch", choices=("msrresnet", "rrdb"))
    parser.add_argument("--channels", type=int)
    parser.add_argument("--blocks", type=int)
    parser.add_argument(
        "--no-bias",
        action="store_true",
        help="MSRResNet without convolution biases: output scales with input brightness",
    )
    parser.add_argument(
        "--channel-axis", type=int, help="leading axis holding channels (0 for c,y,x images)"
    )
    parser.add_argument("--device", help="auto, cpu or cuda")
    parser.add_argument("--amp", choices=("none", "bf16", "fp16"))
    parser.add_argument("--lr", type=float, help="generator learning rate")
    parser.add_argument("--grad-clip", type=float, help="gradient-norm clip (0 disables)")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--resume", action="store_true", help="continue from the checkpoint")
    parser.add_argument("--stop-at", type=int, help="checkpoint and stop after this step")
    parser.add_argument("--no-progress", action="store_true")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Build the config (TOML, then flags) and train."""
    from srgan_sci.training.loop import train

    options = load_toml(args.config) if args.config else {}
    flags = {
        "data": args.data,
        "hr": tuple(args.hr) if args.hr else None,
        "preset": args.preset,
        "scale": args.scale,
        "out": args.out,
        "phase": args.phase,
        "pretrain_steps": args.steps,
        "gan_steps": args.steps,
        "batch_size": args.batch_size,
        "patch_size": args.patch_size,
        "arch": args.arch,
        "channels": args.channels,
        "blocks": args.blocks,
        "bias": False if args.no_bias else None,
        "device": args.device,
        "channel_axis": args.channel_axis,
        "amp": args.amp,
        "seed": args.seed,
        "lr_generator": args.lr,
        "grad_clip": args.grad_clip,
        "progress": False if args.no_progress else None,
    }
    options |= {k: v for k, v in flags.items() if v is not None}
    if "out" not in options:
        raise ValueError("--out is required (or `out` in the --config file)")
    # a data source given on the command line replaces the other one from the TOML
    if args.data:
        options.pop("hr", None)
    if args.hr:
        options.pop("data", None)
    config = TrainConfig.from_dict(options)
    result = train(config, resume=args.resume, stop_at=args.stop_at)
    if result.bundle is not None:
        validation = result.last_validation or {}
        if validation:
            print(
                f"validation PSNR {validation['val_psnr']:.2f} dB "
                f"(bicubic {validation['val_bicubic_psnr']:.2f} dB), "
                f"SSIM {validation['val_ssim']:.4f} (bicubic {validation['val_bicubic_ssim']:.4f})"
            )
        print(f"wrote {result.bundle}")
    else:
        print(f"stopped at step {result.step}; continue with --resume")
    return 0
