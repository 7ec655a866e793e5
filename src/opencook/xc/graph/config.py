"""How the class-centre KNN graph is built: one typed config, validated where it is made."""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass

METHODS = ("auto", "exact", "ivf", "hnsw")


@dataclass(frozen=True)
class GraphConfig:
    """``k`` OTHER classes per class; ``auto`` is exact up to ``exact_max_classes``, IVF above.

    Exact costs 2·C²·D FLOPs (50K classes at D=128: 0.64 TFLOP, 15-25 s on 2 CPU cores), so past
    that IVF-Flat is used: its search splits across ranks and its k-means runs on a sample. HNSW kept
    far higher recall at 1M classes in B7 (docs/xc_graph.md), but its index is built on every rank.
    """

    k: int = 10
    method: str = "auto"
    exact_max_classes: int = 50_000
    refresh_every: int = 100
    """Steps between rebuilds; the trainer reads it, the builder does not."""
    chunk_rows: int = 1024
    """Exact: query rows per GEMM block."""
    chunk_cols: int = 32_768
    """Exact: database rows per GEMM block (block memory = chunk_rows·chunk_cols floats)."""
    nlist: int | None = None
    """IVF lists; None = 4·√C, at most C/39 (faiss's minimum points per list) and 65536."""
    nprobe: int = 32
    """IVF lists scanned per query: 32 of 4·√C scans ~8·√C centres (0.8% at 1M)."""
    train_size: int | None = None
    """IVF k-means sample; None = 40·nlist (at most C). Drawn with ``seed``: the same on every rank."""
    hnsw_m: int = 32
    hnsw_ef_construction: int = 80
    hnsw_ef_search: int = 64
    seed: int = 0

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            near = difflib.get_close_matches(str(self.method).lower(), METHODS, n=1)
            hint = f"; did you mean {near[0]!r}?" if near else ""
            raise ValueError(f"GraphConfig.method={self.method!r} is not one of {', '.join(METHODS)}{hint}")
        positive = {"k": self.k, "exact_max_classes": self.exact_max_classes,
                    "refresh_every": self.refresh_every, "chunk_rows": self.chunk_rows,
                    "chunk_cols": self.chunk_cols, "nprobe": self.nprobe,
                    "hnsw_ef_construction": self.hnsw_ef_construction, "hnsw_ef_search": self.hnsw_ef_search}
        if self.nlist is not None:
            positive["nlist"] = self.nlist
        if self.train_size is not None:
            positive["train_size"] = self.train_size
        for name, value in positive.items():
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"GraphConfig.{name} must be an integer >= 1, got {value!r}")
        if self.hnsw_m < 2:
            raise ValueError(f"GraphConfig.hnsw_m must be >= 2 (links per HNSW node), got {self.hnsw_m}")
        if self.seed < 0:
            raise ValueError(f"GraphConfig.seed must be >= 0, got {self.seed}")

    def check_classes(self, num_classes: int) -> None:
        """A class cannot have more OTHER classes as neighbours than exist."""
        if self.k >= num_classes:
            raise ValueError(f"GraphConfig.k={self.k} needs more than k classes, got {num_classes}: "
                             f"lower k to at most {num_classes - 1}")

    def resolve_method(self, num_classes: int) -> str:
        if self.method != "auto":
            return self.method
        return "exact" if num_classes <= self.exact_max_classes else "ivf"

    def resolve_nlist(self, num_classes: int) -> int:
        if self.nlist is not None:
            return min(self.nlist, num_classes)
        return max(1, min(round(4 * math.sqrt(num_classes)), num_classes // 39, 65_536))

    def resolve_train_size(self, num_classes: int, nlist: int) -> int:
        return min(num_classes, self.train_size if self.train_size is not None else 40 * nlist)
