"""One hybrid-parallel step, optionally pipelined: the head of micro-batch i overlaps the backbone of i+1.

The head does the pipelining (``ShardedSoftmax.forward`` given micro-batches): each micro-batch's
embeddings are all-gathered asynchronously right after its backbone forward, so the transfer is in
flight while the next micro-batch's backbone computes, and the step's active set is chosen once -- from
all the labels on a side thread while the backbone runs (label anchors, ``side_thread`` on), or, for the
default feature anchors and imprinting, from the whole gathered batch once every micro-batch's backbone
has run. The loss is the
sum of per-sample losses over the global batch divided by its size: the same value, and the same
gradients up to float rounding, as the unpipelined step. DDP still all-reduces the backbone's gradient
in buckets during the one backward. This file times the step on the head's clock.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import torch
from torch import nn

from opencook.kit.dist import world_size
from opencook.xc.head.softmax import ShardedSoftmax


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
    """Forward and backward of one step for a (DDP-wrapped) backbone and a class-sharded head; the step's
    time split is read from ``head.clock``."""

    def __init__(self, model: nn.Module, backbone: nn.Module, head: ShardedSoftmax, cfg: OverlapConfig) -> None:
        self.model, self.head, self.cfg = model, head, cfg
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="xc-select") if cfg.side_thread else None
        for p in backbone.parameters():  # the last one marks the end of backward compute: DDP's tail starts
            if p.requires_grad:
                p.register_post_accumulate_grad_hook(head.clock.grad_ready)

    def run(self, x: torch.Tensor, y: torch.Tensor) -> StepResult:
        """Forward + backward (gradients left in ``.grad``); the optimizers are the caller's."""
        m, clock = self.cfg.micro_batches, self.head.clock
        if x.shape[0] < m:
            raise ValueError(f"a rank's batch of {x.shape[0]} cannot be split into {m} micro-batches")
        clock.reset()
        t0 = time.perf_counter()
        loss = self.head((self.model(chunk) for chunk in x.chunk(m)), y, select_on=self.pool)
        loss.backward()
        t_end = time.perf_counter()
        if world_size(self.head.group) > 1:
            clock.ddp_tail(t_end)
        seconds = t_end - t0
        return StepResult(loss.item(), seconds, clock.split(seconds))

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True)
