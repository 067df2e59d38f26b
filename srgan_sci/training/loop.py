"""The training loop, top to bottom: data, models, optimisers, steps, validation, checkpoints.

Every batch is a pure function of ``(seed, step, rank)`` (see
:class:`srgan_sci.patches.PatchSampler`) and every random draw inside a step is seeded
from ``(seed, step)``, so resuming from a checkpoint at step N reproduces the run that was
never interrupted, weight for weight on CPU.
"""

from __future__ import annotations

import json
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from srgan_sci.degrade.spec import DegradationSpec, preset
from srgan_sci.errors import OutputExistsError, SrsciError
from srgan_sci.losses import (
    PerceptualLoss,
    discriminator_loss,
    fft_loss,
    generator_adversarial_loss,
    gradient_penalty,
    pixel_loss,
    ssim_loss,
)
from srgan_sci.metrics.consistency import lr_pedestal
from srgan_sci.models.bundle import BundleMetadata, save_bundle
from srgan_sci.models.discriminator import build_discriminator
from srgan_sci.models.features import build_feature_extractor
from srgan_sci.models.generator import build_generator
from srgan_sci.patches import PatchSampler, open_pair_sources, sources_from_hr_images
from srgan_sci.patches import validation_patches as make_validation_patches
from srgan_sci.training import distributed
from srgan_sci.training.config import TrainConfig, TrainConfigError
from srgan_sci.training.state import (
    CHECKPOINT_NAME,
    learning_rate,
    load_checkpoint,
    make_ema,
    save_checkpoint,
    set_learning_rate,
    update_ema,
)


class TrainingDivergedError(SrsciError, FloatingPointError):
    """A loss became NaN or infinite."""


@dataclass(frozen=True)
class TrainResult:
    """Where a finished run put its outputs and how it ended."""

    run_dir: Path
    bundle: Path | None
    step: int
    last_validation: dict[str, float] | None


def train(config: TrainConfig, *, resume: bool = False, stop_at: int | None = None) -> TrainResult:
    """Train a generator (and discriminator) as ``config`` says.

    Parameters
    ----------
    config : TrainConfig
        All options.
    resume : bool
        Continue from ``<out>/checkpoint.pt``.
    stop_at : int, optional
        Checkpoint and stop after this global step (for time-limited jobs); the bundle is
        only written when the run reaches its last step.
    """
    env = distributed.setup(config.device)
    try:
        return _train(config, env, resume=resume, stop_at=stop_at)
    finally:
        distributed.teardown(env)


