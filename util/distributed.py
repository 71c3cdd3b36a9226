"""Process-group set-up and collectives for ``torchrun`` (DDP), and device selection.

Under ``torchrun`` the environment carries RANK, WORLD_SIZE and LOCAL_RANK; without it the process is
rank 0 of 1 and every collective here is a no-op, so the same training code runs in both cases.
NCCL is used on GPU, gloo on CPU.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from util.errors import OptionError


@dataclass(frozen=True)
class DistContext:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def select_device(opt: argparse.Namespace, local_rank: int = 0) -> torch.device:
    """``--gpu -1`` forces CPU; ``--gpu N`` picks device N; otherwise LOCAL_RANK (torchrun) or 0."""
    gpu = getattr(opt, "gpu", None)
    if gpu is not None and gpu < 0:
        return torch.device("cpu")
    if not torch.cuda.is_available():
        if gpu is not None:
            raise OptionError(f"--gpu {gpu} was given but CUDA is not available (use --gpu -1 for CPU)")
        return torch.device("cpu")
    index = gpu if gpu is not None else local_rank
    if index >= torch.cuda.device_count():
        raise OptionError(f"--gpu {index}: only {torch.cuda.device_count()} CUDA device(s) are visible")
    return torch.device("cuda", index)


def init_distributed(opt: argparse.Namespace) -> DistContext:
    """Join the process group when launched by torchrun; pick this process's device."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = select_device(opt, local_rank)
    if world_size > 1 and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return DistContext(rank=rank, world_size=world_size, local_rank=local_rank, device=device)


def barrier(ctx: DistContext) -> None:
    if ctx.distributed:
        if ctx.device.type == "cuda":
            dist.barrier(device_ids=[ctx.device.index])
        else:
            dist.barrier()


def all_reduce_sum(values: dict[str, torch.Tensor], ctx: DistContext) -> dict[str, torch.Tensor]:
    """Sum a dict of scalar tensors over all ranks (one collective for the whole dict)."""
    if not values:
        return {}
    keys = sorted(values)
    stacked = torch.stack([values[k].detach().float().reshape(()) for k in keys]).to(ctx.device)
    if ctx.distributed:
        dist.all_reduce(stacked, op=dist.ReduceOp.SUM)
    return dict(zip(keys, stacked, strict=True))


def all_reduce_mean(values: dict[str, torch.Tensor], ctx: DistContext) -> dict[str, torch.Tensor]:
    """Average a dict of scalar tensors over all ranks."""
    summed = all_reduce_sum(values, ctx)
    return {k: v / ctx.world_size for k, v in summed.items()}


def all_reduce_max(flag: torch.Tensor, ctx: DistContext) -> torch.Tensor:
    """Element-wise maximum over ranks (used to agree on stopping)."""
    if ctx.distributed:
        flag = flag.clone()
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
    return flag


def cleanup(ctx: DistContext) -> None:
    if ctx.distributed and dist.is_initialized():
        dist.destroy_process_group()
