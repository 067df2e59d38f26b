"""Training state that survives a restart: EMA, learning-rate schedule, atomic checkpoints.

Checkpoints hold only tensors, numbers, strings and containers of them, saved with
:func:`torch.save` and read back with ``torch.load(weights_only=True)``: nothing is
unpickled beyond plain data.
"""

from __future__ import annotations

import copy
import math
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from srgan_sci.errors import SrsciError

CHECKPOINT_NAME = "checkpoint.pt"


class CheckpointError(SrsciError, ValueError):
    """A checkpoint is missing, unreadable or from another configuration."""


def learning_rate(step: int, total: int, base: float, warmup: int, min_fraction: float) -> float:
    """Linear warm-up then cosine decay from ``base`` to ``base * min_fraction``.

    Parameters
    ----------
    step : int
        Step within the phase (0-based).
    total : int
        Steps in the phase.
    base : float
        Peak learning rate.
    warmup : int
        Warm-up steps.
    min_fraction : float
        Final learning rate as a fraction of ``base``.
    """
    if warmup > 0 and step < warmup:
        return base * (step + 1) / warmup
    span = max(1, total - warmup)
    progress = min(1.0, (step - warmup) / span)
    return base * (min_fraction + (1.0 - min_fraction) * 0.5 * (1.0 + math.cos(math.pi * progress)))


def set_learning_rate(optimizer: torch.optim.Optimizer, value: float) -> None:
    """Set every parameter group's learning rate."""
    for group in optimizer.param_groups:
        group["lr"] = value


def make_ema(model: nn.Module) -> nn.Module:
    """A frozen copy of ``model`` to hold the exponential moving average of its weights."""
    ema = copy.deepcopy(model).eval()
    for parameter in ema.parameters():
        parameter.requires_grad_(False)
    return ema


@torch.no_grad()
def update_ema(ema: nn.Module, model: nn.Module, decay: float) -> None:
    """``ema = decay * ema + (1 - decay) * model`` for parameters; buffers are copied."""
    for ema_param, param in zip(ema.parameters(), model.parameters(), strict=True):
        ema_param.lerp_(param.detach(), 1.0 - decay)
    for ema_buffer, buffer in zip(ema.buffers(), model.buffers(), strict=True):
        ema_buffer.copy_(buffer)


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write ``state`` to ``path`` atomically (temporary file, then rename)."""
    path = Path(path)
    partial = path.with_name(f".{path.name}.partial-{os.getpid()}")
    torch.save(state, partial)
    os.replace(partial, path)


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint` without unpickling objects."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no checkpoint to resume from; run without --resume")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for corrupt files
        raise CheckpointError(f"{path}: unreadable checkpoint ({error})") from error
