"""Autograd-aware collectives for the model-parallel head.

The head sees every rank's embeddings (all-gather). In backward each rank holds a partial
gradient for *all* gathered rows -- from its own class shard -- so the gradients are summed across
ranks and each rank keeps its own rows. That sum is multiplied by the world size because DDP then
*averages* the backbone's gradients; together they give exactly the gradient of the global-batch mean
loss (Partial FC uses the same convention).
"""

from __future__ import annotations

import torch
import torch.distributed as dist

from opencook.core.dist import is_distributed, rank, world_size


class _AllGatherWithGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, local: torch.Tensor, group):
        ctx.group = group
        ctx.rows = local.shape[0]
        parts = [torch.empty_like(local) for _ in range(world_size(group))]
        dist.all_gather(parts, local.contiguous(), group=group)
        return torch.cat(parts, dim=0)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        grad = grad.contiguous()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM, group=ctx.group)
        r = rank(ctx.group)
        mine = grad[r * ctx.rows:(r + 1) * ctx.rows] * world_size(ctx.group)
        return mine, None


def all_gather_with_grad(local: torch.Tensor, group=None) -> torch.Tensor:
    """Concatenate every rank's ``local`` (equal shapes) along dim 0, differentiably."""
    if not is_distributed(group):
        return local
    return _AllGatherWithGrad.apply(local, group)
