"""Which classes take part in a step's softmax, chosen by each rank inside its own class shard.

Candidates come with a *depth*: the gathered labels are depth 0, an anchor's j-th nearest class is
depth j+1 (a label's j-th graph neighbour, or a sample's j-th nearest class centre). The anchored set
is every class up to the deepest depth whose global count still fits the budget (labels are always
kept, even over budget), topped up to the anchored budget by a seeded draw from the next depth; uniform
random classes fill the rest (the uniform share, or all that is left when the anchors run out).

Each rank counts only its own classes, per depth and per block of ``BLOCK`` classes, and one
all-reduce of that small [depth, block] table agrees on the counts; no rank ever sorts the global
active set. The random fill is stratified by block: each block's quota follows from the agreed counts
(largest remainder), and the block's draw is seeded by (seed, step, block) -- so the set does not
depend on how many ranks share the classes, and a block that straddles two shards is drawn alike on
both. Without a ``reduce`` (one process simulating a shard), the counts come from all candidates.

- ``full``: every class.  ``knn``: labels + anchors, padded to the budget.  ``random``: labels +
  uniform classes up to the budget (Partial FC).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from opencook.xc.sharding import ClassShard, shard_range

MODES = ("full", "knn", "random")
BLOCK = 65536


@dataclass(frozen=True)
class ActiveSet:
    """This rank's part of the active set: sorted local row ids and each sample's column (-1 = elsewhere)."""

    local_rows: torch.Tensor | None  # None in full mode: every local row, no gather needed
    target_pos: torch.Tensor
    global_size: int
    logit_bias: torch.Tensor | None = None
    """[len(local_rows)] added to the logits (logQ correction of uniform classes), or None."""

    def contains(self, class_ids: torch.Tensor, shard: ClassShard) -> torch.Tensor:
        """Whether each global class id is active here (False for ids of other shards)."""
        here = (class_ids >= shard.start) & (class_ids < shard.end)
        if self.local_rows is None:
            return here
        local = (class_ids - shard.start).clamp(0, max(shard.size - 1, 0))
        pos = torch.searchsorted(self.local_rows, local).clamp(max=max(self.local_rows.numel() - 1, 0))
        found = self.local_rows[pos] == local if self.local_rows.numel() else torch.zeros_like(here)
        return here & found


def _block_generator(seed: int, step: int, block: int) -> torch.Generator:
    return torch.Generator().manual_seed((seed * 1_000_003 + step * 65_537 + block) % (2**63))


def _draw(size: int, exclude: torch.Tensor, quota: int, gen: torch.Generator) -> torch.Tensor:
    """``quota`` distinct ids of [0, size) not in sorted ``exclude``, deterministic given ``gen``."""
    free = size - exclude.numel()
    if quota >= free:
        keep = torch.ones(size, dtype=torch.bool)
        keep[exclude] = False
        return keep.nonzero().squeeze(1)
    if quota * 2 > free:
        perm = torch.randperm(size, generator=gen)
        return perm[~torch.isin(perm, exclude)][:quota].sort().values
    chosen = exclude.new_empty(0)
    while chosen.numel() < quota:
        need = quota - chosen.numel()
        draw = torch.randint(size, (need + need // 4 + 16,), generator=gen)
        draw = draw[~torch.isin(draw, exclude) & ~torch.isin(draw, chosen)]
        uniq, inverse = torch.unique(draw, return_inverse=True)
        first = torch.full((uniq.numel(),), draw.numel(), dtype=torch.long)
        first.scatter_reduce_(0, inverse, torch.arange(draw.numel()), reduce="amin")
        chosen = torch.cat([chosen, uniq[first.argsort()][:need]])  # first-drawn order: deterministic trim
    return chosen.sort().values


def _quotas(need: int, free: torch.Tensor) -> torch.Tensor:
    """Split ``need`` over blocks in proportion to their free classes (largest remainder, exact sum)."""
    total = int(free.sum())
    if need <= 0 or total == 0:
        return torch.zeros_like(free)
    need = min(need, total)
    numer = free * need
    base, frac = numer // total, numer % total
    extra = need - int(base.sum())
    order = torch.sort(-frac, stable=True).indices[:extra]
    base[order] += 1
    return base


def _min_depth(ids: torch.Tensor, depth: torch.Tensor, lo: int, hi: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Sorted distinct ids in [lo, hi) and each one's smallest depth."""
    keep = (ids >= lo) & (ids < hi)
    ids, depth = ids[keep], depth[keep]
    uniq, inverse = ids.unique(return_inverse=True)
    best = torch.full((uniq.numel(),), torch.iinfo(torch.long).max, dtype=torch.long)
    return uniq, best.scatter_reduce_(0, inverse, depth, reduce="amin")


