"""Momentum-averaged class feature centres: what a class's samples look like, kept on the class's owner.

Under sampled training W's rows take on the class structure slowly (a row moves only when its class is
active), while the backbone's embeddings of a class cluster early. A centre is the running mean of the
normalised embeddings of the class's samples (FFC/DCQ's momentum class centres): the first batch that
holds the class sets it, later batches move it by ``1 - momentum``. Rows are sharded like W and
checkpointed with it, so they reshard N -> M.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from opencook.xc.sharding import ClassShard


class ClassCentres:
    def __init__(self, shard: ClassShard, dim: int, momentum: float, device=None) -> None:
        self.shard, self.momentum = shard, momentum
        self.values = torch.zeros((shard.size, dim), device=device)
        self.seen = torch.zeros(shard.size, dtype=torch.bool, device=device)
        self._sums: torch.Tensor | None = None
        self._counts: torch.Tensor | None = None

    @torch.no_grad()
    def accumulate(self, gathered: torch.Tensor, labels: torch.Tensor) -> None:
        """Add a (micro-)batch of gathered embeddings and their global labels; ``apply`` ends the step."""
        mine = (labels >= self.shard.start) & (labels < self.shard.end)
        rows = labels[mine] - self.shard.start
        if self._sums is None:
            self._sums = torch.zeros_like(self.values)
            self._counts = torch.zeros(self.shard.size, device=self.values.device)
        self._sums.index_add_(0, rows, F.normalize(gathered.detach()[mine].float(), dim=1))
        self._counts.index_add_(0, rows, torch.ones(rows.numel(), device=self.values.device))

    @torch.no_grad()
    def apply(self) -> None:
        if self._sums is None:
            return
        hit = self._counts > 0
        mean = self._sums[hit] / self._counts[hit].unsqueeze(1)
        old = self.values[hit]
        self.values[hit] = torch.where(self.seen[hit].unsqueeze(1), self.momentum * old + (1 - self.momentum) * mean,
                                       mean)
        self.seen |= hit
        self._sums = self._counts = None

    def for_graph(self, weight: torch.Tensor) -> torch.Tensor:
        """Centres where a class has been seen, its (normalised) W row where not yet."""
        w = F.normalize(weight.detach().float(), dim=1)
        return torch.where(self.seen.unsqueeze(1), F.normalize(self.values, dim=1), w)

    def rows(self) -> dict[str, torch.Tensor]:
        """Row-shaped state for the checkpoint (``seen`` as 0/1 floats: one dtype per file)."""
        return {"centres": self.values, "centres_seen": self.seen.float()}

    def load_rows(self, rows: dict[str, torch.Tensor]) -> None:
        self.values.copy_(rows["centres"])
        self.seen.copy_(rows["centres_seen"] > 0.5)
