#!/usr/bin/env bash
# Issue 15 on one GPU: full softmax vs KNN softmax samples/s at C = 1M and 10M, D = 128, the KNN graph built
# by exact blocked GEMM top-k on the GPU (no faiss), its build amortised over 100 and 1000 steps.
#
#   bash benchmarks/gpu/xc_knn.sh                               # from the repo root; needs python3 with torch
#   XC_KNN_CLASSES=20000,50000 XC_KNN_STEPS=2 bash benchmarks/gpu/xc_knn.sh   # tiny, runs on CPU too
#
# Env: XC_KNN_CLASSES (comma list, default 1000000,10000000), XC_KNN_BATCH (default 1024), XC_KNN_STEPS
# (timed steps, default 10), PYTHON (default python3). Writes xc_knn_gpu.{json,md} under $OUT if set, else
# benchmarks/results/. Each class count is written as soon as it is measured.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
exec "${PYTHON:-python3}" - "$@" <<'PY'
import json, os, platform, subprocess, time
from pathlib import Path

import torch
import torch.nn.functional as F

from opencook.xc.graph.build import GraphBuild
from opencook.xc.graph.exact import exact_knn
from opencook.xc.head.softmax import ShardedSoftmax
from opencook.xc.train.optim import RowSparseSGD

classes = [int(c) for c in os.environ.get("XC_KNN_CLASSES", "1000000,10000000").split(",")]
batch, steps, dim, k, in_dim = int(os.environ.get("XC_KNN_BATCH", 1024)), int(os.environ.get("XC_KNN_STEPS", 10)), 128, 10, 64
dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
torch.backends.cuda.matmul.allow_tf32 = True  # the graph build's GEMMs; the heads stay fp32
out_dir = Path(os.environ.get("OUT") or "benchmarks/results")
out_dir.mkdir(parents=True, exist_ok=True)


def sync():
    if dev.type == "cuda":
        torch.cuda.synchronize()


def backbone():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(in_dim, 256), torch.nn.ReLU(), torch.nn.Linear(256, dim)).to(dev)


def gpu_graph(head):
    """Exact cosine KNN over W's rows: blocked GEMM + running top-k on the device."""
    sync(); t = time.perf_counter()
    w = F.normalize(head.weight.detach().float(), dim=1)
    ids = exact_knn(w, w, k, normalize=False, chunk_rows=8192, chunk_cols=262144).ids
    sync(); seconds = time.perf_counter() - t
    head.graph_build = GraphBuild(ids.cpu(), "exact-gpu", head.step, seconds, 1.0)
    return seconds


def measure(c, mode):
    opts = {"full": {}, "knn": {"active_budget": c // 100, "graph_k": k, "refresh_every": 10**9}}[mode]
    head = ShardedSoftmax(dim, c, mode, device=dev, **opts)
    model = backbone()
    opt_h = RowSparseSGD(head.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    opt_b = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    graph_s = gpu_graph(head) if mode == "knn" else None
    gen = torch.Generator(device=dev).manual_seed(1)

    def step():
        x = torch.randn(batch, in_dim, device=dev, generator=gen)
        y = torch.randint(c, (batch,), device=dev, generator=gen)
        opt_b.zero_grad(set_to_none=True); opt_h.zero_grad(set_to_none=True)
        head(model(x), y).backward()
        opt_b.step(); opt_h.step()

    step(); step(); sync()
    t = time.perf_counter()
    for _ in range(steps):
        step()
    sync()
    step_s = (time.perf_counter() - t) / steps
    peak = torch.cuda.max_memory_allocated() / 2**30 if dev.type == "cuda" else None
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    return {"step_s": step_s, "samples_per_s": batch / step_s, "graph_build_s": graph_s,
            "active": head.last.global_size, "peak_gib": peak}


def commit():
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "unknown"


name = torch.cuda.get_device_name(0) if dev.type == "cuda" else platform.processor() or "cpu"
result = {"benchmark": "issue 15 GPU: full vs knn samples/s", "device": name, "torch": torch.__version__,
          "commit": commit(), "dim": dim, "batch": batch, "graph_k": k, "steps_timed": steps, "sizes": {}}
lines = [f"# Full vs KNN softmax on one GPU ({name}), D={dim}, batch {batch}, k={k}, budget 1% of C", "",
         f"`bash benchmarks/gpu/xc_knn.sh` at commit {result['commit']}; torch {torch.__version__}; graph: exact "
         "blocked GEMM top-k on the device (TF32), amortised over the refresh interval.", "",
         "| C | mode | active | step ms | samples/s | graph build | x full (step) | x full, rebuild /100 | x full, rebuild /1000 | peak GiB |",
         "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
for c in classes:
    rows = {}
    for mode in ("full", "knn"):
        try:
            rows[mode] = measure(c, mode)
        except torch.OutOfMemoryError as e:  # full softmax's logits may not fit: say so, keep going
            rows[mode] = {"error": f"out of memory: {str(e).splitlines()[0]}"}
        if dev.type == "cuda":
            torch.cuda.empty_cache()
        print(c, mode, rows[mode], flush=True)
    full = rows["full"]
    for mode, r in rows.items():
        if "error" in r:
            lines.append(f"| {c:,} | {mode} | — | — | — | — | — | — | — | {r['error']} |")
            continue
        amort = {n: batch / (r["step_s"] + (r["graph_build_s"] or 0) / n) for n in (100, 1000)}
        r["amortised_samples_per_s"] = amort
        x = (lambda v: f"{v / full['samples_per_s']:.1f}") if "error" not in full else (lambda v: "—")
        graph = f"{r['graph_build_s']:.1f} s" if r["graph_build_s"] else "—"
        peak = f"{r['peak_gib']:.1f}" if r["peak_gib"] is not None else "—"
        lines.append(f"| {c:,} | {mode} | {r['active']:,} | {1000 * r['step_s']:.1f} | {r['samples_per_s']:,.0f} | "
                     f"{graph} | {x(r['samples_per_s'])} | {x(amort[100])} | {x(amort[1000])} | {peak} |")
    result["sizes"][str(c)] = rows
    (out_dir / "xc_knn_gpu.json").write_text(json.dumps(result, indent=1) + "\n")
    (out_dir / "xc_knn_gpu.md").write_text("\n".join(lines) + "\n")
print("\n".join(lines))
PY
