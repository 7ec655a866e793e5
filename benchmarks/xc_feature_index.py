"""Feature anchors at C = 1M: the exact scan of a rank's shard vs the IVF index (``head/feature_index.py``).

    .venv/bin/python benchmarks/xc_feature_index.py                      # C = 100K, 300K, 1M; D = 128; 2 ranks
    .venv/bin/python benchmarks/xc_feature_index.py --classes 100000 --repeats 2

One process stands in for rank 0 of ``--ranks``: it holds that rank's shard of C clustered unit rows (groups
of 16, like the synthetic task) and queries it with a gathered batch of ``--batch`` embeddings drawn near
random classes, asking each sample's ``k`` nearest classes -- what ``_feature_anchors`` does every step.
Exact: ``sharded_topk`` (the B x C/N x D GEMM in row chunks). IVF: the index's step -- re-assign the rows
the previous step moved (the step's active rows on this rank: budget / ranks) and search ``nprobe`` of
``nlist`` = √C lists -- plus its k-means retrain, amortised over ``--retrain-every`` steps. recall@k: IVF's
anchors vs exact's. Each rank's merge of the per-rank top-k (one all-gather of B x k) is the same for
both and not timed. One thread.

Writes ``benchmarks/results/xc_feature_index.{json,md}``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(ROOT / "src"))
from _machine import command_line, git_commit, machine_info, write_results  # noqa: E402
from opencook.xc.head.feature_index import FeatureIndex  # noqa: E402
from opencook.xc.head.topk import sharded_topk  # noqa: E402
from opencook.xc.sharding import shard_range  # noqa: E402


def _rows(lo: int, hi: int, dim: int, group: int, seed: int) -> torch.Tensor:
    """Unit rows of classes [lo, hi): a group direction (shared by ``group`` classes) plus the class's own."""
    g = torch.Generator().manual_seed(seed)
    groups = torch.randn((hi - 1) // group - lo // group + 1, dim, generator=g)
    own = torch.randn(hi - lo, dim, generator=g)
    ids = torch.arange(lo, hi) // group - lo // group
    return F.normalize(0.8 * F.normalize(groups, dim=1)[ids] + 0.6 * F.normalize(own, dim=1), dim=1)


def _best(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def measure(classes: int, args) -> dict:
    shard = shard_range(classes, 0, args.ranks)
    rows = _rows(shard.start, shard.end, args.dim, 16, 0)
    g = torch.Generator().manual_seed(1)
    near = torch.randint(shard.size, (args.batch,), generator=g)
    queries = F.normalize(rows[near] + 0.5 * torch.randn(args.batch, args.dim, generator=g) / args.dim ** 0.5, dim=1)
    exact_ids = sharded_topk(queries, rows, shard.start, args.k, cosine=True)
    exact_s = _best(lambda: sharded_topk(queries, rows, shard.start, args.k, cosine=True), args.repeats)
    index = FeatureIndex(shard, nlist=None, nprobe=args.nprobe, retrain_every=args.retrain_every, seed=0,
                         normalize=True)
    t = time.perf_counter()
    index.sync(rows, None, 0)
    build_s = time.perf_counter() - t
    moved = torch.randperm(shard.size, generator=g)[:args.budget // args.ranks]
    sync_s = _best(lambda: index.sync(rows, moved, 1), args.repeats)
    search_s = _best(lambda: index.search(queries, args.k), args.repeats)
    _, ivf_ids = index.search(queries, args.k)
    recall = sum(len(set(a.tolist()) & set(b.tolist())) for a, b in zip(ivf_ids, exact_ids, strict=True))
    step_s = sync_s + search_s + build_s / args.retrain_every
    return {"classes": classes, "shard_rows": shard.size, "nlist": index.nlist, "nprobe": args.nprobe,
            "exact_s": exact_s, "ivf_build_s": build_s, "ivf_sync_s": sync_s, "ivf_search_s": search_s,
            "ivf_step_s": step_s, "speedup": exact_s / step_s, "recall": recall / exact_ids.numel(),
            "moved_rows": int(moved.numel())}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--classes", default="100000,300000,1000000")
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--batch", type=int, default=512)
    p.add_argument("--ranks", type=int, default=2)
    p.add_argument("--k", type=int, default=3)
    p.add_argument("--nprobe", type=int, default=16)
    p.add_argument("--budget", type=int, default=10_000, help="active classes per step (all ranks)")
    p.add_argument("--retrain-every", type=int, default=100)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--name", default="xc_feature_index")
    args = p.parse_args()
    torch.set_num_threads(1)
    rows = []
    for c in (int(x) for x in args.classes.split(",")):
        r = measure(c, args)
        rows.append(r)
        print(f"C={c:,}: exact {r['exact_s']:.3f} s, ivf {r['ivf_step_s']:.4f} s/step "
              f"(sync {r['ivf_sync_s']:.4f}, search {r['ivf_search_s']:.4f}, build {r['ivf_build_s']:.1f} s "
              f"/ {args.retrain_every}) = {r['speedup']:.0f}x, recall@{args.k} {r['recall']:.3f}", flush=True)
    commit, dirty = git_commit(ROOT, "src")
    result = {"benchmark": "feature anchors: exact scan vs IVF index", "machine": machine_info(),
              "load_avg": os.getloadavg(), "commit": commit, "dirty": dirty,
              "command": command_line("xc_feature_index.py"), "args": vars(args), "rows": rows}
    md = markdown(result)
    print(md)
    write_results(ROOT / "benchmarks" / "results", args.name, result, md)


def markdown(result: dict) -> str:
    a = result["args"]
    lines = ["# Feature anchors: exact scan of the shard vs the IVF index, per step", "",
             f"`{result['command']}` at commit {result['commit']}{' (dirty)' if result['dirty'] else ''}; "
             f"{result['machine']['cpu']}, one thread, shared machine (load average {result['load_avg'][0]:.1f}). "
             f"Rank 0 of {a['ranks']}, D = {a['dim']}, gathered batch {a['batch']}, k = {a['k']}; IVF: nprobe "
             f"{a['nprobe']} of √C lists, {a['budget'] // a['ranks']:,} moved rows re-assigned per step, k-means "
             f"retrain amortised over {a['retrain_every']} steps; recall@k of IVF's anchors against exact's. "
             "Clustered unit rows (groups of 16).", "",
             "| C | shard rows | exact s/step | IVF s/step (sync + search + build/R) | IVF build s | speed-up | recall@k |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in result["rows"]:
        lines.append(f"| {r['classes']:,} | {r['shard_rows']:,} | {r['exact_s']:.3f} | {r['ivf_step_s']:.4f} "
                     f"({r['ivf_sync_s']:.4f} + {r['ivf_search_s']:.4f} + {r['ivf_build_s'] / a['retrain_every']:.4f}) "
                     f"| {r['ivf_build_s']:.1f} | {r['speedup']:.0f}x | {r['recall']:.3f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