def _partial_depth(cand: torch.Tensor, cand_depth: torch.Tensor, depth: int, per_block: torch.Tensor, need: int,
                   own_blocks: tuple[int, int], seed: int, step: int) -> torch.Tensor:
    """``need`` of the candidates at ``depth`` (the first depth that no longer fits whole), so the anchored
    budget goes to near classes before uniform ones. Quotas per block follow the agreed counts and each
    block's draw is seeded, so every rank (and any world size) picks the same classes."""
    quotas = _quotas(need, per_block)
    picked = [cand.new_empty(0)]
    for b in range(*own_blocks):
        q = int(quotas[b])
        if q == 0:
            continue
        here = cand[(cand_depth == depth) & (cand // BLOCK == b)]
        pos = _draw(here.numel(), here.new_empty(0), q, _block_generator(seed + 7_919, step, b))
        picked.append(here[pos])
    return torch.cat(picked)


def select_active(labels: torch.Tensor, mode: str, shard: ClassShard, *, graph: torch.Tensor | None = None,
                  budget: int | None = None, seed: int = 0, step: int = 0,
                  anchors: list[torch.Tensor] | None = None, uniform_share: float = 0.0, logq: bool = False,
                  reduce: Callable[[torch.Tensor], torch.Tensor] | None = None) -> ActiveSet:
    """This rank's rows and target columns for the gathered ``labels`` (int64, already range-checked).

    ``anchors``: [n, k] global class ids, nearest first (depth = column + 1); in knn mode the labels'
    graph rows are added when ``graph`` is given. ``reduce`` sums a tensor over ranks (the one
    all-reduce); None: count every candidate here instead (no communication; the same result).
    """
    owned = (labels >= shard.start) & (labels < shard.end)
    if mode == "full":
        target_pos = torch.where(owned, labels - shard.start, -1)
        return ActiveSet(None, target_pos, shard.num_classes)
    if mode not in MODES:
        raise ValueError(f"mode {mode!r} is not one of {MODES}")
    anchors = list(anchors or []) if mode == "knn" else []
    if mode == "knn" and graph is not None:
        anchors.insert(0, graph[labels.unique()])
    if mode == "knn" and not anchors:
        raise RuntimeError("knn mode needs a class graph or feature anchors; build the graph before the first step")
    ids = torch.cat([labels] + [a.flatten() for a in anchors])
    depth = torch.cat([torch.zeros_like(labels)]
                      + [torch.arange(1, a.shape[1] + 1).repeat(a.shape[0]) for a in anchors])
    deepest = max([0] + [a.shape[1] for a in anchors])
    c = shard.num_classes
    blocks = math.ceil(c / BLOCK)
    b_lo, b_hi = shard.start // BLOCK, max(shard.start // BLOCK, (shard.end - 1) // BLOCK + 1)
    ext_lo, ext_hi = b_lo * BLOCK, min(c, b_hi * BLOCK)
    cand, cand_depth = _min_depth(ids, depth, ext_lo, ext_hi)  # own blocks: a straddling block's fill needs them
    if reduce is None:
        counted, counted_depth = _min_depth(ids, depth, 0, c)
    else:
        mine = (cand >= shard.start) & (cand < shard.end)
        counted, counted_depth = cand[mine], cand_depth[mine]
    counts = torch.zeros((deepest + 1) * blocks, dtype=torch.long)
    counts.index_add_(0, counted_depth * blocks + counted // BLOCK, torch.ones_like(counted))
    counts = counts.reshape(deepest + 1, blocks)
    if reduce is not None:
        counts = reduce(counts)
    counts = counts.cumsum(0)  # [d, b]: classes of depth <= d in block b
    totals = counts.sum(1)
    cap = None if budget is None else budget - round(uniform_share * budget)
    fits = torch.ones_like(totals, dtype=torch.bool) if cap is None else totals <= cap
    fits[0] = True
    chosen_depth = int(fits.nonzero().max())
    fixed = cand[cand_depth <= chosen_depth]
    size = int(totals[chosen_depth])
    if cap is not None and chosen_depth < deepest and cap > size:
        fixed = torch.cat([fixed, _partial_depth(cand, cand_depth, chosen_depth + 1,
                                                 counts[chosen_depth + 1] - counts[chosen_depth], cap - size,
                                                 (b_lo, b_hi), seed, step)]).sort().values
        size = cap
    parts, biases = [fixed], [torch.zeros(fixed.numel())]
    if budget is not None and budget > size:
        block_sizes = torch.full((blocks,), BLOCK, dtype=torch.long)
        block_sizes[-1] = c - (blocks - 1) * BLOCK
        free = block_sizes - counts[chosen_depth]
        quotas = _quotas(budget - size, free)
        size += int(quotas.sum())
        for b in range(b_lo, b_hi):
            q = int(quotas[b])
            if q == 0:
                continue
            lo = b * BLOCK
            taken = fixed[(fixed >= lo) & (fixed < lo + BLOCK)] - lo
            fill = _draw(int(block_sizes[b]), taken, q, _block_generator(seed, step, b)) + lo
            parts.append(fill)
            biases.append(torch.full((fill.numel(),), -math.log(q / int(free[b]))))
    chosen, bias = torch.cat(parts), torch.cat(biases)
    mine = (chosen >= shard.start) & (chosen < shard.end)
    chosen, bias = chosen[mine], bias[mine]
    order = chosen.argsort()
    local_rows, bias = chosen[order] - shard.start, bias[order]
    target_pos = torch.where(owned, torch.searchsorted(local_rows, labels - shard.start), -1)
    return ActiveSet(local_rows, target_pos, size, bias if logq else None)


def global_active_classes(labels: torch.Tensor, mode: str, num_classes: int, *, graph: torch.Tensor | None = None,
                          budget: int | None = None, seed: int = 0, step: int = 0, **options) -> torch.Tensor:
    """The sorted global class ids active at ``step``: the union of every shard's ``select_active``."""
    active = select_active(labels, mode, shard_range(num_classes, 0, 1), graph=graph, budget=budget, seed=seed,
                           step=step, **options)
    return torch.arange(num_classes) if active.local_rows is None else active.local_rows
