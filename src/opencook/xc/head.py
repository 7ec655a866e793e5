"""``KNNSoftmax``: a class-sharded softmax head a user drops into an ordinary DDP loop.

    head = KNNSoftmax(embedding_dim, num_classes, mode="knn", active_budget=10_000)
    loss = head(local_embeddings, local_labels)   # same value on every rank: the global-batch mean

Rank r owns classes [start, end) (``head.shard``). The embeddings and labels of all ranks are
gathered; each rank scores them against its active rows; the softmax normaliser crosses shards by
all-reduce. The weight's gradient never leaves its rank. In ``knn``/``random`` mode the weight's
gradient is a sparse tensor over the active rows only -- use ``opencook.xc.optim`` optimizers,
which update those rows and define what happens to the others.
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F
from torch import nn

from opencook.core.dist import all_gather_cat, all_gather_varlen, rank, world_size
from opencook.xc.active_set import ActiveSet, select_active
from opencook.xc.collectives import all_gather_with_grad
from opencook.xc.head_config import HeadConfig
from opencook.xc.logits import LogitConfig, class_logits
from opencook.xc.sharded_ce import sharded_cross_entropy
from opencook.xc.sharding import shard_range
from opencook.xc.step_timing import CLOCK
from opencook.xc.topk import sharded_topk

INIT_BLOCK = 65536


def init_rows(start: int, end: int, dim: int, std: float, seed: int) -> torch.Tensor:
    """Rows [start, end) of a C x D init that does not depend on how C is sharded (blockwise seeds)."""
    out = torch.empty((end - start, dim))
    for block in range(start // INIT_BLOCK, (end - 1) // INIT_BLOCK + 1 if end > start else 0):
        gen = torch.Generator().manual_seed(seed * 7919 + block)
        b_lo = block * INIT_BLOCK
        values = torch.randn((INIT_BLOCK, dim), generator=gen) * std
        lo, hi = max(start, b_lo), min(end, b_lo + INIT_BLOCK)
        out[lo - start:hi - start] = values[lo - b_lo:hi - b_lo]
    return out


class KNNSoftmax(nn.Module):
    def __init__(self, embedding_dim: int, num_classes: int, mode: str = "knn", *, config: HeadConfig | None = None,
                 group=None, device: torch.device | str | None = None, **options) -> None:
        super().__init__()
        if isinstance(options.get("logits"), dict):
            options["logits"] = LogitConfig(**options["logits"])
        self.config = config or HeadConfig(mode=mode, **options)
        if embedding_dim < 1 or num_classes < 1:
            raise ValueError(f"embedding_dim and num_classes must be >= 1, got {embedding_dim}, {num_classes}")
        self.embedding_dim = embedding_dim
        self.num_classes = num_classes
        self.group = group
        self.shard = shard_range(num_classes, rank(group), world_size(group))
        rows = init_rows(self.shard.start, self.shard.end, embedding_dim, self.config.init_std, self.config.seed)
        self.weight = nn.Parameter(rows.to(device) if device is not None else rows)
        self.budget = self.config.budget(num_classes)
        self.step = 0
        self.graph: torch.Tensor | None = None
        self.graph_step = -1
        self.graph_method = ""
        self.last_graph_seconds = 0.0
        self.last_graph_recall: float | None = None
        self.last: ActiveSet | None = None

    @property
    def mode(self) -> str:
        return self.config.mode

    # -- the class graph -------------------------------------------------------------------------
    def refresh_graph(self) -> torch.Tensor:
        """Rebuild the KNN graph from the current class centres (a collective: call on every rank)."""
        from opencook.xc.graph import GraphConfig, build_class_graph

        started = time.perf_counter()
        k = min(self.config.graph_k, self.num_classes - 1)
        if k < 1:
            self.graph = torch.empty((self.num_classes, 0), dtype=torch.long)
            self.graph_method = "none"
        else:
            cfg = GraphConfig(k=k, method=self.config.graph_method, refresh_every=self.config.refresh_every,
                              seed=self.config.seed)
            self.graph = build_class_graph(self.weight.detach().float().cpu(), self.shard, cfg).cpu()
            self.graph_method = cfg.resolve_method(self.num_classes)
        self.last_graph_seconds = time.perf_counter() - started
        self.last_graph_recall = 1.0 if self.graph_method in ("exact", "none") else self._sampled_recall()
        self.graph_step = self.step
        return self.graph

    def _sampled_recall(self) -> float | None:
        """Recall@k of an approximate graph against exact search on a sample of classes (a collective)."""
        if not self.config.graph_recall_sample:
            return None
        from opencook.xc.graph import sample_recall

        centres = all_gather_varlen(self.weight.detach().float().cpu(), self.group)
        return sample_recall(self.graph, centres, sample=self.config.graph_recall_sample, seed=self.config.seed)

    def _graph_due(self) -> bool:
        return self.graph is None or self.step - self.graph_step >= self.config.refresh_every

    # -- forward ---------------------------------------------------------------------------------
    def check_labels(self, labels: torch.Tensor, batch: int) -> None:
        if labels.dtype != torch.long:
            raise TypeError(f"labels must be int64 (torch.long), got {labels.dtype}: pass labels.long()")
        if labels.shape != (batch,):
            raise ValueError(f"labels must be [{batch}] to match the batch, got {tuple(labels.shape)}")

    def _check(self, embeddings: torch.Tensor, labels: torch.Tensor) -> None:
        if embeddings.dim() != 2 or embeddings.shape[1] != self.embedding_dim:
            raise ValueError(f"embeddings must be [batch, {self.embedding_dim}], got {tuple(embeddings.shape)}")
        self.check_labels(labels, embeddings.shape[0])

    def gather_labels(self, labels: torch.Tensor) -> torch.Tensor:
        """Every rank's labels, rank order; checked here so every rank raises the same error."""
        with CLOCK.comm(self.group):
            all_labels = all_gather_cat(labels, self.group)
        bad = (all_labels < 0) | (all_labels >= self.num_classes)
        if bool(bad.any()):
            i = int(bad.nonzero()[0, 0])
            raise ValueError(f"label {int(all_labels[i])} (gathered sample {i}) is out of range "
                             f"[0, {self.num_classes})")
        return all_labels

    def select(self, all_labels: torch.Tensor) -> ActiveSet:
        """This step's active set: no communication, so it may run on a side thread (the graph is
        refreshed before, on the main thread, by ``refresh_graph_if_due``)."""
        active = select_active(all_labels.cpu(), self.mode, self.shard, graph=self.graph, budget=self.budget,
                               seed=self.config.seed, step=self.step)
        device = self.weight.device
        return ActiveSet(None if active.local_rows is None else active.local_rows.to(device, non_blocking=True),
                         active.target_pos.to(device, non_blocking=True), active.global_size)

    def refresh_graph_if_due(self) -> None:
        if self.mode == "knn" and self._graph_due():
            self.refresh_graph()

    def active_rows(self, active: ActiveSet) -> torch.Tensor:
        """The weight rows this step scores; gathered once and shared by every micro-batch."""
        if active.local_rows is None:
            return self.weight
        return F.embedding(active.local_rows, self.weight, sparse=True)

    def sample_losses(self, gathered: torch.Tensor, rows: torch.Tensor, target_pos: torch.Tensor) -> torch.Tensor:
        """Per-sample loss of gathered embeddings whose targets sit at ``target_pos`` (-1: other shard)."""
        if not bool(torch.isfinite(gathered.detach()).all()):  # gathered: every rank raises alike
            raise FloatingPointError("embeddings contain NaN or Inf; check the backbone's loss scale / learning rate")
        logits = class_logits(gathered, rows.to(gathered.dtype), target_pos, self.config.logits)
        return sharded_cross_entropy(logits.float(), target_pos, self.group)

    def finish_step(self, active: ActiveSet) -> None:
        self.last = active
        self.step += 1

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        self._check(embeddings, labels)
        all_labels = self.gather_labels(labels)
        self.refresh_graph_if_due()
        active = self.select(all_labels)
        gathered = all_gather_with_grad(embeddings, self.group)
        loss = self.sample_losses(gathered, self.active_rows(active), active.target_pos).mean()
        self.finish_step(active)
        return loss

    @torch.no_grad()
    def predict_topk(self, embeddings: torch.Tensor, k: int = 5, chunk_rows: int = 65536) -> torch.Tensor:
        """Top-k global class ids [world*B, k] for every rank's ``embeddings`` (full normaliser)."""
        gathered = all_gather_cat(embeddings, self.group)
        return sharded_topk(gathered, self.weight, self.shard.start, k, cosine=self.config.logits.kind == "cosine",
                            chunk_rows=chunk_rows, group=self.group)

    # -- state -----------------------------------------------------------------------------------
    def get_extra_state(self) -> dict:
        return {"step": self.step, "graph_step": self.graph_step, "graph": self.graph}

    def set_extra_state(self, state: dict) -> None:
        self.step, self.graph_step, self.graph = state["step"], state["graph_step"], state["graph"]

    def extra_repr(self) -> str:
        s = self.shard
        return (f"dim={self.embedding_dim}, classes={self.num_classes}, shard=[{s.start}, {s.end}), "
                f"mode={self.mode}, budget={self.budget}")
