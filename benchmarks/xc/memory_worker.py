"""One process of B3: peak memory of a head at one C (fresh process, so ru_maxrss is this run's)."""

import argparse
import json
import resource
import time

import torch

from opencook.xc.head import ShardedSoftmax
from opencook.xc.train.optim import RowSparseSGD

p = argparse.ArgumentParser()
p.add_argument("--mode", required=True)
p.add_argument("--classes", type=int, required=True)
p.add_argument("--dim", type=int, default=128)
p.add_argument("--batch", type=int, default=512)
p.add_argument("--budget", type=int, default=10_000)
p.add_argument("--steps", type=int, default=2)
args = p.parse_args()


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


baseline = rss_mb()  # interpreter + torch
opts = {"full": {}, "knn": {"active_budget": args.budget, "graph_k": 10, "refresh_every": 10**9, "graph_recall_sample": 0},
        "random": {"active_budget": args.budget}}[args.mode]
head = ShardedSoftmax(args.dim, args.classes, args.mode, **opts)
opt = RowSparseSGD(head.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
gen = torch.Generator().manual_seed(0)
t = time.perf_counter()
for _ in range(args.steps):  # knn builds its graph in the first step, so the build's peak is included
    emb = torch.randn(args.batch, args.dim, generator=gen, requires_grad=True)
    opt.zero_grad(set_to_none=True)
    head(emb, torch.randint(args.classes, (args.batch,), generator=gen)).backward()
    opt.step()
print(json.dumps({"mode": args.mode, "classes": args.classes, "peak_mb": rss_mb(), "baseline_mb": baseline,
                  "seconds": time.perf_counter() - t, "graph_method": head.graph_build and head.graph_build.method}))
