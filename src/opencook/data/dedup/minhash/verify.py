"""Exact Jaccard of candidate pairs on their sorted unique shingle-hash sets."""

from __future__ import annotations

import numpy as np


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """|a ∩ b| / |a ∪ b| of two sorted unique arrays (1.0 for two empty sets)."""
    if not len(a) and not len(b):
        return 1.0
    if len(a) > len(b):
        a, b = b, a
    idx = np.searchsorted(b, a)
    idx[idx == len(b)] = 0
    inter = int(np.count_nonzero(b[idx] == a)) if len(b) else 0
    return inter / (len(a) + len(b) - inter)


class ShingleSets:
    """Shingle sets of some files, keyed by rank: one concatenated array and offsets, no dict of arrays."""

    def __init__(self, ranks: np.ndarray, values: np.ndarray, offsets: np.ndarray) -> None:
        order = np.argsort(ranks, kind="stable")
        self.ranks = ranks[order]
        starts, ends = offsets[:-1][order], offsets[1:][order]
        self.values, self.starts, self.ends = values, starts, ends

    def get(self, rank: int) -> np.ndarray:
        i = int(np.searchsorted(self.ranks, rank))
        if i >= len(self.ranks) or self.ranks[i] != rank:
            raise KeyError(rank)
        return self.values[self.starts[i]:self.ends[i]]


def pair_jaccard(u: np.ndarray, v: np.ndarray, sets: ShingleSets) -> np.ndarray:
    out = np.empty(len(u), dtype=np.float64)
    for k, (a, b) in enumerate(zip(u.tolist(), v.tolist(), strict=True)):
        out[k] = jaccard(sets.get(a), sets.get(b))
    return out
