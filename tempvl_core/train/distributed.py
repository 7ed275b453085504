"""torchrun-style distributed setup: process group, rank helpers, cross-rank loss averaging.

``init_distributed`` reads the environment variables torchrun sets (``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``). Without them it returns a single-process
context, so the same training code runs alone or under ``torchrun --nproc-per-node N``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistContext:
    """Where this process sits in the job."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: str = "cpu"

    @property
    def is_main(self) -> bool:
        """Rank 0 alone logs, shows progress bars and writes checkpoints."""
        return self.rank == 0

    @property
    def is_distributed(self) -> bool:
        return self.world_size > 1


def init_distributed(device: str = "cpu", *, backend: str | None = None) -> DistContext:
    """Join the process group described by the torchrun environment, if any.

    ``device`` is the requested device type (``"cpu"`` or ``"cuda"``); under torchrun each rank
    takes ``cuda:LOCAL_RANK``. The backend defaults to NCCL on GPU and gloo on CPU.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", str(rank)))
    is_cuda = device.startswith("cuda")
    if is_cuda:
        if not torch.cuda.is_available():
            raise RuntimeError(f"device '{device}' was requested but CUDA is not available")
        index = local_rank if world_size > 1 else (torch.device(device).index or 0)
        torch.cuda.set_device(index)
        device = f"cuda:{index}"
    if world_size > 1 and not dist.is_initialized():
        for name in ("MASTER_ADDR", "MASTER_PORT"):
            if name not in os.environ:
                raise RuntimeError(f"WORLD_SIZE={world_size} but {name} is not set: launch with torchrun")
        dist.init_process_group(backend=backend or ("nccl" if is_cuda else "gloo"), rank=rank, world_size=world_size)
    return DistContext(rank=rank, world_size=world_size, local_rank=local_rank, device=device)


def barrier(ctx: DistContext) -> None:
    """Wait for every rank (no-op when running alone)."""
    if ctx.is_distributed:
        dist.barrier()


def reduce_mean(values: dict[str, float], ctx: DistContext, device: str | torch.device = "cpu") -> dict[str, float]:
    """Average scalar metrics over ranks so rank 0 logs the global value.

    Every rank must pass the same keys (in any order); keys are sorted so the reduction lines up.
    """
    if not ctx.is_distributed or not values:
        return dict(values)
    keys = sorted(values)
    tensor = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64, device=device)
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    tensor /= ctx.world_size
    return {k: float(v) for k, v in zip(keys, tensor.tolist())}


def shutdown(ctx: DistContext) -> None:
    """Leave the process group (safe to call when none was created)."""
    if ctx.is_distributed and dist.is_initialized():
        dist.destroy_process_group()
