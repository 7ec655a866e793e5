"""The cost model behind ``opencook xc plan``: memory, step time and traffic of one training step.

Every figure is a closed formula over the sizes (C, D, N, B) and measured rates (GEMM FLOP/s, memory
bandwidth of a streamed elementwise op, of the softmax's elementwise chain and of row gathers/scatters,
host sort rate, bus bandwidth + per-hop latency, faiss IVF vectors/s), so a planner can answer "does 100M
classes fit on 256 GPUs, and where does the time go" before renting them. The formulas follow what the code
does (``head.py``, ``sharded_ce.py``, ``active_set.py``, ``optim.py``, ``collectives.py``,
``graph/build.py``), not an idealised design.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

DTYPE_BYTES = {"fp16": 2, "bf16": 2, "fp32": 4}
OPTIMIZER_SLOTS = {"sgd": 1, "adamw": 2}
ID_BYTES = {"int32": 4, "int64": 8}
DDP_BUCKET_BYTES = 25 * 2**20  # torch DDP's default bucket_cap_mb
HBM_BW = 3.35e12 * 0.8  # H100 SXM HBM3 3.35 TB/s x an assumed 80% for streamed elementwise kernels

SOFTMAX_PASSES = 10
"""Passes over the fp32 [B_global, cols] logits in ``sharded_ce.py``: row max (read), ``sub_``, ``exp_``
(read+write each), exp-sum (read), ``div_`` (read+write); backward ``mul_`` (read+write)."""
DENSE_OPT_PASSES = {"sgd": 11, "adamw": 20}
"""Passes over a dense C_s x D parameter in ``optim.py``: SGD ``grad.add(p)`` (3), ``buf.mul_`` (2),
``buf.add_`` (3), ``p.add_`` (3); AdamW ``_update``'s mul_/lerp_/mul_/addcmul_/sqrt/div_/add_/addcdiv_."""
MMAP_THRESHOLD = 32 * 2**20
"""glibc's largest mmap threshold: a host buffer at least this big is mapped fresh on every allocation and
unmapped when freed, so each step pays the page faults of first touching it (``fresh_bw``)."""
ROW_TEMPS = 8
"""[A_s, D] buffers a KNN step allocates: gathered rows, their dense grad, the sparse grad's values and
their coalesced copy, and the lazy SGD's ``p[rows]``, weight-decay sum, ``buf[rows]`` and update."""
ROW_TABLE_SMALL, ROW_TABLE_LARGE = 64 * 2**20, 2 * 2**30
"""Weight sizes at which the row path is calibrated (``row_bw``, ``row_bw_large``): random rows of a big
table miss the TLB and the caches, so the rate falls with the table; between the two it is interpolated in
log(size), outside it is clamped."""
ROW_GATHER_PASSES = 2
"""``F.embedding`` of the active rows: read A_s rows of W, write the [A_s, D] copy."""
ROW_OPT_PASSES = {"sgd": 19, "adamw": 34}
"""Passes over the [A_s, D] active rows in the lazy row-sparse update (``optim.py``): coalesce (2),
SGD ``p[rows]`` (2), weight decay (2 + 3), ``buf[rows]`` (2), ``mul_``/``add_`` (2 + 3),
``buf[rows] = g`` (2), ``index_add_`` (3); AdamW also gathers and scatters both moments."""


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
    mem_bw: float = HBM_BW
    """Bytes/s of a streamed elementwise op (read + write): the dense optimizer update."""
    softmax_bw: float = HBM_BW
    """Bytes/s of the softmax's elementwise chain, counted as ``SOFTMAX_PASSES`` passes (on a GPU a
    streamed kernel; on a CPU slower than ``mem_bw``: the row max and ``exp`` are compute-bound there)."""
    row_bw: float = HBM_BW
    """Bytes/s of row gathers/scatters (``F.embedding``, ``index_add_``) over random rows of a
    ``ROW_TABLE_SMALL`` weight; on a GPU an assumption (the same 80% of HBM3), not a measurement."""
    row_bw_large: float = HBM_BW
    """The same over a ``ROW_TABLE_LARGE`` weight (GPU: the same assumption)."""
    select_rate: float = 8.0e7
    """A*log2(A) per second of ``active_set.global_active_classes`` (the random fill's ``isin``/``unique``/
    ``argsort`` and the final ``sort`` are sorts of ~A keys): the 2-core dev VM's (5.6e7-8.9e7 in
    ``benchmarks/results/xc_plan_validation.json``, one thread), because the active set is selected on the host
    (``head.py`` moves the labels to the CPU) even on GPU runs."""
    fresh_bw: float = 0.0
    """Bytes/s of first touching a freshly mapped host buffer (page faults + zeroing), charged to every
    per-step buffer of at least ``MMAP_THRESHOLD`` bytes; 0 = allocation is free, as with the GPU defaults
    (PyTorch's CUDA caching allocator reuses its blocks)."""
    step_overhead_s: float = 0.0
    """Fixed per-step time (Python, operator dispatch/launch): the one constant fitted to measured steps
    (``benchmarks/xc_plan_validation.py``); 0 in the GPU defaults, where it is not measured."""
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

    def active_global(self, mode: str) -> int:
        """Classes scored per step across all ranks: the budget a*C, or, when more, the union of the batch's
        labels and (knn) their k graph neighbours, which ``active_set.py`` never trims (bounded by C)."""
        if mode == "full":
            return self.classes
        union = self.batch_global * (self.graph_k + 1 if mode == "knn" else 1)
        return min(self.classes, max(math.ceil(self.active * self.classes), union))

    def active_cols(self, mode: str) -> int:
        """Columns of this rank's logits: C_s in full mode, else its share of ``active_global``."""
        return self.shard if mode == "full" else min(self.shard, math.ceil(self.active_global(mode) / self.gpus))


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
    cols = p.active_cols(mode)
    emb = bg * p.dim * b
    ddp = p.backbone_params * b
    buckets = max(1, math.ceil(ddp / DDP_BUCKET_BYTES))
    out = {
        "backbone compute": 3 * p.backbone_gflops * 1e9 * p.batch_per_gpu / cal.flops(p.dtype),
        "backbone optimizer": DENSE_OPT_PASSES[p.optimizer] * ddp / cal.mem_bw,
        "head GEMMs (fwd+bwd)": 6 * bg * cols * p.dim / cal.flops(p.dtype),
        # sharded_ce casts the logits to fp32 whatever the dtype
        "softmax elementwise": SOFTMAX_PASSES * bg * cols * 4 / cal.softmax_bw,
    }
    if mode == "full":
        out["head optimizer"] = DENSE_OPT_PASSES[p.optimizer] * p.shard * p.dim * b / cal.mem_bw
    else:
        rows, bw = cols * p.dim * b, row_rate(p.shard * p.dim * b, cal)
        # per-shard selection (active_set.py): each rank sorts and fills only its own share of the set,
        # after one linear pass over the gathered candidates (labels + their k neighbours) ...
        a = cols
        out["active-set selection"] = a * math.log2(max(a, 2)) / cal.select_rate
        out["selection candidates"] = bg * (p.graph_k + 1 if mode == "knn" else 1) / cal.select_rate
        # ... and one all-reduce of the [depth, 65,536-class block] count table agrees on the counts
        blocks = math.ceil(p.classes / 65_536)
        out["all-reduce selection counts"] = ring_all_reduce((p.graph_k + 1 if mode == "knn" else 1) * blocks * 8, n,
                                                             cal)
        out["gather active rows"] = ROW_GATHER_PASSES * rows / bw
        out["head optimizer"] = ROW_OPT_PASSES[p.optimizer] * rows / bw
    out["fresh buffers (page faults)"] = (sum(x for x in fresh_buffers(p, mode) if x >= MMAP_THRESHOLD) / cal.fresh_bw
                                          if cal.fresh_bw else 0.0)
    out.update({
        "all-gather embeddings": ring_all_gather(emb, n, cal),
        "all-reduce embedding grads": ring_all_reduce(emb, n, cal),  # collectives.py's backward
        "all-reduce softmax max+sum": ring_all_reduce(bg * 4, n, cal) + ring_all_reduce(3 * bg * 4, n, cal),
        "DDP all-reduce (backbone)": ring_all_reduce(ddp / buckets, n, cal) * buckets,
        "fixed per-step overhead": cal.step_overhead_s,
    })
    return out


