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

from opencook.xc.plan.model import (
    DENSE_OPT_PASSES,
    ROW_GATHER_PASSES,
    ROW_OPT_PASSES,
    ROW_TABLE_LARGE,
    ROW_TABLE_SMALL,
    SOFTMAX_PASSES,
    Calibration,
    PlanInputs,
    memory,
    rebuild_memory,
)


def _best(fn, reps: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def gemm_flops(batch: int = 512, dim: int = 128, cols: int = 8192, reps: int = 5) -> float:
    """FLOP/s of the head's three float32 GEMMs: logits [B, D] x [D, cols], and backward dW = G^T X and
    dX = G W (6*B*D*cols FLOPs, as ``step_time`` counts them)."""
    x, w, g = torch.randn(batch, dim), torch.randn(cols, dim), torch.randn(batch, cols)

    def three():
        x @ w.T
        g.T @ x
        g @ w

    return 6 * batch * dim * cols / _best(three, reps)


def dense_update_bw(numel: int = 16 * 2**20, reps: int = 5) -> float:
    """Bytes/s of the dense momentum-SGD update in ``optim.py`` (weight decay on) over a 64 MiB float32
    parameter, inverted through the ``DENSE_OPT_PASSES['sgd']`` passes the model charges for it."""
    from opencook.xc.train.optim import RowSparseSGD

    w = torch.nn.Parameter(torch.zeros(numel))
    opt = RowSparseSGD([w], lr=0.1, momentum=0.9, weight_decay=5e-4)
    w.grad = torch.ones(numel)
    return DENSE_OPT_PASSES["sgd"] * numel * 4 / _best(opt.step, reps)


def softmax_bw(batch: int = 512, cols: int = 65536, reps: int = 5) -> float:
    """Bytes/s of ``sharded_ce.py``'s elementwise chain on a [B, cols] float32 buffer (row max, ``sub_``,
    ``exp_``, exp-sum, ``div_``, backward ``mul_``), counted as ``SOFTMAX_PASSES`` passes."""
    logits = torch.randn(batch, cols)

    def chain():
        row_max = logits.max(dim=1).values
        logits.sub_(row_max.unsqueeze(1)).exp_()
        logits.div_(logits.sum(dim=1).unsqueeze(1)).mul_(1.0)

    return SOFTMAX_PASSES * batch * cols * 4 / _best(chain, reps)


def row_bw(rows: int = 16384, dim: int = 128, table_bytes: int = ROW_TABLE_SMALL, reps: int = 3) -> float:
    """Bytes/s of the active-row path: ``F.embedding(..., sparse=True)`` of ``rows`` random rows of a
    [table, D] weight, its sparse backward and the lazy momentum-SGD step, counted as
    ``ROW_GATHER_PASSES + ROW_OPT_PASSES['sgd']`` passes over [rows, D] float32 (the ``fresh_bw`` share of
    its temporaries is below the mmap threshold here, so not double-counted)."""
    import torch.nn.functional as F

    from opencook.xc.train.optim import RowSparseSGD

    table = max(4 * rows, table_bytes // (4 * dim))
    w = torch.nn.Parameter(torch.full((table, dim), 0.5))
    opt = RowSparseSGD([w], lr=0.1, momentum=0.9, weight_decay=5e-4)
    opt.state[w]["momentum_buffer"] = torch.full_like(w, 0.0)  # written: no page faults inside the timing
    # fresh random rows every call, as every training step draws new ones (repeated rows would sit in cache)
    draws = iter([torch.randint(table, (rows + rows // 4,)).unique()[:rows] for _ in range(reps + 1)])
    grad_out = torch.ones(rows, dim)

    def step():
        F.embedding(next(draws), w, sparse=True).backward(grad_out)
        opt.step()
        w.grad = None

    return (ROW_GATHER_PASSES + ROW_OPT_PASSES["sgd"]) * rows * dim * 4 / _best(step, reps)


def fresh_bw(numel: int = 32 * 2**20, reps: int = 3) -> float:
    """Bytes/s of allocating and filling a fresh 128 MiB float32 buffer (above glibc's mmap threshold, so
    every allocation is a new mapping): the page-fault cost of a step's large temporaries."""
    return numel * 4 / _best(lambda: torch.empty(numel).fill_(1.0), reps)


def select_rate(active: int = 65536, reps: int = 3) -> float:
    """A*log2(A)/s of ``active_set.global_active_classes`` filling a batch's labels up to ``active`` classes
    (random fill and sort: the part of the KNN selection that grows with A)."""
    from opencook.xc.head.active_set import global_active_classes

    classes = 100 * active
    labels = torch.randint(classes, (512,))
    t = _best(lambda: global_active_classes(labels, "random", classes, graph=None, budget=active, seed=0, step=1),
              reps)
    return float(active * np.log2(active) / t)


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
    from opencook.xc.graph.approx import build_index, search_index
    from opencook.xc.graph.config import GraphConfig

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


def step_rates(dim: int = 128) -> dict[str, float]:
    """The host compute rates ``step_time`` uses (about 15 s, 2 GiB): the ``Calibration`` fields they fill."""
    flops = gemm_flops(dim=dim)
    return {"gemm_flops": flops, "gemm_flops_fp32": flops, "mem_bw": dense_update_bw(), "softmax_bw": softmax_bw(),
            "row_bw": row_bw(dim=dim), "row_bw_large": row_bw(dim=dim, table_bytes=ROW_TABLE_LARGE), "select_rate": select_rate(), "fresh_bw": fresh_bw()}


def calibrate(dim: int = 128) -> Calibration:
    """Measure all rates on this machine (about 30 s and 4 GiB on two CPU cores); ``dim`` is the head's D."""
    bw, lat = collective_rates()
    add, search = ivf_rates(dim=dim)
    return Calibration(**step_rates(dim), bus_bw=bw, latency_s=lat, ivf_add_vps=add, ivf_search_qps=search,
                       ivf_calib_classes=20_000,
                       source=f"measured on {socket.gethostname()} with {torch.get_num_threads()} thread(s): "
                              "float32 GEMMs, dense/row-sparse SGD, softmax chain, active-set selection, fresh buffers, "
                              "2-rank gloo, faiss IVF-Flat")


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
