"""One hybrid-parallel step, optionally pipelined: the head of micro-batch i overlaps the backbone of i+1.

The step's active set depends only on the gathered labels (and the graph), so it is computed once per
step -- on a side thread while the backbone runs, when ``side_thread`` is on -- and every micro-batch
scores against the same rows (gathered once, on the side thread too). Each micro-batch's embeddings
are all-gathered asynchronously right after its backbone forward, so the transfer is in flight while
the next micro-batch's backbone computes. The loss is the sum of per-sample losses over the global
batch divided by its size: the same value, and the same gradients up to float rounding, as the
unpipelined step. DDP still all-reduces the backbone's gradient in buckets during the one backward.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import accumulate

import torch
from torch import nn

from opencook.kit.dist import world_size
from opencook.xc.head.active_set import ActiveSet
from opencook.xc.head.collectives import start_all_gather
from opencook.xc.head.softmax import KNNSoftmax
from opencook.xc.head.timing import CLOCK


@dataclass(frozen=True)
class OverlapConfig:
    """``micro_batches`` splits each rank's batch (1 = no pipelining); ``side_thread`` selects the
    active set on a worker thread while the backbone computes."""

    micro_batches: int = 1
    side_thread: bool = False

    def __post_init__(self) -> None:
        if self.micro_batches < 1:
            raise ValueError(f"overlap.micro_batches must be >= 1, got {self.micro_batches}")


@dataclass
class StepResult:
    loss: float
    seconds: float
    split: dict[str, float]


class HybridStep:
    """Forward and backward of one step for a (DDP-wrapped) backbone and a class-sharded head."""

    def __init__(self, model: nn.Module, backbone: nn.Module, head: KNNSoftmax, cfg: OverlapConfig) -> None:
        self.model, self.head, self.cfg = model, head, cfg
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="xc-select") if cfg.side_thread else None
        for p in backbone.parameters():  # the last one marks the end of backward compute: DDP's tail starts
            if p.requires_grad:
                p.register_post_accumulate_grad_hook(CLOCK.grad_ready)

    def _select(self, all_labels: torch.Tensor) -> tuple[ActiveSet, torch.Tensor]:
        """The active set and its gathered rows, on the side thread (the weights do not change until the
        optimizer steps after ``run``; autograd records the gather on this thread as on any other)."""
        t = time.perf_counter()
        active = self.head.select(all_labels)
        rows = self.head.active_rows(active)
        CLOCK.selection_hidden_s += time.perf_counter() - t
        return active, rows

    def run(self, x: torch.Tensor, y: torch.Tensor) -> StepResult:
        """Forward + backward (gradients left in ``.grad``); the optimizers are the caller's."""
        head, m = self.head, self.cfg.micro_batches
        if x.shape[0] < m:
            raise ValueError(f"a rank's batch of {x.shape[0]} cannot be split into {m} micro-batches")
        CLOCK.reset()
        t0 = time.perf_counter()
        head.check_labels(y, x.shape[0])
        all_labels = head.gather_labels(y)
        with CLOCK.selection():
            head.refresh_graph_if_due()
            future = self.pool.submit(self._select, all_labels) if self.pool else None
            active = rows = None
            if future is None:
                active = head.select(all_labels)
                rows = head.active_rows(active)
        xs, ys = x.chunk(m), y.chunk(m)
        bounds = [0, *accumulate(len(c) for c in ys)]
        per_rank, world = x.shape[0], world_size(head.group)
        pending = [start_all_gather(self.model(xs[0]), head.group)]
        total = None
        for i in range(m):
            if i + 1 < m:  # the next backbone forward runs while this micro-batch's gather is in flight
                pending.append(start_all_gather(self.model(xs[i + 1]), head.group))
            if active is None:
                with CLOCK.selection():
                    active, rows = future.result()
            target_pos = active.target_pos
            if m > 1:  # this micro-batch's samples in the gathered full batch: rank r's slice [lo, hi)
                target_pos = target_pos.reshape(world, per_rank)[:, bounds[i]:bounds[i + 1]].reshape(-1)
            part = head.sample_losses(pending[i].wait(), rows, target_pos).sum()
            total = part if total is None else total + part
        loss = total / (per_rank * world)
        head.finish_step(active)
        loss.backward()
        t_end = time.perf_counter()
        if world > 1:
            CLOCK.ddp_tail(t_end)
        seconds = t_end - t0
        return StepResult(loss.item(), seconds, CLOCK.split(seconds))

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True)
