"""The distributed build: gather all centres, each rank queries its own rows, gather the lists.

Communication per rebuild: C·D float32 centres once (all-gather) plus C·k int64 ids; every rank
ends with the same [C, k] graph because it is assembled from the same gathered pieces.
``rebuild_graph`` wraps one build in a ``GraphBuild`` record: what the head installs, checkpoints and
the trainer logs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from opencook.kit import dist

from ..sharding import ClassShard
from .config import GraphConfig
from .exact import exact_knn
from .recall import sample_recall


@dataclass(frozen=True)
class GraphBuild:
    """One rebuild of the class graph, from the centres of ``step``."""

    graph: torch.Tensor
    """[C, k] int64 neighbour ids, the same on every rank."""
    method: str
    """exact | ivf | hnsw, or none (a single class has no neighbours)."""
    step: int
    seconds: float
    recall: float | None
    """recall@k: 1.0 for exact, sampled for an approximate build, None when not measured."""
    updated: int | None = None
    """Incremental upkeep: classes re-queried because their centre changed; None for a full build."""

    @property
    def k(self) -> int:
        return int(self.graph.shape[1])

    def metrics(self) -> dict:
        """The fields of a ``graph`` record in metrics.jsonl (the training report reads these keys)."""
        out = {"build_s": self.seconds, "k": self.k, "method": self.method, "recall": self.recall}
        return out if self.updated is None else {**out, "updated": self.updated}


def knn_rows(centres: torch.Tensor, start: int, end: int, cfg: GraphConfig) -> torch.Tensor:
    """Graph rows [start, end) over all ``centres`` (normalised float32 [C, D]), one process."""
    num_classes = centres.shape[0]
    cfg.check_classes(num_classes)
    method = cfg.resolve_method(num_classes)
    if method == "exact":
        return exact_knn(centres[start:end], centres, cfg.k, query_offset=start, normalize=False,
                         chunk_rows=cfg.chunk_rows, chunk_cols=cfg.chunk_cols).ids
    from .approx import faiss_knn  # faiss only where an approximate build is asked for

    database = centres.detach().cpu().contiguous().numpy()
    return faiss_knn(database, start, end, cfg.k, method, cfg).ids.to(centres.device)


def build_class_graph(local_centres: torch.Tensor, shard: ClassShard, cfg: GraphConfig,
                      group=None) -> torch.Tensor:
    """The full [C, k] int64 neighbour graph, identical on every rank, from this rank's rows of W.

    Works without a process group when ``shard.world_size == 1``; ``group`` picks a sub-group.
    Centres are checked after the gather so that every rank raises together instead of leaving the
    others blocked in a collective.
    """
    if local_centres.ndim != 2 or local_centres.shape[0] != shard.size:
        raise ValueError(f"local_centres {tuple(local_centres.shape)} must be [{shard.size}, D]: the rows "
                         f"[{shard.start}, {shard.end}) that rank {shard.rank} owns")
    if shard.world_size != dist.world_size(group):
        raise ValueError(f"shard is for a world of {shard.world_size} ranks but the process group has "
                         f"{dist.world_size(group)}: build it with shard_range(C, rank(), world_size())")
    cfg.check_classes(shard.num_classes)
    local = F.normalize(local_centres.detach().float(), dim=1)
    centres = dist.all_gather_varlen(local, group).contiguous()
    bad = (~torch.isfinite(centres).all(1)).nonzero().squeeze(1)
    if len(bad):
        raise ValueError(f"{len(bad)} class centres are not finite (NaN/inf), e.g. classes "
                         f"{bad[:5].tolist()}: the classifier diverged or was loaded wrong")
    graph = knn_rows(centres, shard.start, shard.end, cfg)
    return dist.all_gather_varlen(graph.to(local.device), group)


def rebuild_graph(local_centres: torch.Tensor, shard: ClassShard, cfg: GraphConfig, *, step: int, group=None,
                  recall_sample: int = 0) -> GraphBuild:
    """``build_class_graph`` timed and described; an approximate build's recall@k is measured on
    ``recall_sample`` classes (0: not measured). Safe on a side thread given a group of its own."""
    started = time.perf_counter()
    if shard.num_classes < 2:
        return GraphBuild(torch.empty((shard.num_classes, 0), dtype=torch.long), "none", step,
                          time.perf_counter() - started, 1.0)
    graph = build_class_graph(local_centres, shard, cfg, group=group).cpu()
    method = cfg.resolve_method(shard.num_classes)
    recall = 1.0 if method == "exact" else None
    if recall is None and recall_sample:
        everyone = dist.all_gather_varlen(local_centres, group)
        recall = sample_recall(graph, everyone, sample=recall_sample, seed=cfg.seed)
    return GraphBuild(graph, method, step, time.perf_counter() - started, recall)
