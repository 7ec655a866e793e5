"""Synthetic clustered classes with confusable neighbours, at any class count, from small tables.

Class ``y``'s centre is ``normalise(a * group(y // group_size) + b * own(y))`` with ``b = sqrt(1 - a^2)``:
classes of one group share a direction (expected cosine ``a^2`` between them, ~0 across groups), so
a class's nearest classes are its group -- the structure a KNN softmax exploits. ``group`` and ``own``
are rows of a small seeded table when the ids fit, else the mean of two rows of two hashed tables,
so 10M classes cost ``4 * table_rows * input_dim`` floats, never ``C * D``. A sample is
``centre(y) + noise * eps`` with ``eps ~ N(0, I / input_dim)`` (so ``noise`` is the noise-to-signal
norm ratio), drawn by a counter-based generator keyed by (seed, step, global row).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
import torch

from opencook.xc.data import counter_rng as rng
from opencook.xc.data.protocol import PAD_LABEL, check_step, eval_rows, rank_rows

_TRAIN, _EVAL, _GROUP, _OWN, _ZIPF = 1, 2, 3, 4, 5
_MAX_CLASSES = 1 << 40


@dataclass(frozen=True)
class SyntheticClusteredConfig:
    kind: Literal["synthetic"] = "synthetic"
    num_classes: int = 100_000
    input_dim: int = 64
    group_size: int = 16
    """Classes per group; each class's most confusable neighbours are the rest of its group."""
    group_weight: float = 0.8
    """``a``: share of the group direction in a centre; same-group cosine is about ``a^2``."""
    noise: float = 1.0
    label_dist: Literal["uniform", "zipf"] = "uniform"
    zipf_exponent: float = 1.0
    """Class of popularity rank ``k`` has probability ~ ``(k + 1) ** -zipf_exponent`` under ``zipf``."""
    eval_size: int = 10_000
    table_rows: int = 16_384
    """Rows per table; ids beyond this are hashed onto two tables (collisions of both rows are rare)."""
    seed: int = 0
    """Class geometry and the training stream."""
    eval_seed: int = 1
    """The held-out set, drawn from the same distribution with its own stream."""

    def __post_init__(self) -> None:
        if not 1 <= self.num_classes < _MAX_CLASSES:
            raise ValueError(f"num_classes must be in [1, 2**40), got {self.num_classes}")
        if self.input_dim < 1 or self.group_size < 1 or self.table_rows < 1 or self.eval_size < 1:
            raise ValueError("input_dim, group_size, table_rows and eval_size must all be >= 1")
        if not 0.0 <= self.group_weight <= 1.0:
            raise ValueError(f"group_weight must be in [0, 1], got {self.group_weight}")
        if self.noise < 0 or self.zipf_exponent <= 0:
            raise ValueError("noise must be >= 0 and zipf_exponent > 0")


class _Table:
    """A vector per id in ``[0, n)``: a direct table if ``n <= rows``, else two hashed tables."""

    def __init__(self, n: int, rows: int, dim: int, seed: int, tag: int) -> None:
        self.rows = rows
        self.direct = n <= rows
        self.salt = rng.key(seed, tag, 0)
        count = n if self.direct else 2 * rows
        values = rng.normal(rng.row_keys(rng.key(seed, tag, 1), np.arange(count)), dim) / math.sqrt(dim)
        self.table = values.astype(np.float32)

    def __call__(self, ids: np.ndarray) -> np.ndarray:
        if self.direct:
            return self.table.take(ids, axis=0)
        h = rng.row_keys(self.salt, ids)
        first = (h % np.uint64(self.rows)).astype(np.int64)
        second = ((h >> np.uint64(32)) % np.uint64(self.rows)).astype(np.int64) + self.rows
        pair = self.table.take(first, axis=0) + self.table.take(second, axis=0)
        return pair * np.float32(math.sqrt(0.5))

    @property
    def numel(self) -> int:
        return self.table.size