def _train(
    config: TrainConfig, env: distributed.Distributed, *, resume: bool, stop_at: int | None
) -> TrainResult:
    run_dir = Path(config.out)
    checkpoint_path = run_dir / CHECKPOINT_NAME
    if env.is_main and not resume and (run_dir / "model").exists():
        raise OutputExistsError(f"{run_dir} already holds a trained model; use another --out")
    run_dir.mkdir(parents=True, exist_ok=True)

    # ---- data --------------------------------------------------------------------------
    train_sources, val_sources, specs = _load_data(config)
    scale = train_sources[0].scale
    sampler = PatchSampler(
        train_sources,
        patch_size=config.patch_size,
        batch_size=config.batch_size,
        seed=config.seed,
        min_signal=config.min_signal,
        rank=env.rank,
        world_size=env.world_size,
    )
    val_lr, val_hr = make_validation_patches(
        val_sources, patch_size=config.patch_size, count=config.val_patches, seed=config.seed
    )
    channels = int(val_lr.shape[1])

    # ---- models and optimisers ---------------------------------------------------------
    torch.manual_seed(config.seed)
    arch_config = {
        "in_channels": channels,
        "out_channels": channels,
        "channels": config.channels,
        "blocks": config.blocks,
        "scale": scale,
    }
    if not config.bias:
        arch_config["bias"] = False
    generator = build_generator(config.arch, arch_config).to(env.device)
    ema = make_ema(generator)
    needs_gan = config.steps_in("gan") > 0
    d_config = {"in_channels": channels, "channels": config.discriminator_channels}
    if config.discriminator == "vgg":
        d_config["norm"] = "none" if config.weights.adversarial_kind == "wgan-gp" else "batch"
    discriminator = build_discriminator(config.discriminator, d_config).to(env.device)
    features = build_feature_extractor(
        config.features, in_channels=channels, weights=config.vgg_weights
    ).to(env.device)
    perceptual = PerceptualLoss(features) if needs_gan else None
    opt_g = torch.optim.Adam(generator.parameters(), lr=config.lr_generator, betas=(0.9, 0.99))
    opt_d = torch.optim.Adam(
        discriminator.parameters(), lr=config.lr_discriminator, betas=(0.9, 0.99)
    )

    step, history = 0, []
    if resume:
        state = load_checkpoint(checkpoint_path)
        generator.load_state_dict(state["generator"])
        ema.load_state_dict(state["ema"])
        discriminator.load_state_dict(state["discriminator"])
        opt_g.load_state_dict(state["opt_g"])
        opt_d.load_state_dict(state["opt_d"])
        torch.set_rng_state(state["torch_rng"])
        step, history = int(state["step"]), list(state["history"])

    # The generator runs once forward and once backward per step: DistributedDataParallel.
    # The discriminator runs several forwards (real, fake, gradient-penalty interpolates)
    # per backward, which DDP does not support; its gradients are averaged explicitly.
    g_model: nn.Module = generator
    d_model: nn.Module = discriminator
    if env.active:
        device_ids = [env.device.index] if env.device.type == "cuda" else None
        g_model = DistributedDataParallel(generator, device_ids=device_ids)
    if config.compile:
        g_model = torch.compile(g_model)

    autocast = _autocast(config.amp, env.device)
    scaler = torch.amp.GradScaler(enabled=config.amp == "fp16" and env.device.type == "cuda")
    weights = config.weights
    total = config.total_steps
    last_step = total if stop_at is None else min(total, stop_at)
    pretrain_steps = config.steps_in("pretrain")
    log_path = run_dir / "metrics.jsonl"
    board = _tensorboard(run_dir) if env.is_main else None
    started = time.perf_counter()
    bar = tqdm(
        total=total, initial=step, desc="train", disable=not (config.progress and env.is_main)
    )

    # ---- the loop ----------------------------------------------------------------------
    while step < last_step:
        phase = "pretrain" if step < pretrain_steps else "gan"
        phase_step = step if phase == "pretrain" else step - pretrain_steps
        phase_total = config.steps_in(phase)
        set_learning_rate(
            opt_g,
            learning_rate(
                phase_step,
                phase_total,
                config.lr_generator,
                config.warmup_steps,
                config.min_lr_fraction,
            ),
        )
        set_learning_rate(
            opt_d,
            learning_rate(phase_step, phase_total, config.lr_discriminator, 0, 1.0),
        )
        lr_batch, hr_batch = (t.to(env.device) for t in sampler.batch(step))
        losses: dict[str, float] = {}

        if phase == "gan":
            penalty_rng = torch.Generator(device=env.device).manual_seed(config.seed + step)
            for _ in range(weights.critic_steps):
                with torch.no_grad(), autocast:
                    fake = g_model(lr_batch)
                with autocast:
                    d_loss = discriminator_loss(
                        weights.adversarial_kind, d_model(hr_batch), d_model(fake.detach())
                    )
                if weights.adversarial_kind == "wgan-gp":
                    d_loss = d_loss + gradient_penalty(
                        d_model, hr_batch, fake.detach(), weights.gp_weight, penalty_rng
                    )
                _check_finite(d_loss, "discriminator", step, checkpoint_path)
                opt_d.zero_grad(set_to_none=True)
                scaler.scale(d_loss).backward()
                distributed.average_gradients(discriminator, env)
                _step(opt_d, discriminator, scaler, config.grad_clip)
            losses["d"] = float(d_loss.detach())

        with autocast:
            sr = g_model(lr_batch)
            g_pixel = pixel_loss(sr.float(), hr_batch, weights.pixel_kind)
            g_loss = g_pixel if phase == "pretrain" else weights.pixel * g_pixel
            if weights.ssim:
                g_loss = g_loss + weights.ssim * ssim_loss(sr.float(), hr_batch, _range(hr_batch))
            if weights.fft:
                g_loss = g_loss + weights.fft * fft_loss(sr.float(), hr_batch)
            if phase == "gan":
                discriminator.requires_grad_(False)
                g_perceptual = perceptual(sr.float(), hr_batch)
                real_logits = d_model(hr_batch).detach()
                g_adv = generator_adversarial_loss(
                    weights.adversarial_kind, real_logits, d_model(sr)
                )
                g_loss = g_loss + weights.perceptual * g_perceptual + weights.adversarial * g_adv
                losses |= {
                    "g_perceptual": float(g_perceptual.detach()),
                    "g_adversarial": float(g_adv.detach()),
                }
        _check_finite(g_loss, "generator", step, checkpoint_path)
        opt_g.zero_grad(set_to_none=True)
        scaler.scale(g_loss).backward()
        _step(opt_g, generator, scaler, config.grad_clip)
        discriminator.requires_grad_(True)
        update_ema(ema, generator, config.ema_decay)
        step += 1
        losses |= {"g": float(g_loss.detach()), "g_pixel": float(g_pixel.detach())}
        bar.update(1)
        bar.set_postfix({k: f"{v:.3g}" for k, v in losses.items()}, refresh=False)

        record: dict[str, Any] = {"step": step, "phase": phase, "lr_g": opt_g.param_groups[0]["lr"]}
        record |= losses
        if step % config.val_every == 0 or step == total:
            record |= validate(ema, val_lr.to(env.device), val_hr.to(env.device))
        if env.is_main:
            history.append(record)
            with log_path.open("a") as log:
                log.write(json.dumps(record) + "\n")
            if board is not None:
                for key, value in record.items():
                    if isinstance(value, float):
                        board.add_scalar(key, value, step)
        if step % config.checkpoint_every == 0 or step == last_step:
            distributed.barrier(env)
            if env.is_main:
                save_checkpoint(
                    checkpoint_path,
                    {
                        "step": step,
                        "generator": generator.state_dict(),
                        "ema": ema.state_dict(),
                        "discriminator": discriminator.state_dict(),
                        "opt_g": opt_g.state_dict(),
                        "opt_d": opt_d.state_dict(),
                        "torch_rng": torch.get_rng_state(),
                        "history": history,
                        "config": json.dumps(config.to_dict()),
                    },
                )
    bar.close()
    if board is not None:
        board.close()

    validations = [r for r in history if "val_psnr" in r]
    last_validation = (
        {k: v for k, v in validations[-1].items() if k.startswith("val_")} if validations else None
    )
    bundle = None
    checksums = distributed.parameter_checksums([generator, discriminator], env)
    if step == total and env.is_main:
        from srgan_sci.training.report import plot_history

        plot_history(history, run_dir / "training_curve.png")
        metadata = BundleMetadata(
            arch=config.arch,
            arch_config=generator.config(),
            scale=scale,
            in_channels=channels,
            out_channels=channels,
            normalizer=train_sources[0].normalizer.to_dict(),
            degradation=specs[0].to_dict(),
            training={
                "degradations": [spec.to_dict() for spec in specs],
                # LR patches had this pedestal removed: outputs keep the LR's zero point
                "lr_pedestals_removed": sorted({lr_pedestal(spec) for spec in specs}),
                "steps": total,
                "phases": {"pretrain": pretrain_steps, "gan": config.steps_in("gan")},
                "world_size": env.world_size,
                "rank_checksums": checksums,
                "seconds_this_session": time.perf_counter() - started,
                "last_validation": last_validation,
                "config": config.to_dict(),
            },
            name=run_dir.name,
        )
        bundle = save_bundle(run_dir / "model", ema, metadata, overwrite=True)
    distributed.barrier(env)
    return TrainResult(run_dir=run_dir, bundle=bundle, step=step, last_validation=last_validation)


