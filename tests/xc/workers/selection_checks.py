"""Per-shard selection and the coverage gauge on a real group, against one process doing it all.

Part 1: ``select_active`` with the one count all-reduce gives each rank exactly its part of what one
process selects for the whole class range (and what a rank gets counting every candidate itself).
Part 2: heads with each selection strategy and the gauge on, over a few steps: loss, active-set size
and coverage per step, to be compared with the one-process head in the test.
"""

import torch
import torch.distributed as dist
from _common import init, report

from opencook.xc.head.active_set import global_active_classes, select_active
from opencook.xc.head.softmax import ShardedSoftmax
from opencook.xc.sharding import shard_range

rank, world = init()
C, B_LOCAL, D = 150_000, 24, 8  # > 2 blocks of 65,536 classes: a block straddles the two shards
shard = shard_range(C, rank, world)
gen = torch.Generator().manual_seed(7)
labels = torch.randint(C, (B_LOCAL * world,), generator=gen)
graph = torch.randint(C, (C, 6), generator=gen)
feats = torch.randint(C, (B_LOCAL * world, 4), generator=gen)
cases = {"labels+graph": {"graph": graph}, "pad": {"graph": graph, "budget": 2000},
         "share": {"graph": graph, "budget": 300, "uniform_share": 0.3, "logq": True},
         "anchors": {"graph": graph, "anchors": [feats], "budget": 500}, "random": {"budget": 777}}


def reduce(t):
    dist.all_reduce(t)
    return t


part1 = {}
for name, opts in cases.items():
    mode = "random" if name == "random" else "knn"
    a = select_active(labels, mode, shard, seed=3, step=11, reduce=reduce, **opts)
    b = select_active(labels, mode, shard, seed=3, step=11, **opts)
    whole = global_active_classes(labels, mode, C, seed=3, step=11, **opts)
    part1[name] = {"rows": (a.local_rows + shard.start).tolist(), "counted_here": (b.local_rows + shard.start).tolist(),
                   "whole": whole.tolist(), "size": a.global_size,
                   "bias": None if a.logit_bias is None else a.logit_bias.tolist()}

SMALL_C = 500
STRATEGIES = {"label": {"anchor": "label", "centres": "weights"}, "default": {},
              "feature": {"anchor": "feature", "centres": "weights"},
              "mix_share_logq": {"anchor": "mix", "uniform_share": 0.25, "logq": True},
              "centres_incremental": {"anchor": "label", "centres": "features", "upkeep": "incremental"},
              "warmup_full": {"warmup_steps": 1, "warmup": "full"},
              "feature_ivf": {"anchor": "feature", "feature_index": "ivf", "feature_nlist": 8, "feature_nprobe": 2},
              "centres_imprint_ivf": {"anchor": "feature", "centres": "features", "imprint": True,
                                      "feature_index": "ivf", "feature_nlist": 8, "feature_nprobe": 3}}
part2 = {}
for name, sel in STRATEGIES.items():
    head = ShardedSoftmax(D, SMALL_C, "knn", active_budget=120, graph_k=4, refresh_every=2, coverage_every=1,
                          coverage_rows=16, selection=sel, init_std=1.0)
    steps = []
    for step in range(3):
        g = torch.Generator().manual_seed(100 + step)
        emb_all = torch.randn(B_LOCAL * world, D, generator=g)
        y_all = torch.randint(SMALL_C, (B_LOCAL * world,), generator=g)
        mine = slice(rank * B_LOCAL, (rank + 1) * B_LOCAL)
        loss = head(emb_all[mine].clone().requires_grad_(), y_all[mine])
        steps.append({"loss": loss.item(), "active": head.last.global_size, "coverage": head.last_coverage})
    part2[name] = steps

report({"part1": part1, "part2": part2, "shard": [shard.start, shard.end]})