class SyntheticClustered:
    """Dense inputs of clustered, hierarchically confusable classes (see the module docstring)."""

    input_kind = "dense"

    def __init__(self, config: SyntheticClusteredConfig) -> None:
        self.config = config
        self.num_classes = config.num_classes
        self.input_dim = config.input_dim
        self.num_groups = -(-config.num_classes // config.group_size)
        self._groups = _Table(self.num_groups, config.table_rows, config.input_dim, config.seed, _GROUP)
        self._own = _Table(config.num_classes, config.table_rows, config.input_dim, config.seed, _OWN)
        self._zipf_mult = self._coprime_multiplier()
        self._zipf_shift = int(rng.key(config.seed, _ZIPF, 1)) % config.num_classes

    def class_centres(self, ids: torch.Tensor | np.ndarray | Sequence[int]) -> torch.Tensor:
        """Unit-norm float32 centres ``[len(ids), input_dim]``, computed on the fly from the tables."""
        ids = np.asarray(ids.cpu() if isinstance(ids, torch.Tensor) else ids, dtype=np.int64).reshape(-1)
        if ids.size and (ids.min() < 0 or ids.max() >= self.num_classes):
            raise ValueError(f"class ids must be in [0, {self.num_classes})")
        return torch.from_numpy(self._centres(ids))

    def _centres(self, ids: np.ndarray) -> np.ndarray:
        a = self.config.group_weight
        mixed = np.float32(a) * self._groups(ids // self.config.group_size)
        mixed += np.float32(math.sqrt(1 - a * a)) * self._own(ids)
        mixed /= np.maximum(np.linalg.norm(mixed, axis=1, keepdims=True), np.float32(1e-12))
        return mixed

    def train_batch(
        self, step: int, global_batch: int, rank: int, world_size: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        check_step(step)
        lo, hi = rank_rows(global_batch, rank, world_size)
        return self._samples(rng.key(self.config.seed, _TRAIN, step), np.arange(lo, hi, dtype=np.int64))

    def eval_batches(
        self, batch_size: int, rank: int, world_size: int
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        base = rng.key(self.config.eval_seed, _EVAL, 0)
        for rows, valid in eval_rows(self.config.eval_size, batch_size, rank, world_size):
            x, y = self._samples(base, rows)
            y[torch.from_numpy(~valid)] = PAD_LABEL
            yield x, y

    def describe(self) -> dict:
        c = self.config
        return {
            **asdict(c),
            "input_kind": self.input_kind,
            "num_groups": self.num_groups,
            "table_elements": self._groups.numel + self._own.numel,
            "expected_same_group_cosine": c.group_weight**2,
        }

    def _samples(self, base: np.uint64, rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        keys = rng.row_keys(base, rows)
        labels = self._labels(keys)
        noise = rng.normal(keys, self.input_dim, stream=1) * (self.config.noise / math.sqrt(self.input_dim))
        x = self._centres(labels) + noise.astype(np.float32)
        return torch.from_numpy(x), torch.from_numpy(labels)

    def _labels(self, keys: np.ndarray) -> np.ndarray:
        c = self.config
        if c.label_dist == "uniform":
            return (rng.bits(keys, 1)[:, 0] % np.uint64(c.num_classes)).astype(np.int64)
        rank = _zipf_rank(rng.uniform(keys, 1)[:, 0], c.num_classes, c.zipf_exponent)
        return (rank * self._zipf_mult + self._zipf_shift) % c.num_classes

    def _coprime_multiplier(self) -> int:
        """Scatters popularity ranks over class ids (a bijection), so head classes spread over shards."""
        mult = (1 << 20) + (int(rng.key(self.config.seed, _ZIPF, 0)) % (1 << 20)) | 1
        while math.gcd(mult, self.num_classes) != 1:
            mult += 2
        return mult


def _zipf_rank(u: np.ndarray, n: int, s: float) -> np.ndarray:
    """Inverse CDF of the continuous power law ``x^-s`` on ``[1, n + 1)``, floored to a rank in ``[0, n)``."""
    if abs(s - 1.0) < 1e-9:
        x = np.exp(u * math.log(n + 1.0))
    else:
        top = (n + 1.0) ** (1.0 - s) - 1.0
        x = (1.0 + u * top) ** (1.0 / (1.0 - s))
    return np.clip(np.floor(x).astype(np.int64) - 1, 0, n - 1)
