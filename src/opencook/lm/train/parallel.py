"""Process group, device, and how the model is wrapped (DDP or FSDP2) — applied to the model from outside.

The same code runs on one CPU process, a gloo group of CPU ranks, and NCCL GPUs: only the backend and
the device differ. The order is torchtitan's: activation checkpointing per block, then ``torch.compile`` per
block (trainer), then FSDP2 (``fully_shard``) per block and the root, with a mixed-precision policy and
optional CPU offload.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os

import torch
import torch.distributed as dist
from torch import nn

# Outputs selective checkpointing keeps: the matmuls and attention (costly to recompute); everything else in
# a block (RMSNorm, RoPE, SiLU, the gate product) is recomputed in backward.
_SAVE_OPS = tuple(
    getattr(torch.ops.aten, name).default
    for name in ("mm", "addmm", "bmm", "_scaled_dot_product_flash_attention",
                 "_scaled_dot_product_flash_attention_for_cpu", "_scaled_dot_product_efficient_attention",
                 "_scaled_dot_product_cudnn_attention")
    if hasattr(torch.ops.aten, name)
)


def _selective_context():
    from torch.utils.checkpoint import CheckpointPolicy, create_selective_checkpoint_contexts

    def policy(ctx, op, *args, **kwargs):
        return CheckpointPolicy.MUST_SAVE if op in _SAVE_OPS else CheckpointPolicy.PREFER_RECOMPUTE

    return create_selective_checkpoint_contexts(policy)


def _chunked_head_loss(model: nn.Module):
    """``model.head_loss`` over token chunks, each checkpointed: forward keeps only the chunk's input (a view of
    the last block's output) and backward recomputes one chunk's norm, logits and softmax at a time. The loss is
    the same sum, added chunk by chunk."""
    from torch.utils.checkpoint import checkpoint

    from opencook.lm.model.llama import head_chunks

    chunks = head_chunks(model.cfg.vocab_size, model.cfg.dim)

    def chunk_loss(h: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return type(model).head_loss(model, h, targets)  # the class's unchunked head and loss, on one chunk

    def head_loss(h: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        pieces = zip(h.flatten(0, 1).chunk(chunks), targets.reshape(-1).chunk(chunks), strict=True)
        if not torch.is_grad_enabled():
            return sum(chunk_loss(hc, tc) for hc, tc in pieces)
        return sum(checkpoint(chunk_loss, hc, tc, use_reentrant=False) for hc, tc in pieces)

    return head_loss


def apply_activation_checkpointing(model: nn.Module, mode: str) -> nn.Module:
    """Checkpoint every decoder block in place (``full`` or ``selective``; ``none`` leaves the model as is), and
    the output head with its loss in token chunks (the logits of a micro-batch are the largest activation
    where the vocabulary is large against the width).

    ``forward`` and ``head_loss`` are replaced on the instances, so parameter names (and checkpoints) do not
    change."""
    if mode == "none":
        return model
    if mode not in ("full", "selective"):
        raise ValueError(f"unknown activation_checkpoint {mode!r}: use none, full or selective")
    from torch.utils.checkpoint import checkpoint

    extra = {"context_fn": _selective_context} if mode == "selective" else {}
    for block in unwrap(model).layers:
        inner = block.forward

        @functools.wraps(inner)
        def forward(*args, _inner=inner, **kwargs):
            if not torch.is_grad_enabled():
                return _inner(*args, **kwargs)
            return checkpoint(_inner, *args, use_reentrant=False, **extra, **kwargs)

        block.forward = forward
    unwrap(model).head_loss = _chunked_head_loss(unwrap(model))
    return model


def _dtype(name: str) -> torch.dtype:
    return {"float32": torch.float32, "bfloat16": torch.bfloat16}[name]


def wrap_model(model: nn.Module, mode: str, device: torch.device, *, param_dtype: str = "float32",
               reduce_dtype: str = "float32", cpu_offload: bool = False) -> nn.Module:
    """``ddp``: replicate, all-reduce gradients. ``fsdp``: shard parameters, gradients and optimizer state
    per decoder block, computing in ``param_dtype`` and reducing gradients in ``reduce_dtype``, with the
    shards in host memory under ``cpu_offload``. Without a process group the model is returned as is."""
    if mode == "fsdp" and not dist.is_initialized() and "MASTER_ADDR" in os.environ:
        # One rank under torchrun: FSDP2 still brings its mixed precision and offload, so give it a group.
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        atexit.register(dist.destroy_process_group)
    if not (dist.is_available() and dist.is_initialized()):
        return model
    if mode == "ddp":
        from torch.nn.parallel import DistributedDataParallel

        return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    if mode == "fsdp":
        from torch.distributed.fsdp import CPUOffloadPolicy, MixedPrecisionPolicy, OffloadPolicy, fully_shard

        kwargs = {
            "mp_policy": MixedPrecisionPolicy(param_dtype=_dtype(param_dtype), reduce_dtype=_dtype(reduce_dtype)),
            "offload_policy": CPUOffloadPolicy() if cpu_offload else OffloadPolicy(),
        }
        for block in model.layers:
            fully_shard(block, **kwargs)
        fully_shard(model, **kwargs)
        return model
    raise ValueError(f"unknown parallel mode {mode!r}: use ddp or fsdp")


def set_grad_sync(model: nn.Module, enabled: bool):
    """A context in which backward does (or skips) the gradient all-reduce, for gradient accumulation."""
    if hasattr(model, "no_sync"):  # DDP
        return contextlib.nullcontext() if enabled else model.no_sync()
    if hasattr(model, "set_requires_gradient_sync"):  # FSDP2
        model.set_requires_gradient_sync(enabled)
    return contextlib.nullcontext()


def unwrap(model: nn.Module) -> nn.Module:
    """The user's module under a DDP wrapper (FSDP2 modifies the module in place, so it is itself)."""
    return getattr(model, "module", model)