def row_rate(table_bytes: float, cal: Calibration) -> float:
    """Row-path bytes/s for a weight of ``table_bytes``: ``row_bw`` up to ``ROW_TABLE_SMALL``,
    ``row_bw_large`` from ``ROW_TABLE_LARGE``, log-linear between."""
    x = min(1.0, max(0.0, math.log(max(table_bytes, 1) / ROW_TABLE_SMALL) / math.log(ROW_TABLE_LARGE / ROW_TABLE_SMALL)))
    return cal.row_bw * (cal.row_bw_large / cal.row_bw) ** x


def fresh_buffers(p: PlanInputs, mode: str) -> list[float]:
    """Bytes of each large buffer one step allocates anew: the fp32 logits, and in full mode the dense weight
    gradient and SGD's weight-decay sum ``grad.add(p)`` (C_s x D each), else the ``ROW_TEMPS`` active-row
    buffers."""
    b, cols = DTYPE_BYTES[p.dtype], p.active_cols(mode)
    logits = p.batch_global * cols * 4
    if mode == "full":
        return [logits] + [p.shard * p.dim * b] * 2
    return [logits] + [cols * p.dim * b] * ROW_TEMPS


def comm_bytes(p: PlanInputs) -> dict[str, float]:
    """Bytes each rank sends per step (ring algorithms; identical for full and KNN)."""
    n, bg, b = p.gpus, p.batch_global, DTYPE_BYTES[p.dtype]
    emb = bg * p.dim * b
    return {"all-gather embeddings": (n - 1) / n * emb, "all-reduce embedding grads": 2 * (n - 1) / n * emb,
            "all-reduce softmax max+sum": 2 * (n - 1) / n * 4 * bg * 4,  # max, then sum-exp+target+owners
            "DDP all-reduce (backbone)": 2 * (n - 1) / n * p.backbone_params * b}


def rebuild_time(p: PlanInputs, cal: Calibration) -> dict[str, float]:
    """Seconds for one KNN graph rebuild as graph/build.py does it: gather all centres, every rank trains
    and fills an IVF over all C, searches its own C/N rows, then the graph rows are gathered."""
    list_scale = math.sqrt(p.classes / cal.ivf_calib_classes)  # IVF list length ~ C / (4 sqrt C)
    return {"gather centres": ring_all_gather(p.classes * p.dim * 4, p.gpus, cal),
            "IVF train+add": p.classes / cal.ivf_add_vps,
            "IVF search": p.shard / cal.ivf_search_qps * list_scale,
            "gather graph": ring_all_gather(p.classes * p.graph_k * 8, p.gpus, cal)}
