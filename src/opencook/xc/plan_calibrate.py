"""Calibration for ``opencook xc plan``: measure this machine's rates, and check the memory model
against the measured peaks in ``benchmarks/results/xc_memory.json``."""

from __future__ import annotations

import json
import os
import socket
import tempfile
import time
from dataclasses import asdict, fields
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from .plan_model import Calibration, PlanInputs, memory, rebuild_memory


def _best(fn, reps: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def gemm_flops(batch: int = 512, dim: int = 128, cols: int = 8192, reps: int = 5) -> float:
    """FLOP/s of the head's forward GEMM [B, D] x [D, C/N] in float32."""
    x, w = torch.randn(batch, dim), torch.randn(cols, dim)
    return 2 * batch * dim * cols / _best(lambda: x @ w.T, reps)


def _collective_worker(rank: int, port: int, nbytes: int, out: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    big, tiny = torch.ones(nbytes // 4), torch.ones(1)
    parts = [torch.empty_like(big) for _ in range(2)]
    t_big = _best(lambda: dist.all_reduce(big), 5)
    t_tiny = _best(lambda: dist.all_reduce(tiny), 20)
    t_gather = _best(lambda: dist.all_gather(parts, big), 5)
    if rank == 0:
        Path(out).write_text(json.dumps({"all_reduce_s": t_big, "tiny_s": t_tiny, "all_gather_s": t_gather}))
    dist.destroy_process_group()


def collective_rates(nbytes: int = 4 * 2**20) -> tuple[float, float]:
    """(bus bandwidth bytes/s, per-hop latency s) from a 2-rank gloo all-reduce, inverted through the
    ring formula t = 2(N-1)/N * bytes / bw + 2(N-1) * latency with N = 2."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "rates.json")
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        mp.start_processes(_collective_worker, args=(port, nbytes, out), nprocs=2, start_method="spawn")
        r = json.loads(Path(out).read_text())
    latency = r["tiny_s"] / 2
    return nbytes / max(r["all_reduce_s"] - 2 * latency, 1e-9), latency


def ivf_rates(classes: int = 20_000, dim: int = 128, k: int = 10) -> tuple[float, float]:
    """(train+add vectors/s, search queries/s) of the faiss IVF-Flat the graph builder uses."""
    from .graph.approx import build_index, search_index
    from .graph.config import GraphConfig

    rng = np.random.default_rng(0)
    db = rng.standard_normal((classes, dim)).astype(np.float32)
    db /= np.linalg.norm(db, axis=1, keepdims=True)
    cfg = GraphConfig(k=k)
    t = time.perf_counter()
    index = build_index(db, "ivf", cfg)
    t_build = time.perf_counter() - t
    t = time.perf_counter()
    search_index(index, db, 0, classes, k)
    return classes / t_build, classes / (time.perf_counter() - t)


def calibrate(dim: int = 128) -> Calibration:
    """Measure all rates on this machine (about 10-20 s on two CPU cores)."""
    flops = gemm_flops(dim=dim)
    bw, lat = collective_rates()
    add, search = ivf_rates(dim=dim)
    return Calibration(gemm_flops=flops, gemm_flops_fp32=flops, bus_bw=bw, latency_s=lat, ivf_add_vps=add,
                       ivf_search_qps=search, ivf_calib_classes=20_000,
                       source=f"measured on {socket.gethostname()} with {torch.get_num_threads()} thread(s): "
                              "float32 GEMM, 2-rank gloo, faiss IVF-Flat")


def save_calibration(cal: Calibration, path: Path) -> None:
    path.write_text(json.dumps(asdict(cal), indent=1) + "\n")


def load_calibration(path: Path) -> Calibration:
    try:
        raw = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ValueError(f"--calibration {path}: cannot read it as JSON ({e}); write one with --calibrate") from e
    known = {f.name for f in fields(Calibration)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ValueError(f"--calibration {path}: unknown keys {unknown}; expected some of {sorted(known)}")
    return Calibration(**raw)


def validate_memory(results: Path) -> dict:
    """Predicted vs measured head memory for every run in an ``xc_memory.json``.

    The formula has no per-point freedom; ONE constant (the process's allocator/runtime overhead,
    the same for every mode and C) is fitted as the mean residual over all runs.
    """
    r = json.loads(Path(results).read_text())
    rows = []
    for run in r["runs"]:
        c = run["classes"]
        p = PlanInputs(classes=c, dim=r["dim"], gpus=1, batch_per_gpu=r["batch"], active=min(1.0, r["budget"] / c),
                       dtype="fp32", optimizer="sgd", graph_k=10)
        pred = sum(memory(p, run["mode"]).values()) + (rebuild_memory(p) if run["mode"] == "knn" else 0)
        rows.append({"mode": run["mode"], "classes": c, "formula_mb": pred / 2**20, "measured_mb": run["head_mb"]})
    constant = sum(x["measured_mb"] - x["formula_mb"] for x in rows) / len(rows)
    for x in rows:
        x["predicted_mb"] = x["formula_mb"] + constant
        x["rel_error"] = (x["predicted_mb"] - x["measured_mb"]) / x["measured_mb"]
    return {"constant_mb": constant, "runs": rows}
