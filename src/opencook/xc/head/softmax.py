"""``ShardedSoftmax``: a class-sharded softmax head a user drops into an ordinary DDP loop.

    head = ShardedSoftmax(embedding_dim, num_classes, mode="knn", active_budget=10_000)
    loss = head(local_embeddings, local_labels)   # same value on every rank: the global-batch mean
    loss = head((model(x) for x in local_inputs.chunk(4)), local_labels)   # the same loss, pipelined

Rank r owns classes [start, end) (``head.shard``). The embeddings and labels of all ranks are
gathered; each rank scores them against its active rows; the softmax normaliser crosses shards by
all-reduce. The weight's gradient never leaves its rank. In ``knn``/``random`` mode the weight's
gradient is a sparse tensor over the active rows only -- use ``opencook.xc.train.optim`` optimizers,
which update those rows and define what happens to the others.

Given micro-batches, each micro-batch's all-gather is issued as soon as its embeddings exist, so it
travels while the next micro-batch's backbone computes, and the step's active set is chosen once: from all
the labels (on ``select_on``'s thread, if given, while the backbone runs) or, when the selection reads
embeddings (feature anchors, imprinting: the default), from the whole gathered batch after the last
micro-batch's backbone -- the same set as one [batch, D] tensor gives.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from opencook.kit.dist import all_gather_cat, all_reduce_, is_distributed, rank, world_size
from opencook.xc.head.active_set import ActiveSet, select_active
from opencook.xc.head.centres import ClassCentres
from opencook.xc.head.collectives import PendingGather, start_all_gather
from opencook.xc.head.config import HeadConfig
from opencook.xc.head.coverage import coverage, gauge_rows
from opencook.xc.head.feature_index import FeatureIndex
from opencook.xc.head.logits import LogitConfig, class_logits
from opencook.xc.head.selection import SelectionConfig
from opencook.xc.head.sharded_ce import sharded_cross_entropy
from opencook.xc.head.timing import StepClock
from opencook.xc.head.topk import merge_topk, sharded_topk
from opencook.xc.sharding import shard_range

if TYPE_CHECKING:
    from opencook.xc.graph.build import GraphBuild
    from opencook.xc.graph.incremental import GraphIndex

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


class ShardedSoftmax(nn.Module):
    """A classifier over ``num_classes`` split across the group's ranks; ``forward(embeddings, labels)``.

    ``mode``: full | knn | random (``HeadConfig``'s fields may be given as keywords, or ``config``).
    ``clock``: where the step's blocked communication and selection time go (default: the head's own).
    """

    def __init__(self, embedding_dim: int, num_classes: int, mode: str = "knn", *, config: HeadConfig | None = None,
                 group=None, device: torch.device | str | None = None, clock: StepClock | None = None,
                 **options) -> None:
        super().__init__()
        if isinstance(options.get("logits"), dict):
            options["logits"] = LogitConfig(**options["logits"])
        if isinstance(options.get("selection"), dict):
            options["selection"] = SelectionConfig(**options["selection"])
        self.config = config or HeadConfig(mode=mode, **options)
        if embedding_dim < 1 or num_classes < 1:
            raise ValueError(f"embedding_dim and num_classes must be >= 1, got {embedding_dim}, {num_classes}")
        self.embedding_dim = embedding_dim
        self.num_classes = num_classes
        self.group = group
        self.clock = clock or StepClock()
        self.shard = shard_range(num_classes, rank(group), world_size(group))
        rows = init_rows(self.shard.start, self.shard.end, embedding_dim, self.config.init_std, self.config.seed)
        self.weight = nn.Parameter(rows.to(device) if device is not None else rows)
        self.budget = self.config.budget(num_classes)
        self.step = 0
        self.graph_build: GraphBuild | None = None
        self.last: ActiveSet | None = None
        self.last_coverage: dict | None = None  # the gauge's last reading (``coverage_every``)
        sel = self.config.selection
        self.centres = ClassCentres(self.shard, self.weight, sel.centre_momentum) if sel.centres == "features" else None
        self.graph_index: GraphIndex | None = None  # incremental upkeep's snapshot
        self.feature_index = None
        if self.mode == "knn" and sel.uses_features and sel.indexed(num_classes):
            self.feature_index = FeatureIndex(self.shard, nlist=sel.feature_nlist, nprobe=sel.feature_nprobe,
                                              retrain_every=self.config.refresh_every, seed=self.config.seed,
                                              normalize=self.centres is not None or self.config.logits.kind == "cosine")
        self._moved: list[torch.Tensor] | None = []  # local rows changed since the index's last sync; None = all
        self._group_for_selection = None
        self._group_for_graph = None
        self._pool: ThreadPoolExecutor | None = None
        self._pending: Future | None = None  # a graph being built on the side thread
        self._pending_install = -1

    @property
    def mode(self) -> str:
        return self.config.mode

    @property
    def graph(self) -> torch.Tensor | None:
        """The [C, k] class graph in use (knn mode), or None before the first build."""
        return None if self.graph_build is None else self.graph_build.graph

    @property
    def graph_step(self) -> int:
        """The step whose centres built the graph in use; -1 before the first build."""
        return -1 if self.graph_build is None else self.graph_build.step

    # -- the class graph -------------------------------------------------------------------------
    def refresh_graph(self) -> torch.Tensor:
        """Rebuild the KNN graph from the current class centres now (a collective: call on every rank)."""
        self.graph_build = self._build_graph(self._centres_snapshot(), self.step)
        return self.graph

    def _centres_snapshot(self) -> torch.Tensor:
        """This rank's rows of what the graph is built over: W's rows, or the class feature centres."""
        if self.centres is not None:
            return self.centres.for_graph().cpu().clone()
        return self.weight.detach().float().cpu().clone()

    def _selection_group(self):
        """A gloo group for the selection's count all-reduce: it may run on a side thread, beside the
        main thread's gathers (created on the main thread, in step order)."""
        if self._group_for_selection is None and is_distributed(self.group):
            self._group_for_selection = dist.new_group(ranks=dist.get_process_group_ranks(self.group)
                                                       if self.group is not None else None, backend="gloo")
        return self._group_for_selection

    def _graph_group(self):
        """A gloo group of its own for the graph build: the centres live on the host (also under NCCL), and
        a build on the side thread must not interleave its collectives with the training step's."""
        if self._group_for_graph is None and is_distributed(self.group):
            self._group_for_graph = dist.new_group(ranks=dist.get_process_group_ranks(self.group)
                                                   if self.group is not None else None, backend="gloo")
        return self._group_for_graph

    def _build_graph(self, centres: torch.Tensor, step: int) -> GraphBuild:
        """The graph of ``centres`` (this rank's rows, snapshotted at ``step``); safe on a side thread."""
        from opencook.xc.graph import GraphConfig, rebuild_graph

        cfg = GraphConfig(k=max(1, min(self.config.graph_k, self.num_classes - 1)), method=self.config.graph_method,
                          refresh_every=self.config.refresh_every, seed=self.config.seed)
        if self.config.selection.upkeep == "incremental" and self.num_classes > 1:
            from opencook.xc.graph.incremental import update_graph

            build, self.graph_index = update_graph(centres, self.shard, cfg, step=step, previous=self.graph_build,
                                                   state=self.graph_index, group=self._graph_group())
            return build
        return rebuild_graph(centres, self.shard, cfg, step=step, group=self._graph_group(),
                             recall_sample=self.config.graph_recall_sample)

    def _graph_due(self) -> bool:
        return self.graph is None or self.step - self.graph_step >= self.config.refresh_every

    def _warming_up(self) -> bool:
        return self.step < self.config.selection.warmup_steps

    def _refresh_graph_if_due(self) -> None:
        """Keep the graph current. With ``graph_lag`` L > 0 a due rebuild runs on a side thread from the
        centres of step t and is installed at step t + L on every rank (waiting for it if need be), so
        the step count at which a graph changes never depends on timing."""
        if self.mode != "knn" or not self.config.selection.uses_graph or self._warming_up():
            return
        if self._pending is not None and self.step >= self._pending_install:
            future, self._pending = self._pending, None
            self.graph_build = future.result()
        if not self._graph_due() or self._pending is not None:
            return
        if self.graph is None or not self.config.graph_lag:  # the first graph is needed at once
            self.refresh_graph()
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="xc-graph")
        self._graph_group()  # a collective: created here, on the main thread, in step order
        snapshot = self._centres_snapshot()
        self._pending = self._pool.submit(self._build_graph, snapshot, self.step)
        self._pending_install = self.step + self.config.graph_lag

    # -- forward ---------------------------------------------------------------------------------
    def _check_labels(self, labels: torch.Tensor, batch: int | None = None) -> None:
        if labels.dtype != torch.long:
            raise TypeError(f"labels must be int64 (torch.long), got {labels.dtype}: pass labels.long()")
        if batch is not None and labels.shape != (batch,):
            raise ValueError(f"labels must be [{batch}] to match the batch, got {tuple(labels.shape)}")
        if labels.dim() != 1:
            raise ValueError(f"labels must be one id per sample, [batch], got {tuple(labels.shape)}")

    def _check_embeddings(self, embeddings: torch.Tensor) -> None:
        if embeddings.dim() != 2 or embeddings.shape[1] != self.embedding_dim:
            raise ValueError(f"embeddings must be [batch, {self.embedding_dim}], got {tuple(embeddings.shape)}")

    def _gather_labels(self, labels: torch.Tensor) -> torch.Tensor:
        """Every rank's labels, rank order; checked here so every rank raises the same error."""
        with self.clock.comm(self.group):
            all_labels = all_gather_cat(labels, self.group)
        bad = (all_labels < 0) | (all_labels >= self.num_classes)
        if bool(bad.any()):
            i = int(bad.nonzero()[0, 0])
            raise ValueError(f"label {int(all_labels[i])} (gathered sample {i}) is out of range "
                             f"[0, {self.num_classes})")
        return all_labels

    def _needs_features(self) -> bool:
        return self.mode == "knn" and self.config.selection.uses_features and not self._warming_up()

    def _reduce(self):
        """The selection's one all-reduce (on its own group), or None on one process."""
        group = self._selection_group()
        return None if group is None else (lambda t: all_reduce_(t, group=group))

    @torch.no_grad()
    def _feature_anchors(self, gathered: torch.Tensor) -> torch.Tensor:
        """[B, k] global ids of each sample's nearest class centres, nearest first, over all shards."""
        sel = self.config.selection
        k = min(sel.feature_k or self.config.graph_k, self.num_classes)
        cosine = self.centres is not None or self.config.logits.kind == "cosine"
        if self.feature_index is not None:
            return self._indexed_anchors(gathered, k, cosine)
        centres = self.centres.for_graph() if self.centres is not None else self.weight.detach()
        return sharded_topk(gathered.detach().to(centres.dtype), centres, self.shard.start, k, cosine=cosine,
                            group=self._selection_group()).cpu()

    def _indexed_anchors(self, gathered: torch.Tensor, k: int, cosine: bool) -> torch.Tensor:
        """Feature anchors through the IVF index, after re-assigning the rows that moved since its last query."""
        source = self.centres.values if self.centres is not None else self.weight
        moved = None if self._moved is None else (torch.cat(self._moved).unique() if self._moved
                                                  else torch.empty(0, dtype=torch.long))
        group = self._selection_group()
        self.feature_index.sync(source, moved, self.step, group=group)
        self._moved = []
        queries = F.normalize(gathered.detach().float(), dim=1) if cosine else gathered.detach().float()
        vals, ids = self.feature_index.search(queries, k)
        ids = merge_topk(vals, ids, k, group)
        ids = torch.where(ids < 0, ids[:, :1], ids)  # probed lists held fewer than k classes: repeat the nearest
        return ids.clamp_min(0)

    def _note_moved(self, active: ActiveSet, all_labels: torch.Tensor) -> None:
        """Rows the IVF index must re-assign before its next query: what the optimizer will move (the active
        rows; every row for a full-softmax step) or, over feature centres, the centres this step moved."""
        if self.feature_index is None or self._moved is None:
            return
        if self.centres is not None:
            mine = (all_labels >= self.shard.start) & (all_labels < self.shard.end)
            self._moved.append((all_labels[mine] - self.shard.start).cpu())
        elif active.local_rows is None:
            self._moved = None
        else:
            self._moved.append(active.local_rows.cpu())

    @torch.no_grad()
    def _imprint(self, gathered: torch.Tensor, all_labels: torch.Tensor) -> None:
        """Turn the W rows of this rank's classes seen for the first time to the mean direction of their
        samples in this batch (their first feature centre), keeping each row's norm."""
        labels = all_labels.to(self.weight.device)
        mine = (labels >= self.shard.start) & (labels < self.shard.end)
        local = labels[mine] - self.shard.start
        new = ~self.centres.seen[local]
        if not bool(new.any()):
            return
        rows, feats = local[new], F.normalize(gathered.detach()[mine][new].float(), dim=1)
        uniq, inverse = rows.unique(return_inverse=True)
        means = torch.zeros((uniq.numel(), feats.shape[1]), device=feats.device).index_add_(0, inverse, feats)
        norms = self.weight[uniq].float().norm(dim=1, keepdim=True)
        self.weight[uniq] = (F.normalize(means, dim=1) * norms).to(self.weight.dtype)

    def _select(self, all_labels: torch.Tensor, gathered: torch.Tensor | None = None) -> tuple[ActiveSet, torch.Tensor]:
        """This step's active set and its weight rows (gathered once, shared by every micro-batch). Its
        communication (the count all-reduce, feature anchors' merge) is on a group of its own, so it may
        run on a side thread: the graph was refreshed before, on the main thread, and the weights do not
        change until the optimizer steps after backward."""
        sel, mode, budget = self.config.selection, self.mode, self.budget
        if mode == "knn" and self._warming_up():
            mode, budget = "random", (self.num_classes if sel.warmup == "full" else budget)
        anchors = [self._feature_anchors(gathered)] if mode == "knn" and sel.uses_features else []
        graph = self.graph if mode == "knn" and sel.uses_graph else None
        active = select_active(all_labels.cpu(), mode, self.shard, graph=graph, budget=budget,
                               seed=self.config.seed, step=self.step, anchors=anchors,
                               uniform_share=sel.uniform_share if mode == "knn" else 0.0, logq=sel.logq,
                               reduce=None if mode == "full" else self._reduce())
        device = self.weight.device
        active = ActiveSet(None if active.local_rows is None else active.local_rows.to(device, non_blocking=True),
                           active.target_pos.to(device, non_blocking=True), active.global_size,
                           None if active.logit_bias is None else active.logit_bias.to(device))
        if active.local_rows is None:
            return active, self.weight
        return active, F.embedding(active.local_rows, self.weight, sparse=True)

    def _select_hidden(self, all_labels: torch.Tensor) -> tuple[ActiveSet, torch.Tensor]:
        """``_select`` on the side thread, its time counted as hidden (the main thread computes meanwhile)."""
        t = time.perf_counter()
        try:
            return self._select(all_labels)
        finally:
            self.clock.selection_hidden_s += time.perf_counter() - t

    def _sample_losses(self, gathered: torch.Tensor, rows: torch.Tensor, target_pos: torch.Tensor,
                       bias: torch.Tensor | None = None) -> torch.Tensor:
        """Per-sample loss of gathered embeddings whose targets sit at ``target_pos`` (-1: other shard)."""
        if not bool(torch.isfinite(gathered.detach()).all()):  # gathered: every rank raises alike
            raise FloatingPointError("embeddings contain NaN or Inf; check the backbone's loss scale / learning rate")
        logits = class_logits(gathered, rows.to(gathered.dtype), target_pos, self.config.logits)
        if bias is not None:
            logits = logits + bias.to(logits.dtype)
        return sharded_cross_entropy(logits.float(), target_pos, self.group, self.clock)

    def _start_gather(self, embeddings: torch.Tensor) -> PendingGather:
        self._check_embeddings(embeddings)
        return start_all_gather(embeddings, self.group, self.clock)

    def forward(self, embeddings: torch.Tensor | Iterable[torch.Tensor], labels: torch.Tensor, *,
                select_on: Executor | None = None) -> torch.Tensor:
        """The mean loss over every rank's samples (the same value on every rank).

        ``embeddings``: this rank's [B, D] tensor, or its micro-batches in order -- a list, or a generator
        that runs the backbone lazily, so that each micro-batch's all-gather travels while the next one's
        backbone computes. ``labels``: this rank's [B] int64 labels, for all micro-batches together.
        ``select_on``: an executor whose thread chooses the step's active set meanwhile.
        """
        whole = isinstance(embeddings, torch.Tensor)
        imprint = self.config.selection.imprint and self.centres is not None
        late = self._needs_features() or imprint  # both need the whole gathered batch before selection
        if whole:
            self._check_embeddings(embeddings)
        self._check_labels(labels, embeddings.shape[0] if whole else None)
        all_labels = self._gather_labels(labels)
        with self.clock.selection():
            if self.mode != "full":
                self._selection_group()  # a collective: made here, on the main thread
            self._refresh_graph_if_due()
            future = select_on.submit(self._select_hidden, all_labels) if select_on is not None and not late else None
            active, rows = self._select(all_labels) if future is None and not late else (None, None)
        per_rank, world = labels.shape[0], world_size(self.group)
        parts = self._gathers((embeddings,) if whole else embeddings)
        if late:  # every micro-batch's backbone (and gather) first; then one selection from the whole batch
            parts = list(parts)
            batch = self._rank_major([g for _, g in parts], world)
            if imprint:
                self._imprint(batch, all_labels)
            with self.clock.selection():
                active, rows = self._select(all_labels, batch)
        total, done = None, 0
        for n, gathered in parts:
            if active is None:
                with self.clock.selection():
                    active, rows = future.result()
            if done + n > per_rank:
                raise ValueError(f"the micro-batches hold more than the {per_rank} samples of labels")
            target_pos, mb_labels = active.target_pos, all_labels
            if not whole:  # this micro-batch's samples in the gathered batch: rank r's slice [done, done + n)
                target_pos = target_pos.reshape(world, per_rank)[:, done:done + n].reshape(-1)
                mb_labels = all_labels.reshape(world, per_rank)[:, done:done + n].reshape(-1)
            if done == 0 and self._gauge_due():
                self._gauge(gathered, all_labels, active)
            losses = self._sample_losses(gathered, rows, target_pos, active.logit_bias)
            if self.centres is not None:
                self.centres.accumulate(gathered, mb_labels)
            if whole:
                total = losses.mean()
            else:
                total = losses.sum() if total is None else total + losses.sum()
            done += n
        if done != per_rank:
            raise ValueError(f"the micro-batches hold {done} samples but labels has {per_rank}: "
                             "split embeddings and labels alike")
        if self.centres is not None:
            self.centres.apply()
        self._note_moved(active, all_labels)
        self.last = active
        self.step += 1
        return total if whole else total / (per_rank * world)

    def _gathers(self, chunks: Iterable[torch.Tensor]):
        """(local rows, gathered embeddings) per micro-batch, in order. Each gather is issued as soon as its
        micro-batch exists and waited only after the next micro-batch's backbone has run (``chunks`` may be a
        generator that runs it)."""
        chunks = iter(chunks)
        first = next(chunks, None)
        if first is None:
            raise ValueError("forward got no micro-batches: pass a [batch, D] tensor or a non-empty list of them")
        pending = self._start_gather(first)
        while pending is not None:
            following = next(chunks, None)
            following = None if following is None else self._start_gather(following)
            yield pending.local.shape[0], pending.wait()
            pending = following

    @staticmethod
    def _rank_major(gathered: list[torch.Tensor], world: int) -> torch.Tensor:
        """The micro-batches' gathers ([world * n_i, D] each) as the whole batch's: rank 0's samples in
        micro-batch order, then rank 1's, ... -- the order of the gathered labels. Detached: only selection
        and imprinting read it."""
        if len(gathered) == 1:
            return gathered[0].detach()
        per = [g.detach().reshape(world, -1, g.shape[1]) for g in gathered]
        return torch.cat(per, dim=1).reshape(-1, gathered[0].shape[1])

    def _gauge_due(self) -> bool:
        every = self.config.coverage_every
        return bool(every) and self.mode != "full" and self.step % every == 0

    def _gauge(self, gathered: torch.Tensor, all_labels: torch.Tensor, active: ActiveSet) -> None:
        """Coverage of this step's active set and of a uniform one of the same size (``last_coverage``)."""
        with self.clock.selection():
            uniform = select_active(all_labels.cpu(), "random", self.shard, budget=active.global_size,
                                    seed=self.config.seed + 104_729, step=self.step, reduce=self._reduce())
            device = self.weight.device
            uniform = ActiveSet(uniform.local_rows.to(device), uniform.target_pos.to(device), uniform.global_size)
            rows = gauge_rows(gathered.shape[0], self.config.coverage_rows).to(gathered.device)
            values = coverage(gathered.detach()[rows], self.weight, self.shard,
                              {"selected": active, "uniform": uniform}, self.config.logits, group=self.group)
        self.last_coverage = {"step": self.step, "rows": int(rows.numel()), "active_classes": active.global_size,
                              **values}

    def row_state(self) -> dict[str, torch.Tensor]:
        """Row-shaped state besides W (feature centres), checkpointed per class range: it reshards N -> M."""
        return {} if self.centres is None else self.centres.rows()

    def load_row_state(self, rows: dict[str, torch.Tensor]) -> None:
        if self.centres is not None and rows:
            self.centres.load_rows({k: v.to(self.centres.values.device) for k, v in rows.items()})

    @torch.no_grad()
    def predict_topk(self, embeddings: torch.Tensor, k: int = 5, chunk_rows: int = 65536) -> torch.Tensor:
        """Top-k global class ids [world*B, k] for every rank's ``embeddings`` (full normaliser)."""
        gathered = all_gather_cat(embeddings, self.group)
        return sharded_topk(gathered, self.weight, self.shard.start, k, cosine=self.config.logits.kind == "cosine",
                            chunk_rows=chunk_rows, group=self.group)

    # -- state -----------------------------------------------------------------------------------
    def get_extra_state(self) -> dict:
        """A graph still being built is finished and saved with its install step, so that a resumed run
        changes graphs at the same steps as an uninterrupted one. Plain dicts, as checkpoints always held."""
        pending = None
        if self._pending is not None:  # waits for the build; it is still installed at its step
            pending = {**vars(self._pending.result()), "install": self._pending_install}
        return {"step": self.step, "graph_step": self.graph_step, "graph": self.graph, "pending": pending,
                "graph_method": None if self.graph_build is None else self.graph_build.method,
                "graph_index": None if self.graph_index is None else self.graph_index.state(),
                "feature_index": None if self.feature_index is None else self.feature_index.state()}

    def set_extra_state(self, state: dict) -> None:
        from opencook.xc.graph import GraphBuild

        self.step = state["step"]
        self.graph_build = None
        if state["graph"] is not None:  # the build's cost was logged by the run that made it
            self.graph_build = GraphBuild(state["graph"], state.get("graph_method") or "", state["graph_step"],
                                          0.0, None)
        self.graph_index = None
        if state.get("graph_index") is not None:
            from opencook.xc.graph.incremental import GraphIndex

            self.graph_index = GraphIndex(**state["graph_index"])
        if self.feature_index is not None:  # its lists are rebuilt from the centroids and the current rows
            self.feature_index.load_state(state.get("feature_index"))
            self._moved = []
        pending = state.get("pending")
        if pending is not None:
            done: Future = Future()
            done.set_result(GraphBuild(**{k: v for k, v in pending.items() if k != "install"}))
            self._pending, self._pending_install = done, pending["install"]

    def extra_repr(self) -> str:
        s = self.shard
        return (f"dim={self.embedding_dim}, classes={self.num_classes}, shard=[{s.start}, {s.end}), "
                f"mode={self.mode}, budget={self.budget}")


KNNSoftmax = ShardedSoftmax
"""The head's first name, kept so existing code and checkpoints' configs keep working."""
