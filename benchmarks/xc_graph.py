"""B7: class-graph build time and recall@k against C -- exact vs faiss IVF-Flat vs HNSW, one run.

    .venv/bin/python benchmarks/xc_graph.py                       # C = 10K, 100K, 1M; D = 128; k = 10
    .venv/bin/python benchmarks/xc_graph.py --sizes 10000 100000 --noise 2.0 --nprobe 32 128

Centres: C unit vectors around C/``--cluster-size`` random directions, each direction plus Gaussian
noise of norm ≈ ``--noise`` times its own (the json records which share of a class's exact
neighbours are its cluster siblings). Noise 1.0 is easy for every method; at 1.5 IVF's lists split
the clusters and its recall drops. The same centres feed every method.

Ground truth: exact search (opencook's blocked GEMM + top-k) for ``--sample`` random classes
against all C; approximate recall@k is measured on those rows. Exact over all C runs only when the
sample's own rate predicts at most ``--exact-max-seconds``; otherwise its time is extrapolated from
that measured rate (2·C²·D FLOPs, marked "extrapolated"). faiss and torch use ``--threads`` threads.
IVF and HNSW times are split into index (k-means + add, or graph insertion) and search of all C
rows; extra ``--nprobe``/``--ef-search`` values (C <= ``--sweep-max`` only) reuse the same index, so
only their search is timed.

Writes ``benchmarks/results/xc_graph.{json,md}``.
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
from _machine import command_line, git_commit, machine_info, write_results  # noqa: E402
from opencook.xc.graph import GraphConfig, exact_knn, graph_recall  # noqa: E402
from opencook.xc.graph.approx import build_index, search_index  # noqa: E402
from opencook.xc.graph.build import knn_rows  # noqa: E402


def clustered(num_classes: int, dim: int, cluster_size: int, noise: float,
              seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    mu = F.normalize(torch.randn(max(1, num_classes // cluster_size), dim, generator=g), dim=1)
    assign = torch.randint(0, mu.shape[0], (num_classes,), generator=g)
    x = mu[assign]
    x += noise / dim**0.5 * torch.randn(num_classes, dim, generator=g)
    return F.normalize(x, dim=1), assign


def one_size(c: int, noise: float, args: argparse.Namespace) -> list[dict]:
    x, assign = clustered(c, args.dim, args.cluster_size, noise, args.seed)
    k, flop = args.k, 2.0 * c * c * args.dim
    rows = torch.randperm(c, generator=torch.Generator().manual_seed(args.seed))[:args.sample].sort().values
    t0 = time.perf_counter()
    truth = exact_knn(x[rows], x, k, query_ids=rows, normalize=False).ids
    sample_s = time.perf_counter() - t0
    siblings = round(float((assign[truth] == assign[rows, None]).float().mean()), 3)
    base = {"classes": c, "dim": args.dim, "k": k, "noise": noise,
            "exact_neighbours_in_own_cluster": siblings}
    out = []

    predicted = sample_s * c / len(rows)
    if "exact" in args.methods:
        row = {**base, "method": "exact", "params": f"chunk_rows={GraphConfig.chunk_rows}"}
        if predicted <= args.exact_max_seconds:
            t0 = time.perf_counter()
            graph = knn_rows(x, 0, c, GraphConfig(k=k, method="exact"))
            seconds = time.perf_counter() - t0
            row.update(index_s=0.0, search_s=round(seconds, 2), total_s=round(seconds, 2), extrapolated=False,
                       recall=round(graph_recall(graph[rows], truth), 4))
        else:
            row.update(index_s=0.0, search_s=round(predicted, 1), total_s=round(predicted, 1),
                       extrapolated=True, recall=1.0)
        row["gflop_s"] = round(flop / row["total_s"] / 1e9, 1)
        out.append(row)
        report(row)

    db = x.numpy()
    for method, knob, values in (("ivf", "nprobe", args.nprobe), ("hnsw", "ef_search", args.ef_search)):
        if method not in args.methods:
            continue
        cfg = GraphConfig(k=k, method=method, nprobe=values[0], hnsw_ef_search=values[0], seed=args.seed)
        t0 = time.perf_counter()
        index = build_index(db, method, cfg)
        index_s = time.perf_counter() - t0
        if method == "ivf":
            nlist = cfg.resolve_nlist(c)
            params = f"nlist={nlist} train={cfg.resolve_train_size(c, nlist)}"
        else:
            params = f"M={cfg.hnsw_m} efConstruction={cfg.hnsw_ef_construction}"
        for value in values if c <= args.sweep_max else values[:1]:
            if method == "ivf":
                index.nprobe = min(value, index.nlist)
            else:
                index.hnsw.efSearch = value
            t0 = time.perf_counter()
            graph = search_index(index, db, 0, c, k).ids
            search_s = time.perf_counter() - t0
            row = {**base, "method": method, "params": f"{params} {knob}={value}",
                   "index_s": round(index_s, 2), "search_s": round(search_s, 2),
                   "total_s": round(index_s + search_s, 2), "extrapolated": False,
                   "recall": round(graph_recall(graph[rows], truth), 4),
                   "speedup_vs_exact": round(predicted / (index_s + search_s), 1)}
            out.append(row)
            report(row)
        del index
    return out


def report(row: dict) -> None:
    extra = " (extrapolated)" if row["extrapolated"] else ""
    print(f"C={row['classes']:>9,} noise={row['noise']} {row['method']:<6} {row['params']:<42} "
          f"index {row['index_s']:>8.2f} s  search {row['search_s']:>8.2f} s  "
          f"total {row['total_s']:>8.2f} s{extra}"
          f"  recall@{row['k']} {row['recall']:.4f}  load {os.getloadavg()[0]:.2f}", flush=True)


def render_md(r: dict) -> str:
    m = r["machine"]
    lines = [
        "# B7: class-graph build time and recall@k vs C (exact vs faiss IVF-Flat vs HNSW, one run)", "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['mem_gib']} GiB, Python {m['python']}; torch "
        f"{r['versions']['torch']}, faiss {r['versions']['faiss']}, {r['threads']} threads. "
        f"Commit {r['commit']}"
        f"{' (graph package with uncommitted edits)' if r['graph_package_dirty'] else ''}.", "",
        f"**Load average (1/5/15 min): start {r['loadavg_1_5_15']['start']}, "
        f"end {r['loadavg_1_5_15']['end']}** "
        "— a shared machine; a load above the core count means other jobs took CPU. "
        f"Whole run: {r['total_seconds']} s.", "",
        f"Centres: D={r['dim']}, clusters of ~{r['cluster_size']} classes, noise {r['noise']}; "
        f"recall@{r['k']} on {r['sample']} random classes against exact search. One process: "
        "build = index + search of all C rows "
        "(on N ranks each rank builds the whole index but searches C/N rows). Exact rows marked * are "
        "extrapolated from the exact search of the sample (2·C²·D FLOPs at the measured rate).", "",
        f"Command: `{r['command']}`", "",
        "| C | noise | own-cluster share | method | parameters | index s | search s | total s | recall@k "
        "| × faster than exact |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for x in r["rows"]:
        star = "*" if x["extrapolated"] else ""
        lines.append(f"| {x['classes']:,} | {x['noise']} | {x['exact_neighbours_in_own_cluster']} | "
                     f"{x['method']} | "
                     f"{x['params']} | {x['index_s']} | {x['search_s']}{star} | {x['total_s']}{star} | "
                     f"{x['recall']} | {x.get('speedup_vs_exact', '–')} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--cluster-size", type=int, default=50)
    ap.add_argument("--noise", type=float, nargs="+", default=[1.0, 1.5])
    ap.add_argument("--methods", nargs="+", default=["exact", "ivf", "hnsw"],
                    choices=["exact", "ivf", "hnsw"])
    ap.add_argument("--nprobe", type=int, nargs="+", default=[GraphConfig.nprobe, 128])
    ap.add_argument("--ef-search", type=int, nargs="+", default=[GraphConfig.hnsw_ef_search, 128])
    ap.add_argument("--sweep-max", type=int, default=100_000,
                    help="above this C only the first --nprobe / --ef-search value is searched")
    ap.add_argument("--sample", type=int, default=2000)
    ap.add_argument("--exact-max-seconds", type=float, default=300.0)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--results", type=Path, default=Path(__file__).parent / "results")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    import faiss

    load_before = [round(v, 2) for v in os.getloadavg()]
    t_start = time.perf_counter()
    rows = [row for noise in args.noise for c in args.sizes for row in one_size(c, noise, args)]
    commit, dirty = git_commit(ROOT, "src/opencook/xc/graph")
    result = {"benchmark": "xc_graph", "commit": commit, "graph_package_dirty": dirty,
              "machine": machine_info(),
              "versions": {"torch": torch.__version__, "faiss": faiss.__version__}, "threads": args.threads,
              "loadavg_1_5_15": {"start": load_before, "end": [round(v, 2) for v in os.getloadavg()]},
              "total_seconds": round(time.perf_counter() - t_start, 1), "dim": args.dim, "k": args.k,
              "cluster_size": args.cluster_size, "noise": args.noise, "sample": args.sample, "rows": rows,
              "command": command_line("xc_graph.py")}
    md = render_md(result)
    print(md)
    write_results(args.results, "xc_graph", result, md)


if __name__ == "__main__":
    main()
