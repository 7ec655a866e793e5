"""How many rows each SFT source gives the mixture, and which ones.

Counts are allocated exactly, not drawn: a ``repeat`` source gives ``round(repeat * kept)`` rows, and the
weighted sources share ``total`` rows in proportion to their weights (largest remainder, so they sum to
``total`` exactly). A source asked for ``t`` rows out of ``n`` kept gives every row ``t // n`` times, then
``t % n`` distinct rows sampled with a generator seeded by ``(seed, source index)``: the mixture is a pure
function of the kept rows, the config and the seed, so two builds write the same bytes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from opencook.lm.data.sft_sources import SFTSourceConfig


def targets(sources: Sequence[SFTSourceConfig], kept: Sequence[int], total: int | None) -> list[int]:
    """Rows each source contributes, given the rows it kept after filtering."""
    out = [0] * len(sources)
    weighted = [i for i, s in enumerate(sources) if s.weight is not None]
    for i, s in enumerate(sources):
        if s.weight is None:
            out[i] = round((1.0 if s.repeat is None else s.repeat) * kept[i])
    if weighted:
        budget = sum(kept[i] for i in weighted) if total is None else total
        wsum = sum(sources[i].weight for i in weighted)  # type: ignore[misc]
        exact = [budget * sources[i].weight / wsum for i in weighted]  # type: ignore[operator]
        floors = [math.floor(x) for x in exact]
        by_remainder = sorted(range(len(weighted)), key=lambda k: (floors[k] - exact[k], k))
        for k in by_remainder[:budget - sum(floors)]:
            floors[k] += 1
        for k, i in enumerate(weighted):
            if floors[k] and not kept[i]:
                raise ValueError(f"source {sources[i].name} has weight {sources[i].weight} but kept no rows "
                                 "(see its drops): fix the source or remove it from the mixture")
            out[i] = floors[k]
    return out


def choose(n_kept: int, target: int, seed: int, source_index: int) -> np.ndarray:
    """Indices (into the source's kept rows) of the ``target`` rows it gives: whole passes in order, then a
    seeded sample of the remainder in ascending order."""
    if target and not n_kept:
        raise ValueError("cannot take rows from a source that kept none")
    full, rest = divmod(target, n_kept) if n_kept else (0, 0)
    rng = np.random.default_rng((seed, source_index))
    sample = np.sort(rng.choice(n_kept, size=rest, replace=False)) if rest else np.empty(0, dtype=np.int64)
    return np.concatenate([np.tile(np.arange(n_kept, dtype=np.int64), full), sample.astype(np.int64)])