@torch.no_grad()
def validate(model: nn.Module, lr: torch.Tensor, hr: torch.Tensor) -> dict[str, float]:
    """PSNR/SSIM of ``model`` and of bicubic upsampling against ``hr`` (normalised units).

    The data range is the HR patches' max - min, stated explicitly (never from a dtype).
    """
    model.eval()
    data_range = _range(hr)
    sr = model(lr).float()
    bicubic = F.interpolate(lr, scale_factor=model.scale, mode="bicubic", align_corners=False)
    result = {}
    for name, pred in (("val", sr), ("val_bicubic", bicubic)):
        mse = torch.mean((pred - hr) ** 2)
        result[f"{name}_psnr"] = float(10 * torch.log10(data_range**2 / mse))
        result[f"{name}_ssim"] = float(1 - ssim_loss(pred, hr, data_range))
    return result


def _load_data(config: TrainConfig) -> tuple[list, list, list[DegradationSpec]]:
    """Train and validation patch sources, and the degradations they simulate."""
    if config.data:
        options = {"channel_axis": config.channel_axis}
        train_sources, val_sources, specs = [], [], []
        for path in config.data_paths:
            train, attrs = open_pair_sources(path, "train", config.normalizer, **options)
            val, _ = open_pair_sources(path, "val", config.normalizer, **options)
            train_sources += train
            val_sources += val
            specs.append(DegradationSpec.from_dict(attrs["spec"]))
        scales = sorted({spec.scale for spec in specs})
        if len(scales) > 1:
            raise TrainConfigError(
                f"the pairs datasets mix scales {scales}; train one model per scale"
            )
        return train_sources, val_sources, specs
    from srgan_sci.io import open_array

    spec = preset(config.preset).with_overrides(scale=config.scale)
    images = [np.asarray(open_array(path).data.compute()) for path in config.hr]
    train_sources, val_sources = sources_from_hr_images(
        images,
        spec,
        config.seed,
        config.val_fraction,
        normalizer=config.normalizer,
        channel_axis=config.channel_axis,
    )
    return train_sources, val_sources, [spec]


