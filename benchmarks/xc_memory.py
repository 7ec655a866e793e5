"""B3: peak memory of the head against C for full, KNN and random softmax; the largest C in 20 GB.

    .venv/bin/python benchmarks/xc_memory.py                       # C = 250K, 500K, 1M, 2M; D=128, batch 512
    .venv/bin/python benchmarks/xc_memory.py --classes 100000 1000000 --budget-gb 20

Each (mode, C) runs in a fresh single process (one rank holding all C classes: the per-rank figure
for a shard of that size) for ``--steps`` training steps with momentum SGD; KNN builds its graph
on its first step so the build's transient memory is inside the peak. Peak = ru_maxrss minus the process's
RSS after importing torch. The frontier is a least-squares line ``peak = a + b*C`` over the measured
points, solved for ``--budget-gb``; it is marked as a fit, not a measurement.

Writes ``benchmarks/results/xc_memory.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).parent))
from _machine import command_line, git_commit, machine_info, write_results  # noqa: E402


def fit(points: list[tuple[int, float]]) -> tuple[float, float]:
    n = len(points)
    mx = sum(c for c, _ in points) / n
    my = sum(m for _, m in points) / n
    b = sum((c - mx) * (m - my) for c, m in points) / max(sum((c - mx) ** 2 for c, _ in points), 1e-9)
    return my - b * mx, b


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--classes", type=int, nargs="+", default=[250_000, 500_000, 1_000_000, 2_000_000])
    p.add_argument("--modes", default="full,knn,random")
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--batch", type=int, default=512)
    p.add_argument("--budget", type=int, default=10_000)
    p.add_argument("--budget-gb", type=float, default=20.0)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "PYTHONPATH": str(ROOT / "src")}
    runs = []
    for mode in args.modes.split(","):
        for c in args.classes:
            cmd = [sys.executable, str(Path(__file__).parent / "xc" / "memory_worker.py"), "--mode", mode,
                   "--classes", str(c), "--dim", str(args.dim), "--batch", str(args.batch), "--budget", str(args.budget)]
            out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
            r = json.loads(out.strip().splitlines()[-1])
            r["head_mb"] = r["peak_mb"] - r["baseline_mb"]
            runs.append(r)
            print(f"{mode:>6} C={c:>10,}: {r['head_mb']:8.0f} MB above baseline ({r['seconds']:.1f} s)", flush=True)
    frontier = {}
    for mode in args.modes.split(","):
        a, b = fit([(r["classes"], r["head_mb"]) for r in runs if r["mode"] == mode])
        frontier[mode] = {"mb_fixed": a, "bytes_per_class": b * 2**20,
                          "largest_c_in_budget": int((args.budget_gb * 1024 - a) / b) if b > 0 else None}
    commit, dirty = git_commit(ROOT, "src")
    result = {"benchmark": "B3 peak memory vs C", "machine": machine_info(), "load_avg": os.getloadavg(),
              "commit": commit, "dirty": dirty, "command": command_line("xc_memory.py"), "dim": args.dim,
              "batch": args.batch, "budget": args.budget, "budget_gb": args.budget_gb, "runs": runs, "frontier": frontier}
    cs = args.classes
    lines = [f"# B3: peak head memory (MB) vs classes, one rank holding all C, D={args.dim}, batch {args.batch}", "",
             f"`{result['command']}` at commit {commit}; {result['machine']['cpu']}. Memory above the process's "
             "RSS after importing torch; KNN/random active budget "
             f"{args.budget:,}; SGD with momentum; KNN includes a graph rebuild.", "",
             "| mode | " + " | ".join(f"C={c:,}" for c in cs) + f" | bytes/class (fit) | largest C in {args.budget_gb:g} GB (fit) |",
             "| --- | " + " | ".join("---" for _ in cs) + " | --- | --- |"]
    for mode, f in frontier.items():
        cells = [f"{r['head_mb']:.0f}" for c in cs for r in runs if r["mode"] == mode and r["classes"] == c]
        largest = f"{f['largest_c_in_budget']:,}" if f["largest_c_in_budget"] else "—"
        lines.append(f"| {mode} | " + " | ".join(cells) + f" | {f['bytes_per_class']:.0f} | {largest} |")
    md = "\n".join(lines) + "\n"
    print(md)
    write_results(ROOT / "benchmarks" / "results", "xc_memory", result, md)


if __name__ == "__main__":
    main()
