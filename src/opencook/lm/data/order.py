"""The seeded, epoch-by-epoch visiting order shared by the pretraining and SFT loaders."""

from __future__ import annotations

import numpy as np


class EpochOrder:
    """Ids (windows, examples) of one source in visiting order: position p is ``perm(epoch)[p % n]``, the
    permutation of epoch ``e`` seeded by ``(seed, source, e)``. Only the current epoch's one is cached
    (8 bytes per item)."""

    def __init__(self, n: int, seed: int, source: int) -> None:
        if n < 1:
            raise ValueError(f"an epoch order needs at least one item, got {n}")
        self.n, self.seed, self.source = n, seed, source
        self._epoch, self._perm = -1, np.zeros(0, np.int64)

    def perm(self, epoch: int) -> np.ndarray:
        if epoch != self._epoch:
            self._epoch = epoch
            self._perm = np.random.default_rng((self.seed, self.source, epoch)).permutation(self.n)
        return self._perm

    def take(self, start: int, count: int) -> np.ndarray:
        """The ids at positions ``[start, start + count)``, crossing epochs as needed."""
        out = np.empty(count, dtype=np.int64)
        pos = start
        while pos < start + count:
            epoch, idx = divmod(pos, self.n)
            take = min(self.n - idx, start + count - pos)
            out[pos - start:pos - start + take] = self.perm(epoch)[idx:idx + take]
            pos += take
        return out
