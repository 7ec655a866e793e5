"""The cost model behind ``opencook xc plan``: memory, step time and traffic of one training step.

Every figure is a closed formula over the sizes (C, D, N, B) and three measured rates (GEMM FLOP/s, bus
bandwidth + per-hop latency, faiss IVF vectors/s), so a planner can answer "does 100M classes fit on 256
GPUs, and where does the time go" before renting them. The formulas follow what the code does
(``head.py``, ``sharded_ce.py``, ``collectives.py``, ``graph/build.py``), not an idealised design.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

DTYPE_BYTES = {"fp16": 2, "bf16": 2, "fp32": 4}
OPTIMIZER_SLOTS = {"sgd": 1, "adamw": 2}
ID_BYTES = {"int32": 4, "int64": 8}
DDP_BUCKET_BYTES = 25 * 2**20  # torch DDP's default bucket_cap_mb


@dataclass(frozen=True)
class Calibration:
    """Measured rates; the defaults are an H100 SXM node on NCCL/InfiniBand (sources in docs/xc_plan.md)."""

    gemm_flops: float = 989e12 * 0.6
    """Head GEMM FLOP/s: H100 SXM bf16/fp16 dense peak 989 TFLOP/s x an assumed 60% efficiency."""
    gemm_flops_fp32: float = 494e12 * 0.6
    """fp32 runs on TF32 tensor cores: 494 TFLOP/s dense peak x the same 60%."""
    bus_bw: float = 40e9
    """Bytes/s per rank on the ring's slowest link: NDR InfiniBand 400 Gb/s = 50 GB/s per GPU x 80%."""
    latency_s: float = 5e-6
    """Per ring hop (one step of N-1), inter-node."""
    ivf_add_vps: float = 5.8e4
    """faiss IVF-Flat train+add, vectors/s: measured on the 2-core dev VM (faiss runs host-side here)."""
    ivf_search_qps: float = 5.8e4
    """faiss IVF-Flat search queries/s at ``ivf_calib_classes`` (nprobe 32); scaled by list length."""
    ivf_calib_classes: int = 20_000
    source: str = "defaults: H100 SXM + NCCL over NDR InfiniBand (documented assumptions, not measured)"

    def flops(self, dtype: str) -> float:
        return self.gemm_flops_fp32 if dtype == "fp32" else self.gemm_flops


