"""SFT batches: one example per sample, right-padded, loss only where the example's mask says so.

The position is counted in global samples (examples visited in a seeded order per epoch), so a checkpoint
continues on any number of ranks with the same global batch."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import torch

from opencook.lm.data.files import fingerprint
from opencook.lm.data.order import EpochOrder
from opencook.lm.data.position import check_batch, check_position, rank_slice
from opencook.lm.data.sft import SFTDataset

IGNORE_INDEX = -100


class SFTLoader:
    """``targets[t] = ids[t + 1]`` where ``mask[t + 1] == 1``, else ``-100`` (also on padding); an example
    longer than ``seq_len + 1`` tokens is cut (with a warning, counted in ``describe``). An epoch is
    ``epoch_steps = ceil(examples / global_batch)`` steps; the stream runs on into the next epoch's order
    without a gap, so a step can hold the end of one epoch and the start of the next."""

    kind = "sft"

    def __init__(self, path: str | Path, seq_len: int, global_batch: int, seed: int) -> None:
        check_batch(global_batch, seq_len, seed)
        self.dataset = SFTDataset(path)
        self.seq_len, self.global_batch, self.seed = seq_len, global_batch, seed
        self.cut_examples = int((self.dataset.lengths > seq_len + 1).sum())
        if self.cut_examples:
            warnings.warn(f"{self.cut_examples} of {len(self.dataset)} examples in {path} are longer than "
                          f"seq_len + 1 = {seq_len + 1} tokens and lose their tail: rebuild with "
                          f"--max-len {seq_len} or raise seq_len", stacklevel=2)
        self.vocab_size = self.dataset.vocab_size
        self._order = EpochOrder(len(self.dataset), seed, 0)
        self.step = 0
        self._content = fingerprint([self.dataset.meta["tokenizer_sha256"], self.dataset.meta["files"]])
        self._detail = {"seed": seed, "sources": [self._content]}
        self.fingerprint: str = fingerprint({"kind": self.kind, **self._detail, "seq_len": seq_len,
                                             "global_batch": global_batch})

    @property
    def tokens_per_step(self) -> int:
        return self.global_batch * self.seq_len

    @property
    def epoch_steps(self) -> int:
        return math.ceil(len(self.dataset) / self.global_batch)

    @property
    def consumed(self) -> int:
        return self.step * self.global_batch

    def next_step(self, rank: int, world: int) -> tuple[torch.Tensor, torch.Tensor]:
        """This rank's ``inputs`` and ``targets`` (``[global_batch // world, seq_len]`` int64)."""
        part = rank_slice(self.global_batch, rank, world)
        ids = self._order.take(self.consumed + part.start, part.stop - part.start)
        self.step += 1
        inputs = np.full((len(ids), self.seq_len), self.dataset.pad_id, dtype=np.int64)
        targets = np.full((len(ids), self.seq_len), IGNORE_INDEX, dtype=np.int64)
        for row, i in enumerate(ids):
            tokens, mask = self.dataset.example(int(i))
            n_in = min(len(tokens), self.seq_len)
            inputs[row, :n_in] = tokens[:n_in]
            n_tgt = min(len(tokens) - 1, self.seq_len)
            targets[row, :n_tgt] = np.where(mask[1:n_tgt + 1] == 1, tokens[1:n_tgt + 1], IGNORE_INDEX)
        return torch.from_numpy(inputs), torch.from_numpy(targets)

    def state_dict(self) -> dict:
        return {"kind": self.kind, "step": self.step, "per_source_consumed": [self.consumed],
                "fingerprint": self.fingerprint, "global_batch": self.global_batch, "seq_len": self.seq_len,
                "detail": self._detail}

    def load_state_dict(self, state: dict) -> None:
        check_position(state, self.state_dict())
        if int(state["step"]) < 0:
            raise ValueError(f"malformed SFT data position {state!r}")
        self.step = int(state["step"])

    def describe(self) -> dict:
        meta = self.dataset.meta
        return {
            "kind": self.kind, "step": self.step, "seq_len": self.seq_len, "global_batch": self.global_batch,
            "tokens_per_step": self.tokens_per_step, "seed": self.seed, "epoch_steps": self.epoch_steps,
            "sources": [{"path": str(self.dataset.path), "weight": 1.0, "share": 1.0, "examples": len(self.dataset),
                         "tokens": meta["n_tokens"], "loss_tokens": meta["n_loss_tokens"],
                         "consumed": self.consumed, "epochs": self.consumed / len(self.dataset),
                         "cut_to_seq_len": self.cut_examples}],
        }
