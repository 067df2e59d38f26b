"""Reduced-precision inference: a wrapper that runs a model under autocast, channels-last."""

from __future__ import annotations

import torch
from torch import nn

PRECISIONS = {"float32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


class ReducedPrecision(nn.Module):
    """Run ``model`` under :func:`torch.autocast` in ``precision``; outputs stay float32.

    On CUDA the model and its inputs also use the channels-last memory format, which
    tensor cores prefer.  ``fp16`` is CUDA only (CPU autocast supports bf16).  Reduced
    precision changes results at the 1e-3 level: tiles stay seam-free (every tile runs the
    same arithmetic) but no longer match a float32 run bit for bit.

    Parameters
    ----------
    model : torch.nn.Module
        Generator with ``scale`` and ``receptive_field_radius``.
    precision : {"bf16", "fp16"}
        Autocast dtype.
    device : torch.device
        Device the model runs on.
    """

    def __init__(self, model: nn.Module, precision: str, device: torch.device) -> None:
        super().__init__()
        if precision not in ("bf16", "fp16"):
            raise ValueError(f"precision must be bf16 or fp16, got {precision!r}")
        if precision == "fp16" and device.type != "cuda":
            raise ValueError("fp16 inference needs a CUDA device; use bf16 on CPU")
        self.model = model
        self.dtype = PRECISIONS[precision]
        self.device_type = device.type
        self.scale = model.scale
        self.receptive_field_radius = model.receptive_field_radius
        if self.device_type == "cuda":
            self.model = self.model.to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Autocast forward; returns float32."""
        if self.device_type == "cuda":
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device_type=self.device_type, dtype=self.dtype):
            y = self.model(x)
        return y.float().contiguous()
