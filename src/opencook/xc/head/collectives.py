"""Autograd-aware collectives for the model-parallel head.

The head sees every rank's embeddings (all-gather). In backward each rank holds a partial
gradient for *all* gathered rows -- from its own class shard -- so the gradients are summed across
ranks and each rank keeps its own rows. That sum is multiplied by the world size because DDP then
*averages* the backbone's gradients; together they give exactly the gradient of the global-batch mean
loss (Partial FC uses the same convention).

The gather is split into ``start_all_gather`` (issue it, return at once) and ``PendingGather.wait``
so a step can compute the next micro-batch's backbone while this one's embeddings travel. Time the
main thread blocks in either direction goes to the ``clock`` passed in (none given: not recorded).
"""

from __future__ import annotations

import torch
import torch.distributed as dist

from opencook.kit.dist import is_distributed, rank, world_size
from opencook.xc.head.timing import StepClock


class _GatheredWithGrad(torch.autograd.Function):
    """Ties the gathered copies back to ``local`` for autograd; the data already arrived."""

    @staticmethod
    def forward(ctx, local: torch.Tensor, group, clock: StepClock, *parts: torch.Tensor):
        ctx.group, ctx.clock = group, clock
        ctx.rows = local.shape[0]
        return torch.cat(parts, dim=0)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        grad = grad.contiguous()
        with ctx.clock.comm(ctx.group):
            dist.all_reduce(grad, op=dist.ReduceOp.SUM, group=ctx.group)
        r = rank(ctx.group)
        mine = grad[r * ctx.rows:(r + 1) * ctx.rows] * world_size(ctx.group)
        return (mine, None, None) + (None,) * world_size(ctx.group)


class PendingGather:
    """An all-gather in flight; ``wait()`` gives the concatenation, differentiable w.r.t. ``local``."""

    def __init__(self, local: torch.Tensor, group=None, clock: StepClock | None = None) -> None:
        self.local, self.group, self.clock = local, group, clock or StepClock()
        self.parts: list[torch.Tensor] = []
        self.work = None
        if is_distributed(group):
            sent = local.detach().contiguous()
            self.parts = [torch.empty_like(sent) for _ in range(world_size(group))]
            self.work = dist.all_gather(self.parts, sent, group=group, async_op=True)

    def wait(self) -> torch.Tensor:
        if self.work is None:
            return self.local
        with self.clock.comm(self.group):
            self.work.wait()
        return _GatheredWithGrad.apply(self.local, self.group, self.clock, *self.parts)


def start_all_gather(local: torch.Tensor, group=None, clock: StepClock | None = None) -> PendingGather:
    """Issue the all-gather of ``local`` (equal shapes on every rank) and return without waiting."""
    return PendingGather(local, group, clock)


def all_gather_with_grad(local: torch.Tensor, group=None, clock: StepClock | None = None) -> torch.Tensor:
    """Concatenate every rank's ``local`` (equal shapes) along dim 0, differentiably."""
    return start_all_gather(local, group, clock).wait()
