"""Clustering speed: connected components of N candidate pairs on one core (issue 3: 10M pairs < 1 min).

Compares opencook's vectorised union-find with scipy's compiled connected_components when scipy is
importable (it is not a project dependency), on the same random and skewed edge lists.

    .venv/bin/python benchmarks/components_speed.py [--edges 10000000 --vertices 5000000]
    PYTHONPATH=src .venv-peers/bin/python benchmarks/components_speed.py   # with scipy beside it
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _machine import machine_info  # noqa: E402
from opencook.data.dedup.minhash.components import connected_components  # noqa: E402


def edges(kind: str, n_vertices: int, n_edges: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    u = rng.integers(0, n_vertices, n_edges)
    if kind == "random":
        v = rng.integers(0, n_vertices, n_edges)
    else:  # most edges point at a few low ranks, as when many files copy a popular one
        v = np.minimum(rng.zipf(1.5, n_edges) - 1, n_vertices - 1)
    return u, v


def scipy_components(n: int, u: np.ndarray, v: np.ndarray) -> np.ndarray | None:
    try:
        from scipy.sparse import coo_matrix
        from scipy.sparse.csgraph import connected_components as cc
    except ImportError:
        return None
    graph = coo_matrix((np.ones(len(u), dtype=np.int8), (u, v)), shape=(n, n)).tocsr()
    return cc(graph, directed=False)[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--edges", type=int, default=10_000_000)
    ap.add_argument("--vertices", type=int, default=5_000_000)
    ap.add_argument("--results", type=Path, default=Path(__file__).parent / "results")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    load_start = os.getloadavg()[0]
    rows = []
    for kind in ("random", "skewed"):
        u, v = edges(kind, args.vertices, args.edges, rng)
        t0 = time.process_time()
        labels = connected_components(args.vertices, u, v)
        ours = time.process_time() - t0
        t0 = time.process_time()
        ref = scipy_components(args.vertices, u, v)
        theirs = time.process_time() - t0 if ref is not None else None
        same = None
        if ref is not None:  # same partition: a bijection between label sets
            pairs = np.unique(np.stack([labels, ref]), axis=1)
            same = pairs.shape[1] == len(np.unique(labels)) == len(np.unique(ref))
        rows.append({"graph": kind, "edges": args.edges, "vertices": args.vertices,
                     "opencook_cpu_s": round(ours, 2), "scipy_cpu_s": None if theirs is None else round(theirs, 2),
                     "components": int(len(np.unique(labels))), "same_partition_as_scipy": same})
        print(rows[-1])
    result = {"benchmark": "components_speed", "machine": machine_info(), "runs": rows,
              "load_average_start_end": [round(load_start, 2), round(os.getloadavg()[0], 2)],
              "command": f"{sys.executable} benchmarks/components_speed.py " + " ".join(sys.argv[1:])}
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "components_speed.json").write_text(json.dumps(result, indent=1))
    md = ["# Connected components speed (one core, CPU seconds)", "",
          f"Machine: {result['machine']['cpu']}, {result['machine']['cores']} cores. "
          f"Load average at start/end: {result['load_average_start_end']}.", "",
          "| graph | edges | vertices | opencook s | scipy s | components | same partition |",
          "| --- | --- | --- | --- | --- | --- | --- |"]
    md += [f"| {r['graph']} | {r['edges']:,} | {r['vertices']:,} | {r['opencook_cpu_s']} | {r['scipy_cpu_s']} | "
           f"{r['components']:,} | {r['same_partition_as_scipy']} |" for r in rows]
    md += ["", f"Command: `{result['command']}`", ""]
    (args.results / "components_speed.md").write_text("\n".join(md))


if __name__ == "__main__":
    main()
