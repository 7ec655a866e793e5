"""Process-group helpers that also work without one (world size 1, no ``init_process_group``); shared by the
xc and lm trainers."""

from __future__ import annotations

import atexit
import os

import torch
import torch.distributed as dist


def init_distributed() -> torch.device:
    """Join the torchrun group if there is one (NCCL on GPU, gloo on CPU); this rank's device."""
    cuda = torch.cuda.is_available()
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo")
        atexit.register(shutdown_distributed)
    if cuda:
        torch.cuda.set_device(local_rank)
        return torch.device("cuda", local_rank)
    return torch.device("cpu")


def shutdown_distributed() -> None:
    """Tear the group down before interpreter exit: left to the C++ destructors, gloo's worker threads
    occasionally abort the process ("terminate called without an active exception") after a clean run."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def is_distributed(group=None) -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size(group) > 1


def world_size(group=None) -> int:
    return dist.get_world_size(group) if dist.is_available() and dist.is_initialized() else 1


def rank(group=None) -> int:
    return dist.get_rank(group) if dist.is_available() and dist.is_initialized() else 0


def barrier(group=None) -> None:
    """Wait for every rank; a no-op on one process."""
    if is_distributed(group):
        dist.barrier(group)


def all_reduce_(tensor: torch.Tensor, op=dist.ReduceOp.SUM, group=None) -> torch.Tensor:
    """In-place all-reduce; a no-op on one process."""
    if is_distributed(group):
        dist.all_reduce(tensor, op=op, group=group)
    return tensor


def all_gather_cat(tensor: torch.Tensor, group=None) -> torch.Tensor:
    """Concatenate equal-shaped tensors from every rank along dim 0 (no autograd)."""
    if not is_distributed(group):
        return tensor
    parts = [torch.empty_like(tensor) for _ in range(world_size(group))]
    dist.all_gather(parts, tensor.contiguous(), group=group)
    return torch.cat(parts, dim=0)


def all_gather_varlen(tensor: torch.Tensor, group=None) -> torch.Tensor:
    """Concatenate tensors whose dim 0 differs by rank (e.g. class shards of C % N != 0)."""
    if not is_distributed(group):
        return tensor
    n = world_size(group)
    sizes = all_gather_cat(torch.tensor([tensor.shape[0]], device=tensor.device), group).tolist()
    longest = max(sizes)
    padded = tensor.new_zeros((longest, *tensor.shape[1:]))
    padded[: tensor.shape[0]] = tensor
    parts = [torch.empty_like(padded) for _ in range(n)]
    dist.all_gather(parts, padded, group=group)
    return torch.cat([p[:s] for p, s in zip(parts, sizes, strict=True)], dim=0)
