"""Pretraining batches from a weighted mixture of packed datasets, resumable on any number of ranks.

Each source is cut into windows of ``seq_len + 1`` tokens (stride ``seq_len``) visited in a seeded
permutation per epoch; each sample of a global batch draws its source from the weights with an RNG seeded by
``(seed, step)``. The position is therefore just the step and how many windows each source has given, counted
in global samples, so it does not depend on the number of ranks."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from opencook.lm.data.files import fingerprint
from opencook.lm.data.order import EpochOrder
from opencook.lm.data.packed import PackedDataset
from opencook.lm.data.position import check_batch, check_position, rank_slice

MIX_TAG = 2**32 - 1  # the source-choice RNG's key never equals a source index


class PretrainLoader:
    """``sources``: ``(packed folder, weight)`` pairs; weights are relative (normalised here)."""

    kind = "pretrain"

    def __init__(self, sources: Sequence[tuple[str | Path, float]], seq_len: int, global_batch: int,
                 seed: int) -> None:
        check_batch(global_batch, seq_len, seed)
        if not sources:
            raise ValueError("PretrainLoader needs at least one (packed folder, weight) source")
        self.seq_len, self.global_batch, self.seed = seq_len, global_batch, seed
        self.datasets: list[PackedDataset] = []
        weights: list[float] = []
        for path, weight in sources:
            if not (isinstance(weight, int | float) and math.isfinite(weight) and weight > 0):
                raise ValueError(f"weight {weight!r} of source {path} must be a finite number > 0")
            ds = PackedDataset(path)
            if ds.n_tokens < seq_len + 1:
                raise ValueError(f"{path} has {ds.n_tokens} tokens, fewer than seq_len + 1 = {seq_len + 1}: "
                                 "add data to it, drop it from the mixture or lower seq_len")
            self.datasets.append(ds)
            weights.append(float(weight))
        tokenizers = {ds.meta["tokenizer_sha256"] for ds in self.datasets}
        if len(tokenizers) > 1:
            raise ValueError("the mixture's sources were tokenised with different tokenizers: "
                             + ", ".join(f"{ds.path} ({ds.meta['tokenizer_sha256'][:12]})" for ds in self.datasets)
                             + "; rebuild them with one tokenizer")
        self.weights = weights
        self.probs = np.array(weights) / sum(weights)
        self.vocab_size = self.datasets[0].vocab_size
        self.n_windows = [(ds.n_tokens - 1) // seq_len for ds in self.datasets]
        self._orders = [EpochOrder(n, seed, s) for s, n in enumerate(self.n_windows)]
        self.step = 0
        self.per_source_consumed = [0] * len(self.datasets)
        self._detail = {"seed": seed, "weights": weights, "sources": [ds.content_id for ds in self.datasets]}
        self.fingerprint: str = fingerprint({"kind": self.kind, **self._detail, "seq_len": seq_len,
                                             "global_batch": global_batch})

    @property
    def tokens_per_step(self) -> int:
        return self.global_batch * self.seq_len

    def _plan(self) -> tuple[np.ndarray, np.ndarray]:
        """(source, window) of every sample of the current global batch; advances the position."""
        rng = np.random.default_rng((self.seed, MIX_TAG, self.step))
        src = rng.choice(len(self.datasets), size=self.global_batch, p=self.probs)
        win = np.empty(self.global_batch, dtype=np.int64)
        for s, order in enumerate(self._orders):
            picked = src == s
            count = int(picked.sum())
            win[picked] = order.take(self.per_source_consumed[s], count)
            self.per_source_consumed[s] += count
        self.step += 1
        return src, win

    def next_step(self, rank: int, world: int) -> tuple[torch.Tensor, torch.Tensor]:
        """This rank's ``inputs`` and ``targets`` (``[global_batch // world, seq_len]`` int64, targets are
        inputs shifted by one token) of the next global batch."""
        part = rank_slice(self.global_batch, rank, world)
        src, win = self._plan()
        batch = np.empty((part.stop - part.start, self.seq_len + 1), dtype=np.int64)
        for row, (s, w) in enumerate(zip(src[part], win[part], strict=True)):
            start = int(w) * self.seq_len
            batch[row] = self.datasets[s].tokens(start, start + self.seq_len + 1)
        return torch.from_numpy(batch[:, :-1].copy()), torch.from_numpy(batch[:, 1:].copy())

    def state_dict(self) -> dict:
        return {"kind": self.kind, "step": self.step, "per_source_consumed": list(self.per_source_consumed),
                "fingerprint": self.fingerprint, "global_batch": self.global_batch, "seq_len": self.seq_len,
                "detail": self._detail}

    def load_state_dict(self, state: dict) -> None:
        check_position(state, self.state_dict())
        consumed = [int(c) for c in state["per_source_consumed"]]
        if len(consumed) != len(self.datasets) or min(consumed) < 0 or int(state["step"]) < 0:
            raise ValueError(f"malformed pretrain data position {state!r}")
        self.step, self.per_source_consumed = int(state["step"]), consumed

    def describe(self) -> dict:
        return {
            "kind": self.kind, "step": self.step, "seq_len": self.seq_len, "global_batch": self.global_batch,
            "tokens_per_step": self.tokens_per_step, "seed": self.seed,
            "sources": [{"path": str(ds.path), "weight": w, "share": float(p), "tokens": ds.n_tokens,
                         "docs": len(ds.doc_starts), "windows": n, "consumed": c, "epochs": c / n}
                        for ds, w, p, n, c in zip(self.datasets, self.weights, self.probs, self.n_windows,
                                                  self.per_source_consumed, strict=True)],
        }
