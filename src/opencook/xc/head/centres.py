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
    """``values`` start as the (normalised) initial W rows: an unseen class keeps that placeholder, so it
    does not move -- and is not re-queried by incremental graph upkeep -- until its first sample."""

    def __init__(self, shard: ClassShard, initial: torch.Tensor, momentum: float) -> None:
        self.shard, self.momentum = shard, momentum
        self.values = F.normalize(initial.detach().float(), dim=1).clone()
        self.seen = torch.zeros(shard.size, dtype=torch.bool, device=initial.device)
        self._rows: list[torch.Tensor] = []
        self._feats: list[torch.Tensor] = []

    @torch.no_grad()
    def accumulate(self, gathered: torch.Tensor, labels: torch.Tensor) -> None:
        """Add a (micro-)batch of gathered embeddings and their global labels; ``apply`` ends the step.
        Costs O(batch·D): nothing the size of the shard is touched."""
        mine = (labels >= self.shard.start) & (labels < self.shard.end)
        self._rows.append(labels[mine] - self.shard.start)
        self._feats.append(F.normalize(gathered.detach()[mine].float(), dim=1))

    @torch.no_grad()
    def apply(self) -> None:
        if not self._rows:
            return
        rows, feats = torch.cat(self._rows), torch.cat(self._feats)
        self._rows, self._feats = [], []
        uniq, inverse = rows.unique(return_inverse=True)
        sums = torch.zeros((uniq.numel(), feats.shape[1]), device=feats.device).index_add_(0, inverse, feats)
        mean = sums / torch.bincount(inverse, minlength=uniq.numel()).unsqueeze(1).to(sums.dtype)
        old = self.values[uniq]
        self.values[uniq] = torch.where(self.seen[uniq].unsqueeze(1),
                                        self.momentum * old + (1 - self.momentum) * mean, mean)
        self.seen[uniq] = True

    def for_graph(self) -> torch.Tensor:
        """The normalised centres: feature means where a class has been seen, its initial W row where not."""
        return F.normalize(self.values, dim=1)

    def rows(self) -> dict[str, torch.Tensor]:
        """Row-shaped state for the checkpoint (``seen`` as 0/1 floats: one dtype per file)."""
        return {"centres": self.values, "centres_seen": self.seen.float()}

    def load_rows(self, rows: dict[str, torch.Tensor]) -> None:
        self.values.copy_(rows["centres"])
        self.seen.copy_(rows["centres_seen"] > 0.5)
