"""Process-group set-up for multi-process training launched with ``torchrun``."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from srgan_sci.devices import resolve_device


@dataclass(frozen=True)
class Distributed:
    """Where this process stands in the job.

    Parameters
    ----------
    rank, world_size, local_rank : int
        From the ``RANK``/``WORLD_SIZE``/``LOCAL_RANK`` variables ``torchrun`` sets.
    device : torch.device
        The device this process trains on.
    """

    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        """True on the process that writes checkpoints, logs and the bundle."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        """True when more than one process takes part."""
        return self.world_size > 1


def setup(device_name: str) -> Distributed:
    """Join the process group when launched by ``torchrun`` (gloo on CPU, NCCL on CUDA)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = resolve_device(device_name, local_rank)
    if world_size > 1 and not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend=backend)
    return Distributed(rank=rank, world_size=world_size, local_rank=local_rank, device=device)


def teardown(env: Distributed) -> None:
    """Leave the process group."""
    if env.active and dist.is_initialized():
        dist.destroy_process_group()


def barrier(env: Distributed) -> None:
    """Wait for every process (no-op for a single process)."""
    if env.active:
        dist.barrier()


def average_gradients(model: torch.nn.Module, env: Distributed) -> None:
    """Average the gradients of ``model`` over all processes (no-op for one process)."""
    if not env.active:
        return
    for parameter in model.parameters():
        if parameter.grad is not None:
            dist.all_reduce(parameter.grad, op=dist.ReduceOp.SUM)
            parameter.grad /= env.world_size


def parameter_checksums(models: list[torch.nn.Module], env: Distributed) -> list[float]:
    """Sum of all parameters of ``models`` on every process, gathered (one per rank).

    Equal values show that data-parallel training kept the replicas in step.
    """
    with torch.no_grad():
        local = float(sum(p.double().sum() for m in models for p in m.parameters()))
    if not env.active:
        return [local]
    gathered: list[float] = [0.0] * env.world_size
    dist.all_gather_object(gathered, local)
    return gathered
