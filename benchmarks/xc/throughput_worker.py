"""One rank of the B2 throughput benchmark (launched by benchmarks/xc_throughput.py under torchrun).

For each mode it times (a) the head alone -- forward, backward, row-sparse optimizer step, on fixed
embeddings -- and (b) the whole step -- DDP backbone forward/backward + head + both optimizers.
KNN's graph build is timed separately and amortised over the refresh interval by the driver.
``knn_feature`` is the default selection (feature anchors through the IVF index over feature centres,
imprinting): its per-step anchor query and row re-assignment are inside the step; the index's k-means
retrain (every ``refresh_every`` steps) is timed on its own like a graph build, and ``select_s`` is the
step's selection time (head clock).
"""

import argparse
import json
import os
import time

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP

from opencook.xc.head import ShardedSoftmax
from opencook.xc.train.backbone import BackboneConfig, MLPBackbone
from opencook.xc.train.optim import RowSparseSGD

p = argparse.ArgumentParser()
p.add_argument("--classes", type=int, default=1_000_000)
p.add_argument("--dim", type=int, default=128)
p.add_argument("--batch", type=int, default=512, help="global batch")
p.add_argument("--budget", type=int, default=10_000)
p.add_argument("--graph-k", type=int, default=10)
p.add_argument("--steps", type=int, default=3)
p.add_argument("--modes", default="full,knn,random")
p.add_argument("--input-dim", type=int, default=64)
p.add_argument("--upkeep-steps", type=int, default=100,
               help="knn_upkeep: steps trained between the first build and the timed incremental update")
p.add_argument("--refresh-every", type=int, default=100, help="knn_feature: the IVF index's retrain interval")
p.add_argument("--nprobe", type=int, default=16, help="knn_feature: IVF lists probed per query")
p.add_argument("--out", required=True)
args = p.parse_args()

dist.init_process_group("gloo")
rank, world = dist.get_rank(), dist.get_world_size()
local = args.batch // world
gen = torch.Generator().manual_seed(rank)


def batch():
    return torch.randn(local, args.input_dim, generator=gen), torch.randint(args.classes, (local,), generator=gen)


def timed(fn, steps):
    fn()  # warm-up
    dist.barrier()
    t = time.perf_counter()
    for _ in range(steps):
        fn()
    dist.barrier()
    return (time.perf_counter() - t) / steps


def measure(mode: str) -> dict:
    """``knn_feature_npP``: knn_feature probing P lists (else ``--nprobe``)."""
    nprobe = int(mode.split("_np")[1]) if "_np" in mode else args.nprobe
    knn = {"graph_k": args.graph_k, "active_budget": args.budget, "refresh_every": 10**9,
           "graph_recall_sample": 0}  # recall is B7's job; time the build alone
    label = {"anchor": "label", "centres": "weights"}
    opts = {"full": {}, "knn": {**knn, "selection": label}, "random": {"active_budget": args.budget},
            # issue 15: the graph over feature centres, kept current by re-querying only the classes that moved
            "knn_upkeep": {**knn, "selection": {"anchor": "label", "centres": "features", "upkeep": "incremental",
                                                "imprint": False}},
            # the default selection: feature anchors (IVF index), feature centres, imprinting
            "knn_feature": {"graph_k": args.graph_k, "active_budget": args.budget, "refresh_every": args.refresh_every,
                            "selection": {"feature_nprobe": nprobe}}}[mode.split("_np")[0]]
    head = ShardedSoftmax(args.dim, args.classes, "knn" if mode.startswith("knn") else mode, **opts)
    head_opt = RowSparseSGD(head.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    backbone = MLPBackbone(args.input_dim, BackboneConfig(embedding_dim=args.dim))
    model = DDP(backbone)
    back_opt = RowSparseSGD(backbone.parameters(), lr=0.1, momentum=0.9)
    graph_s = upkeep_s = None
    if mode in ("knn", "knn_upkeep"):
        dist.barrier()
        t = time.perf_counter()
        head.refresh_graph()
        graph_s = time.perf_counter() - t
    fixed_emb, fixed_y = torch.randn(local, args.dim, generator=gen), torch.randint(args.classes, (local,), generator=gen)

    def head_only():
        e = fixed_emb.clone().requires_grad_()
        head_opt.zero_grad(set_to_none=True)
        head(e, fixed_y).backward()
        head_opt.step()

    def whole_step():
        x, y = batch()
        back_opt.zero_grad(set_to_none=True)
        head_opt.zero_grad(set_to_none=True)
        head(model(x), y).backward()
        back_opt.step()
        head_opt.step()

    head_s = timed(head_only, args.steps)
    head.clock.reset()
    step_s = timed(whole_step, args.steps)
    select_s = head.clock.selection_s / (args.steps + 1)
    if mode.startswith("knn_feature"):  # the index's retrain + refill, as every refresh_every steps
        index, source = head.feature_index, head.centres.values
        index.trained_step = -(10**9)
        dist.barrier()
        t = time.perf_counter()
        index.sync(source, None, head.step, group=head._selection_group())
        graph_s = time.perf_counter() - t
    if mode == "knn_upkeep":  # the centres of every class trained since the build moved: update by those
        for _ in range(args.upkeep_steps):
            whole_step()
        dist.barrier()
        t = time.perf_counter()
        head.refresh_graph()
        upkeep_s = time.perf_counter() - t
    return {"head_s": head_s, "step_s": step_s, "graph_s": graph_s, "upkeep_s": upkeep_s, "select_s": select_s,
            "updated": head.graph_build and head.graph_build.updated,
            "graph_method": "ivf k-means" if mode.startswith("knn_feature") else head.graph_build and head.graph_build.method,
            "active": head.last.global_size}


results = {mode: measure(mode) for mode in args.modes.split(",")}
with open(os.path.join(args.out, f"rank{rank}.json"), "w") as f:
    json.dump(results, f)
dist.destroy_process_group()
