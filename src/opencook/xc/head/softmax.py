"""``KNNSoftmax``: a class-sharded softmax head a user drops into an ordinary DDP loop.

    head = KNNSoftmax(embedding_dim, num_classes, mode="knn", active_budget=10_000)
    loss = head(local_embeddings, local_labels)   # same value on every rank: the global-batch mean

Rank r owns classes [start, end) (``head.shard``). The embeddings and labels of all ranks are
gathered; each rank scores them against its active rows; the softmax normaliser crosses shards by
all-reduce. The weight's gradient never leaves its rank. In ``knn``/``random`` mode the weight's
gradient is a sparse tensor over the active rows only -- use ``opencook.xc.train.optim`` optimizers,
which update those rows and define what happens to the others.
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from opencook.kit.dist import all_gather_cat, all_gather_varlen, is_distributed, rank, world_size
from opencook.xc.head.active_set import ActiveSet, select_active
from opencook.xc.head.collectives import all_gather_with_grad
from opencook.xc.head.config import HeadConfig
from opencook.xc.head.logits import LogitConfig, class_logits
from opencook.xc.head.sharded_ce import sharded_cross_entropy
from opencook.xc.head.timing import CLOCK
from opencook.xc.head.topk import sharded_topk
from opencook.xc.sharding import shard_range

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
        self._group_for_graph = None
        self._pool: ThreadPoolExecutor | None = None
        self._pending: Future | None = None  # a graph being built on the side thread
        self._pending_install = -1

    @property
    def mode(self) -> str:
        return self.config.mode

    # -- the class graph -------------------------------------------------------------------------
    def refresh_graph(self) -> torch.Tensor:
        """Rebuild the KNN graph from the current class centres now (a collective: call on every rank)."""
        self._install(self._build_graph(self.weight.detach().float().cpu().clone(), self.step))
        return self.graph

    def _graph_group(self):
        """A gloo group of its own for the graph build: the centres live on the host (also under NCCL), and
        a build on the side thread must not interleave its collectives with the training step's."""
        if self._group_for_graph is None and is_distributed(self.group):
            self._group_for_graph = dist.new_group(ranks=dist.get_process_group_ranks(self.group)
                                                   if self.group is not None else None, backend="gloo")
        return self._group_for_graph

    def _build_graph(self, centres: torch.Tensor, step: int) -> dict:
        """The graph of ``centres`` (this rank's rows, snapshotted at ``step``); safe on a side thread."""
        from opencook.xc.graph import GraphConfig, build_class_graph, sample_recall

        started = time.perf_counter()
        group = self._graph_group()
        k = min(self.config.graph_k, self.num_classes - 1)
        if k < 1:
            return {"graph": torch.empty((self.num_classes, 0), dtype=torch.long), "method": "none", "step": step,
                    "seconds": time.perf_counter() - started, "recall": 1.0}
        cfg = GraphConfig(k=k, method=self.config.graph_method, refresh_every=self.config.refresh_every,
                          seed=self.config.seed)
        graph = build_class_graph(centres, self.shard, cfg, group=group).cpu()
        method = cfg.resolve_method(self.num_classes)
        recall = 1.0 if method == "exact" else None
        if recall is None and self.config.graph_recall_sample:  # approximate: measure it on a sample
            everyone = all_gather_varlen(centres, group)
            recall = sample_recall(graph, everyone, sample=self.config.graph_recall_sample, seed=self.config.seed)
        return {"graph": graph, "method": method, "step": step, "seconds": time.perf_counter() - started,
                "recall": recall}

    def _install(self, built: dict) -> None:
        self.graph, self.graph_method, self.graph_step = built["graph"], built["method"], built["step"]
        self.last_graph_seconds, self.last_graph_recall = built["seconds"], built["recall"]

    def _graph_due(self) -> bool:
        return self.graph is None or self.step - self.graph_step >= self.config.refresh_every

    def refresh_graph_if_due(self) -> None:
        """Keep the graph current. With ``graph_lag`` L > 0 a due rebuild runs on a side thread from the
        centres of step t and is installed at step t + L on every rank (waiting for it if need be), so
        the step count at which a graph changes never depends on timing."""
        if self.mode != "knn":
            return
        if self._pending is not None and self.step >= self._pending_install:
            future, self._pending = self._pending, None
            self._install(future.result())
        if not self._graph_due() or self._pending is not None:
            return
        if self.graph is None or not self.config.graph_lag:  # the first graph is needed at once
            self.refresh_graph()
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="xc-graph")
        self._graph_group()  # a collective: created here, on the main thread, in step order
        snapshot = self.weight.detach().float().cpu().clone()
        self._pending = self._pool.submit(self._build_graph, snapshot, self.step)
        self._pending_install = self.step + self.config.graph_lag

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
        """A graph still being built is finished and saved with its install step, so that a resumed run
        changes graphs at the same steps as an uninterrupted one."""
        pending = None
        if self._pending is not None:  # waits for the build; it is still installed at its step
            pending = {**self._pending.result(), "install": self._pending_install}
        return {"step": self.step, "graph_step": self.graph_step, "graph": self.graph, "pending": pending}

    def set_extra_state(self, state: dict) -> None:
        self.step, self.graph_step, self.graph = state["step"], state["graph_step"], state["graph"]
        pending = state.get("pending")
        if pending is not None:
            done: Future = Future()
            done.set_result({k: v for k, v in pending.items() if k != "install"})
            self._pending, self._pending_install = done, pending["install"]

    def extra_repr(self) -> str:
        s = self.shard
        return (f"dim={self.embedding_dim}, classes={self.num_classes}, shard=[{s.start}, {s.end}), "
                f"mode={self.mode}, budget={self.budget}")
