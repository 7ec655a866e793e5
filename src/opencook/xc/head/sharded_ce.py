"""Cross entropy over a class-sharded logit matrix (Megatron's vocab-parallel CE, generalised).

Each rank holds logits for the whole (gathered) batch against *its* active classes. The softmax
normaliser crosses shards with two all-reduces (row max, then exp-sum) and the target logit comes
from the one shard that owns it. The logits tensor is consumed in place: it is the largest
activation of the head (B x C_local in full mode), and keeping one copy instead of three is what
lets full softmax reach larger C at all.
"""

from __future__ import annotations

import torch
import torch.distributed as dist

from opencook.kit.dist import all_reduce_
from opencook.xc.head.timing import StepClock


class _ShardedCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, logits: torch.Tensor, target_pos: torch.Tensor, group, clock: StepClock):
        rows = logits.shape[0]
        if logits.shape[1]:
            row_max = logits.detach().max(dim=1).values
        else:
            row_max = logits.new_full((rows,), float("-inf"))
        with clock.comm(group):
            all_reduce_(row_max, dist.ReduceOp.MAX, group)
        logits.sub_(row_max.unsqueeze(1))
        here = target_pos >= 0
        where = here.nonzero().squeeze(1)
        target_and_count = logits.new_zeros((2, rows))
        target_and_count[0, where] = logits[where, target_pos[where]]
        target_and_count[1, where] = 1.0
        softmax = logits.exp_()
        sum_exp = softmax.sum(dim=1)
        # One all-reduce for the exp-sum, the target logit and how many shards own each target.
        stacked = torch.cat([sum_exp.unsqueeze(0), target_and_count])
        with clock.comm(group):
            all_reduce_(stacked, dist.ReduceOp.SUM, group)
        sum_exp, target_logit, owners = stacked
        if not bool((owners == 1).all()):
            bad = int((owners != 1).nonzero()[0, 0])
            raise RuntimeError(f"sample {bad}'s class is active on {int(owners[bad])} shards, not exactly one; "
                               "the active set must contain every label once")
        softmax.div_(sum_exp.unsqueeze(1))
        ctx.save_for_backward(softmax, target_pos)
        return sum_exp.log() - target_logit

    @staticmethod
    def backward(ctx, grad_loss: torch.Tensor):
        if getattr(ctx, "consumed", False):
            raise RuntimeError("sharded_cross_entropy's backward reuses its saved buffer and runs once; "
                               "retain_graph=True double backward is not supported")
        ctx.consumed = True
        softmax, target_pos = ctx.saved_tensors
        grad = softmax  # the saved buffer is not needed again: reuse its memory
        where = (target_pos >= 0).nonzero().squeeze(1)
        grad[where, target_pos[where]] -= 1.0
        grad.mul_(grad_loss.unsqueeze(1))
        return grad, None, None, None


def sharded_cross_entropy(logits: torch.Tensor, target_pos: torch.Tensor, group=None,
                          clock: StepClock | None = None) -> torch.Tensor:
    """Per-sample loss ``logsumexp_all_shards(logits) - logit[target]``.

    ``logits``: [B, A_local] on this rank (consumed in place); ``target_pos``: [B] int64, the
    column of each sample's class on this rank or -1 where another rank owns it; the all-reduces'
    blocked time goes to ``clock`` (none given: not recorded).
    """
    return _ShardedCrossEntropy.apply(logits, target_pos, group, clock or StepClock())