def _tensorboard(run_dir: Path) -> Any:
    """A TensorBoard writer in ``run_dir/tensorboard`` if TensorBoard is installed, else None."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(log_dir=str(run_dir / "tensorboard"))


def _range(hr: torch.Tensor) -> float:
    return float(hr.max() - hr.min()) or 1.0


def _autocast(amp: str, device: torch.device):
    if amp == "none" or device.type != "cuda":
        return nullcontext()
    dtype = torch.bfloat16 if amp == "bf16" else torch.float16
    return torch.autocast(device_type="cuda", dtype=dtype)


def _step(
    optimizer: torch.optim.Optimizer,
    model: nn.Module,
    scaler: torch.amp.GradScaler,
    clip: float | None,
) -> None:
    if clip:
        scaler.unscale_(optimizer)
        nn.utils.clip_grad_norm_(model.parameters(), clip)
    scaler.step(optimizer)
    scaler.update()


def _check_finite(loss: torch.Tensor, which: str, step: int, checkpoint: Path) -> None:
    if not torch.isfinite(loss):
        kept = (
            f"the last good checkpoint {checkpoint} is intact"
            if checkpoint.exists()
            else ("no checkpoint was written yet")
        )
        raise TrainingDivergedError(
            f"{which} loss became {float(loss.detach())} at step {step + 1}; {kept}; "
            "lower the learning rate, enable --grad-clip, or check the data for NaN/inf"
        )
