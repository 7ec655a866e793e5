"""Which classes take part in a step's softmax.

The set depends only on the gathered labels, the step and (for KNN) the class graph -- all of which
every rank already holds -- so every rank derives the same set with no communication, keeps the ids
in its own range, and could compute it ahead of the forward pass.

- ``full``: every class.
- ``knn``: the batch's labels plus each label's graph neighbours (the confusable classes, which carry
  most of the softmax's gradient), optionally padded with random classes to a fixed budget.
- ``random``: the labels plus uniformly random classes up to the budget (Partial FC).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from opencook.xc.sharding import ClassShard

MODES = ("full", "knn", "random")


@dataclass(frozen=True)
class ActiveSet:
    """This rank's part of the active set: sorted local row ids and each sample's column (-1 = elsewhere)."""

    local_rows: torch.Tensor | None  # None in full mode: every local row, no gather needed
    target_pos: torch.Tensor
    global_size: int


def _step_generator(seed: int, step: int) -> torch.Generator:
    return torch.Generator().manual_seed((seed * 1_000_003 + step) % (2**63))


def _random_fill(chosen: torch.Tensor, budget: int, num_classes: int, gen: torch.Generator) -> torch.Tensor:
    """Add distinct random classes (not already chosen) until ``budget``; deterministic given ``gen``."""
    need = budget - chosen.numel()
    if need <= 0:
        return chosen
    if budget >= num_classes:
        return torch.arange(num_classes)
    extra = chosen.new_empty(0)
    while need > 0:
        draw = torch.randint(num_classes, (need + need // 4 + 16,), generator=gen)
        draw = draw[~torch.isin(draw, chosen)]
        uniq, inverse = torch.unique(draw, return_inverse=True)
        first = torch.full((uniq.numel(),), draw.numel(), dtype=torch.long)
        first.scatter_reduce_(0, inverse, torch.arange(draw.numel()), reduce="amin")
        fresh = uniq[first.argsort()][:need]  # first-drawn order, so trimming is deterministic
        extra = torch.cat([extra, fresh])
        chosen = torch.cat([chosen, fresh])
        need -= fresh.numel()
    return chosen


def global_active_classes(labels: torch.Tensor, mode: str, num_classes: int, *, graph: torch.Tensor | None,
                          budget: int | None, seed: int, step: int) -> torch.Tensor:
    """The sorted global class ids active at ``step`` for the gathered ``labels``."""
    chosen = labels.unique()
    if mode == "knn":
        if graph is None:
            raise RuntimeError("knn mode needs a class graph; build it before the first step")
        chosen = torch.cat([chosen, graph[chosen].flatten()]).unique()
    if budget is not None:
        chosen = _random_fill(chosen, budget, num_classes, _step_generator(seed, step))
    return chosen.sort().values


def select_active(labels: torch.Tensor, mode: str, shard: ClassShard, *, graph: torch.Tensor | None = None,
                  budget: int | None = None, seed: int = 0, step: int = 0) -> ActiveSet:
    """This rank's rows and target columns for the gathered ``labels`` (int64, already range-checked)."""
    owned = (labels >= shard.start) & (labels < shard.end)
    if mode == "full":
        target_pos = torch.where(owned, labels - shard.start, -1)
        return ActiveSet(None, target_pos, shard.num_classes)
    if mode not in MODES:
        raise ValueError(f"mode {mode!r} is not one of {MODES}")
    active = global_active_classes(labels, mode, shard.num_classes, graph=graph, budget=budget, seed=seed,
                                   step=step)
    lo, hi = torch.searchsorted(active, torch.tensor([shard.start, shard.end]))
    local_rows = active[lo:hi] - shard.start
    target_pos = torch.where(owned, torch.searchsorted(local_rows, labels - shard.start), -1)
    return ActiveSet(local_rows, target_pos, active.numel())
