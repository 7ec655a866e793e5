"""Process group, device, and how the model is wrapped (DDP or FSDP2) — applied to the model from outside.

The same code runs on one CPU process, a gloo group of CPU ranks, and NCCL GPUs: only the backend and
the device differ. FSDP2 (``fully_shard``) shards each decoder block, then the root, as torchtitan does.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist
from torch import nn


def init_distributed() -> torch.device:
    """Join the torchrun group if there is one (NCCL on GPU, gloo on CPU); return this rank's device."""
    cuda = torch.cuda.is_available()
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if "WORLD_SIZE" in os.environ and not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo")
    if cuda:
        torch.cuda.set_device(local_rank)
        return torch.device("cuda", local_rank)
    return torch.device("cpu")


def world() -> tuple[int, int]:
    """(rank, world size); (0, 1) without a process group."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def barrier() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def all_reduce_sum(value: torch.Tensor) -> torch.Tensor:
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(value)
    return value


def wrap_model(model: nn.Module, mode: str, device: torch.device) -> nn.Module:
    """``ddp``: replicate, all-reduce gradients. ``fsdp``: shard parameters, gradients and optimizer state
    per decoder block. Without a process group the model is returned as is (one rank needs neither)."""
    if not (dist.is_available() and dist.is_initialized()):
        return model
    if mode == "ddp":
        from torch.nn.parallel import DistributedDataParallel

        return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    if mode == "fsdp":
        from torch.distributed.fsdp import fully_shard

        for block in model.layers:
            fully_shard(block)
        fully_shard(model)
        return model
    raise ValueError(f"unknown parallel mode {mode!r}: use ddp or fsdp")


def set_grad_sync(model: nn.Module, enabled: bool):
    """A context in which backward does (or skips) the gradient all-reduce, for gradient accumulation."""
    import contextlib

    if hasattr(model, "no_sync"):  # DDP
        return contextlib.nullcontext() if enabled else model.no_sync()
    if hasattr(model, "set_requires_gradient_sync"):  # FSDP2
        model.set_requires_gradient_sync(enabled)
    return contextlib.nullcontext()


def unwrap(model: nn.Module) -> nn.Module:
    """The user's module under a DDP wrapper (FSDP2 modifies the module in place, so it is itself)."""
    return getattr(model, "module", model)
