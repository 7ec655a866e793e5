"""The one interface the trainer reads data through, and the row arithmetic every dataset shares.

The contract that makes resuming on a different number of ranks exact: the *global* batch of step
``t`` is a pure function of (dataset seed, ``t``, global batch size), and rank ``r`` of ``W`` takes
rows ``[r*G/W, (r+1)*G/W)`` of it. Nothing depends on ``W`` except which slice a rank holds.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol, runtime_checkable

import numpy as np
import torch

INPUT_KINDS = ("dense", "tokens")
PAD_LABEL = -1
"""Label of eval rows that only pad the last batch; evaluators must ignore rows with this label."""


@runtime_checkable
class XCDataset(Protocol):
    num_classes: int
    input_kind: str
    """``"dense"``: float32 ``[B, input_dim]``; ``"tokens"``: int64 ``[B, max_tokens]``, 0 = padding."""
    input_dim: int
    """Feature dimension for dense inputs; vocabulary size (hash buckets, id 0 = padding) for tokens."""

    def train_batch(
        self, step: int, global_batch: int, rank: int, world_size: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """This rank's rows of step ``step``'s global batch: ``(inputs, int64 labels)``."""
        ...

    def eval_batches(
        self, batch_size: int, rank: int, world_size: int
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """This rank's rows of each global eval batch; pad rows carry label ``PAD_LABEL``."""
        ...

    def describe(self) -> dict:
        """Sizes and statistics (JSON-able) for the run directory and report."""
        ...


def rank_rows(global_batch: int, rank: int, world_size: int) -> tuple[int, int]:
    """Rows ``[lo, hi)`` of a global batch that ``rank`` owns; every rank gets the same count."""
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} is outside a world of size {world_size}")
    if global_batch < 1:
        raise ValueError(f"global batch must be >= 1, got {global_batch}")
    if global_batch % world_size:
        raise ValueError(
            f"global batch {global_batch} does not split evenly over {world_size} ranks: "
            f"use a multiple of {world_size}"
        )
    per_rank = global_batch // world_size
    return rank * per_rank, (rank + 1) * per_rank


def check_step(step: int) -> None:
    if step < 0:
        raise ValueError(f"step must be >= 0, got {step}")


def eval_rows(
    num_rows: int, batch_size: int, rank: int, world_size: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Per global eval batch, this rank's ``(row indices, valid mask)`` into a held-out set of ``num_rows``.

    ``batch_size`` is the *global* eval batch, cut over ranks like a training batch, so every rank
    yields ``ceil(num_rows / batch_size)`` batches of ``batch_size / world_size`` rows and the union
    over ranks is the held-out set in order. Rows past the end point at the batch's first row (a real
    input, so no backbone sees an all-padding row) and are marked invalid for ``PAD_LABEL``.
    """
    lo, hi = rank_rows(batch_size, rank, world_size)
    for start in range(0, num_rows, batch_size):
        rows = np.arange(start + lo, start + hi, dtype=np.int64)
        valid = rows < num_rows
        yield np.where(valid, rows, start), valid
