"""Pretraining batches from a weighted mixture of packed datasets, resumable on any number of ranks, and with
a sequence length that may change during the run.

Each source is cut into units of ``unit`` tokens (the run's longest sequence length) visited in a seeded
permutation per epoch; that permuted stream is what training reads, ``seq_len`` tokens per sample, and a
source's position is the number of stream tokens it has given. A sample's targets are always the true next
tokens of its inputs in the source. Each sample of a global batch draws its source from the weights with an
RNG seeded by ``(seed, step)``. The position is therefore (step, tokens per source): it does not depend on the
number of ranks, and after a switch from 4096 to 8192 the stream continues at the same token, so nothing is
repeated or skipped. With ``unit == seq_len`` a sample is exactly one unit.

``holdout`` keeps the last share of every source out of the stream: ``validation_batch`` reads it."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from opencook.lm.data.files import fingerprint
from opencook.lm.data.order import EpochOrder
from opencook.lm.data.packed import PackedDataset
from opencook.lm.data.position import DataPositionError, check_batch, check_position, rank_slice

MIX_TAG = 2**32 - 1  # the source-choice RNG's key never equals a source index


class PretrainLoader:
    """``sources``: ``(packed folder, weight)`` pairs; weights are relative (normalised here)."""

    kind = "pretrain"

    def __init__(self, sources: Sequence[tuple[str | Path, float]], seq_len: int, global_batch: int,
                 seed: int, *, unit: int | None = None, holdout: float = 0.0) -> None:
        check_batch(global_batch, seq_len, seed)
        if not sources:
            raise ValueError("PretrainLoader needs at least one (packed folder, weight) source")
        unit = seq_len if unit is None else unit
        if unit % seq_len:
            raise ValueError(f"seq_len {seq_len} must divide the data unit {unit}")
        if not 0.0 <= holdout < 1.0:
            raise ValueError(f"holdout must be in [0, 1), got {holdout}")
        self.seed, self.unit, self.holdout = seed, unit, holdout
        self.datasets: list[PackedDataset] = []
        self.train_tokens: list[int] = []
        weights: list[float] = []
        for path, weight in sources:
            if not (isinstance(weight, int | float) and math.isfinite(weight) and weight > 0):
                raise ValueError(f"weight {weight!r} of source {path} must be a finite number > 0")
            ds = PackedDataset(path)
            train = ds.n_tokens - int(ds.n_tokens * holdout)
            if train < unit + 1:
                held = f" ({ds.n_tokens - train} held out)" if holdout else ""
                raise ValueError(f"{path} has {train} tokens{held}, fewer than seq_len + 1 = {unit + 1}: add data "
                                 "to it, drop it from the mixture or lower seq_len")
            if holdout and ds.n_tokens - train < seq_len + 1:
                raise ValueError(f"{path}: holdout {holdout} leaves {ds.n_tokens - train} tokens for validation, "
                                 f"fewer than seq_len + 1 = {seq_len + 1}: raise data.holdout")
            self.datasets.append(ds)
            self.train_tokens.append(train)
            weights.append(float(weight))
        tokenizers = {ds.meta["tokenizer_sha256"] for ds in self.datasets}
        if len(tokenizers) > 1:
            raise ValueError("the mixture's sources were tokenised with different tokenizers: "
                             + ", ".join(f"{ds.path} ({ds.meta['tokenizer_sha256'][:12]})" for ds in self.datasets)
                             + "; rebuild them with one tokenizer")
        self.weights = weights
        self.probs = np.array(weights) / sum(weights)
        self.vocab_size = self.datasets[0].vocab_size
        self.eos_id = self.datasets[0].eos_id
        self.n_units = [(n - 1) // unit for n in self.train_tokens]
        self._orders = [EpochOrder(n, seed, s) for s, n in enumerate(self.n_units)]
        self.step = 0
        self.per_source_tokens = [0] * len(self.datasets)
        self.seq_len, self.global_batch = seq_len, global_batch
        self._detail = {"seed": seed, "weights": weights, "sources": [ds.content_id for ds in self.datasets]}
        self.fingerprint: str = fingerprint({"kind": self.kind, **self._detail, "unit": unit, "holdout": holdout})

    def set_layout(self, seq_len: int, global_batch: int) -> None:
        """Read ``global_batch`` samples of ``seq_len`` tokens per step from here on (a sequence-length switch)."""
        check_batch(global_batch, seq_len, self.seed)
        if self.unit % seq_len:
            raise ValueError(f"seq_len {seq_len} must divide the data unit {self.unit}")
        self.seq_len, self.global_batch = seq_len, global_batch

    @property
    def tokens_per_step(self) -> int:
        return self.global_batch * self.seq_len

    def _plan(self) -> tuple[np.ndarray, np.ndarray]:
        """(source, stream position in tokens) of every sample of the current global batch; advances."""
        rng = np.random.default_rng((self.seed, MIX_TAG, self.step))
        src = rng.choice(len(self.datasets), size=self.global_batch, p=self.probs)
        pos = np.empty(self.global_batch, dtype=np.int64)
        for s in range(len(self.datasets)):
            picked = np.flatnonzero(src == s)
            pos[picked] = self.per_source_tokens[s] + self.seq_len * np.arange(len(picked))
            self.per_source_tokens[s] += self.seq_len * len(picked)
        self.step += 1
        return src, pos

    def _window(self, s: int, pos: int) -> np.ndarray:
        """``seq_len`` inputs from stream position ``pos`` of source ``s`` and the source's next token after
        each (row 0 inputs, row 1 targets)."""
        out = np.empty((2, self.seq_len), dtype=np.int64)
        done = 0
        while done < self.seq_len:
            i, offset = divmod(pos + done, self.unit)
            take = min(self.unit - offset, self.seq_len - done)
            start = int(self._orders[s].take(i, 1)[0]) * self.unit + offset
            tokens = self.datasets[s].tokens(start, start + take + 1)
            out[0, done:done + take], out[1, done:done + take] = tokens[:-1], tokens[1:]
            done += take
        return out

    def next_step(self, rank: int, world: int) -> tuple[torch.Tensor, torch.Tensor]:
        """This rank's ``inputs`` and ``targets`` (``[global_batch // world, seq_len]`` int64, targets are
        the tokens that follow the inputs) of the next global batch."""
        part = rank_slice(self.global_batch, rank, world)
        src, pos = self._plan()
        batch = np.stack([self._window(int(s), int(p)) for s, p in zip(src[part], pos[part], strict=True)])
        return torch.from_numpy(batch[:, 0].copy()), torch.from_numpy(batch[:, 1].copy())

    def validation_batch(self, rows: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``rows`` fixed windows of ``seq_len`` from the held-out tails, taken from the sources in turn
        (the same rows at every evaluation and on any number of ranks)."""
        if not self.holdout:
            raise ValueError("no held-out data: set data.holdout > 0")
        per_source = [0] * len(self.datasets)
        out = np.empty((rows, 2, self.seq_len), dtype=np.int64)
        for r in range(rows):
            s = r % len(self.datasets)
            ds, first = self.datasets[s], self.train_tokens[s]
            count = (ds.n_tokens - first - 1) // self.seq_len
            start = first + (per_source[s] % count) * self.seq_len
            per_source[s] += 1
            tokens = ds.tokens(start, start + self.seq_len + 1)
            out[r, 0], out[r, 1] = tokens[:-1], tokens[1:]
        return torch.from_numpy(out[:, 0].copy()), torch.from_numpy(out[:, 1].copy())

    def state_dict(self) -> dict:
        return {"kind": self.kind, "step": self.step, "per_source_tokens": list(self.per_source_tokens),
                "fingerprint": self.fingerprint, "global_batch": self.global_batch, "seq_len": self.seq_len,
                "unit": self.unit, "detail": self._detail}

    def load_state_dict(self, state: dict) -> None:
        check_position(state, self.state_dict())
        if "per_source_tokens" in state:
            tokens = [int(c) for c in state["per_source_tokens"]]
        elif "per_source_consumed" in state:  # written before positions were kept in tokens: windows of seq_len
            tokens = [int(c) * int(state["seq_len"]) for c in state["per_source_consumed"]]
        else:
            raise DataPositionError(f"malformed pretrain data position {state!r}")
        if len(tokens) != len(self.datasets) or min(tokens) < 0 or int(state["step"]) < 0:
            raise ValueError(f"malformed pretrain data position {state!r}")
        self.step, self.per_source_tokens = int(state["step"]), tokens

    def describe(self) -> dict:
        return {
            "kind": self.kind, "step": self.step, "seq_len": self.seq_len, "global_batch": self.global_batch,
            "tokens_per_step": self.tokens_per_step, "seed": self.seed, "unit": self.unit, "holdout": self.holdout,
            "sources": [{"path": str(ds.path), "weight": w, "share": float(p), "tokens": ds.n_tokens,
                         "train_tokens": t, "docs": len(ds.doc_starts), "windows": n * self.unit // self.seq_len,
                         "consumed": c // self.seq_len, "consumed_tokens": c, "epochs": c / (n * self.unit)}
                        for ds, w, p, t, n, c in zip(self.datasets, self.weights, self.probs, self.train_tokens,
                                                     self.n_units, self.per_source_tokens, strict=True)],
        }
