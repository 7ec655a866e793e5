"""Process group, device, and how the model is wrapped (DDP or FSDP2) — applied to the model from outside.

The same code runs on one CPU process, a gloo group of CPU ranks, and NCCL GPUs: only the backend and
the device differ. FSDP2 (``fully_shard``) shards each decoder block, then the root, as torchtitan does.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn


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