@dataclass(frozen=True)
class PlanInputs:
    """One training setup. ``active`` is the fraction of C scored per step in KNN mode."""

    classes: int
    dim: int
    gpus: int
    batch_per_gpu: int = 256
    active: float = 0.01
    dtype: str = "fp16"
    optimizer: str = "sgd"
    graph_k: int = 10
    graph_ids: str = "int64"
    backbone_params: float = 25.6e6
    """ResNet-50's parameter count: the DDP all-reduce payload."""
    backbone_gflops: float = 4.1
    """ResNet-50 forward GFLOPs per 224px image; backward counted as 2x forward."""

    def __post_init__(self) -> None:
        for name in ("classes", "dim", "gpus", "batch_per_gpu", "graph_k"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        if self.classes < self.gpus:
            raise ValueError(f"--classes {self.classes} < --gpus {self.gpus}: every GPU needs at least one class")
        if not 0 < self.active <= 1:
            raise ValueError(f"--active is a fraction of the classes in (0, 1], got {self.active}")
        for name, table in (("dtype", DTYPE_BYTES), ("optimizer", OPTIMIZER_SLOTS), ("graph_ids", ID_BYTES)):
            if getattr(self, name) not in table:
                raise ValueError(f"--{name.replace('_', '-')} must be one of {sorted(table)}, got {getattr(self, name)!r}")

    @property
    def batch_global(self) -> int:
        return self.batch_per_gpu * self.gpus

    @property
    def shard(self) -> int:
        """Classes per rank (the largest shard, as ``shard_range`` gives the remainder to the first ranks)."""
        return math.ceil(self.classes / self.gpus)

    @property
    def active_shard(self) -> int:
        return min(self.shard, math.ceil(self.active * self.classes / self.gpus))


def memory(p: PlanInputs, mode: str) -> dict[str, float]:
    """Bytes per device of the head in ``mode`` (full | knn | random), one entry per buffer.

    Full: dense weight gradient and a [B_global, C/N] logits buffer (its softmax gradient is formed in
    place, which is why the measured peak is W + grad + state + logits). KNN/random: a row-sparse gradient
    over the active rows, logits [B_global, A/N], and a gathered copy of the active rows. KNN also keeps the
    whole [C, k] graph on every rank, as ``build_class_graph`` returns it.
    """
    if mode not in ("full", "knn", "random"):
        raise ValueError(f"mode must be full, knn or random, got {mode!r}")
    b = DTYPE_BYTES[p.dtype]
    row = p.dim * b
    out = {"weights": p.shard * row, "optimizer": OPTIMIZER_SLOTS[p.optimizer] * p.shard * row,
           "embeddings": 2 * p.batch_global * row}  # gathered embeddings and their gradient
    if mode == "full":
        out["gradient"] = p.shard * row
        out["logits"] = p.batch_global * p.shard * b
    else:
        a = p.active_shard
        out["gradient"] = a * (row + 8)  # sparse COO: values + int64 row index
        out["logits"] = p.batch_global * a * b
        out["active rows"] = a * row
    if mode == "knn":
        out["graph"] = p.classes * p.graph_k * ID_BYTES[p.graph_ids]
    return out


def rebuild_memory(p: PlanInputs) -> float:
    """Transient host bytes of one graph rebuild: the gathered normalised centres (float32 C x D), the
    IVF-Flat copy of them (+ an int64 id each), and this rank's search output ((k+1) sims + ids)."""
    return p.classes * p.dim * 4 + p.classes * (p.dim * 4 + 8) + p.shard * (p.graph_k + 1) * 12


def ring_all_gather(total_bytes: float, n: int, cal: Calibration) -> float:
    return (n - 1) / n * total_bytes / cal.bus_bw + (n - 1) * cal.latency_s


def ring_all_reduce(total_bytes: float, n: int, cal: Calibration) -> float:
    return 2 * (n - 1) / n * total_bytes / cal.bus_bw + 2 * (n - 1) * cal.latency_s


def step_time(p: PlanInputs, mode: str, cal: Calibration) -> dict[str, float]:
    """Seconds per step, split by part; nothing overlaps (the sum is an upper bound, see the docs)."""
    n, bg, b = p.gpus, p.batch_global, DTYPE_BYTES[p.dtype]
    cols = p.shard if mode == "full" else p.active_shard
    emb = bg * p.dim * b
    ddp = p.backbone_params * b
    buckets = max(1, math.ceil(ddp / DDP_BUCKET_BYTES))
    return {
        "backbone compute": 3 * p.backbone_gflops * 1e9 * p.batch_per_gpu / cal.flops(p.dtype),
        "head GEMMs (fwd+bwd)": 6 * bg * cols * p.dim / cal.flops(p.dtype),
        "all-gather embeddings": ring_all_gather(emb, n, cal),
        "all-reduce embedding grads": ring_all_reduce(emb, n, cal),  # collectives.py's backward
        "all-reduce softmax max+sum": ring_all_reduce(bg * 4, n, cal) + ring_all_reduce(2 * bg * 4, n, cal),
        "DDP all-reduce (backbone)": ring_all_reduce(ddp / buckets, n, cal) * buckets,
    }


def comm_bytes(p: PlanInputs) -> dict[str, float]:
    """Bytes each rank sends per step (ring algorithms; identical for full and KNN)."""
    n, bg, b = p.gpus, p.batch_global, DTYPE_BYTES[p.dtype]
    emb = bg * p.dim * b
    return {"all-gather embeddings": (n - 1) / n * emb, "all-reduce embedding grads": 2 * (n - 1) / n * emb,
            "all-reduce softmax max+sum": 2 * (n - 1) / n * 3 * bg * 4,
            "DDP all-reduce (backbone)": 2 * (n - 1) / n * p.backbone_params * b}


def rebuild_time(p: PlanInputs, cal: Calibration) -> dict[str, float]:
    """Seconds for one KNN graph rebuild as graph/build.py does it: gather all centres, every rank trains
    and fills an IVF over all C, searches its own C/N rows, then the graph rows are gathered."""
    list_scale = math.sqrt(p.classes / cal.ivf_calib_classes)  # IVF list length ~ C / (4 sqrt C)
    return {"gather centres": ring_all_gather(p.classes * p.dim * 4, p.gpus, cal),
            "IVF train+add": p.classes / cal.ivf_add_vps,
            "IVF search": p.shard / cal.ivf_search_qps * list_scale,
            "gather graph": ring_all_gather(p.classes * p.graph_k * 8, p.gpus, cal)}
