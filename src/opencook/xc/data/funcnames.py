"""A real many-class task from code: predict a Python function's name from the tokens of its body.

Built once by ``funcnames_build`` (cached), then served world-size independently: the training
stream is a seeded permutation per epoch (``argsort`` of counter-based hashes, so it depends on no
library's RNG), and step ``t`` takes positions ``[t*G, (t+1)*G)`` of the endless concatenation of
epochs -- rank ``r`` of ``W`` reads positions ``[t*G + r*G/W, t*G + (r+1)*G/W)``.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from opencook.xc.data import counter_rng as rng
from opencook.xc.data.funcnames_build import Split, load_or_build, select_classes
from opencook.xc.data.funcnames_config import FunctionNamesConfig
from opencook.xc.data.protocol import PAD_LABEL, check_step, eval_rows, rank_rows

_ORDER = 11
class FunctionNames:
    """Token inputs (int64 ``[B, max_tokens]``, 0 = padding) labelled with the function's name id."""

    input_kind = "tokens"

    def __init__(self, config: FunctionNamesConfig) -> None:
        self.config = config
        every, self.cache_path, self.cache_hit = load_or_build(config)
        self.data = select_classes(every, config.min_count)
        self.class_names: list[str] = self.data.names
        self.num_classes = len(self.class_names)
        self.input_dim = config.vocab_buckets
        self.max_tokens = config.max_tokens
        self._train = self.data.splits["train"]
        self._eval = self.data.splits["eval"]
        if len(self._train) == 0:
            raise ValueError(f"funcnames: the train split is empty (eval_fraction={config.eval_fraction})")
        self._perms: dict[int, np.ndarray] = {}

    def train_batch(
        self, step: int, global_batch: int, rank: int, world_size: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        check_step(step)
        lo, hi = rank_rows(global_batch, rank, world_size)
        n = len(self._train)
        positions = step * global_batch + np.arange(lo, hi, dtype=np.int64)
        epochs, within = np.divmod(positions, n)
        rows = np.empty_like(positions)
        for epoch in np.unique(epochs):
            mask = epochs == epoch
            rows[mask] = self._permutation(int(epoch))[within[mask]]
        return self._gather(self._train, rows), torch.from_numpy(self._train.labels[rows])

    def eval_batches(
        self, batch_size: int, rank: int, world_size: int
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        if len(self._eval) == 0:
            raise ValueError("funcnames: the eval split is empty; raise eval_fraction or add sources")
        for rows, valid in eval_rows(len(self._eval), batch_size, rank, world_size):
            labels = torch.from_numpy(np.where(valid, self._eval.labels[rows], PAD_LABEL))
            yield self._gather(self._eval, rows), labels

    def describe(self) -> dict:
        c = self.config
        return {
            "kind": c.kind,
            "input_kind": self.input_kind,
            "num_classes": self.num_classes,
            "input_dim": self.input_dim,
            "max_tokens": self.max_tokens,
            "seed": c.seed,
            **self.data.stats,
            "cache_path": str(self.cache_path),
            "cache_hit": self.cache_hit,
        }

    def _permutation(self, epoch: int) -> np.ndarray:
        perm = self._perms.get(epoch)
        if perm is None:
            keys = rng.row_keys(rng.key(self.config.seed, _ORDER, epoch), np.arange(len(self._train)))
            perm = np.argsort(keys, kind="stable")
            self._perms = {k: v for k, v in self._perms.items() if k == epoch - 1}
            self._perms[epoch] = perm
        return perm

    def _gather(self, split: Split, rows: np.ndarray) -> torch.Tensor:
        starts = split.offsets[rows]
        lengths = split.offsets[rows + 1] - starts
        cols = np.arange(self.max_tokens, dtype=np.int64)
        inside = cols[None, :] < lengths[:, None]
        index = np.where(inside, starts[:, None] + cols[None, :], 0)
        tokens = split.tokens[index] if len(split.tokens) else np.zeros(index.shape, np.int32)
        return torch.from_numpy(np.where(inside, tokens, 0).astype(np.int64))
