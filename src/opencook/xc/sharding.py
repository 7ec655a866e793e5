"""Contiguous class ranges: rank r owns classes [start, end) of the classifier.

Contiguous ranges make ownership a comparison (no lookup table) and let a checkpoint written by N
ranks be re-cut for M ranks by slicing rows.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ClassShard:
    num_classes: int
    rank: int
    world_size: int
    start: int
    end: int

    @property
    def size(self) -> int:
        return self.end - self.start


def shard_range(num_classes: int, rank: int, world_size: int) -> ClassShard:
    """Rank ``rank``'s slice: the first ``num_classes % world_size`` ranks get one extra class."""
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    if not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} is outside a world of size {world_size}")
    base, extra = divmod(num_classes, world_size)
    start = rank * base + min(rank, extra)
    end = start + base + (1 if rank < extra else 0)
    return ClassShard(num_classes, rank, world_size, start, end)


def all_shards(num_classes: int, world_size: int) -> list[ClassShard]:
    return [shard_range(num_classes, r, world_size) for r in range(world_size)]
