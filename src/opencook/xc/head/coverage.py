"""The coverage gauge: does the active set hold what the full softmax would put its mass on?

For a sample of gathered rows it scores every class (each rank its shard, in row chunks), takes the
full softmax's log-normaliser across shards, and reports the share of probability mass that falls on
the active set and the recall of the full softmax's top-10 classes -- for the selection in use and for
a uniform random selection of the same size. It says whether a selection works before accuracy does.
"""

from __future__ import annotations

import torch

from opencook.kit.dist import all_gather_cat, all_reduce_
from opencook.xc.head.active_set import ActiveSet
from opencook.xc.head.logits import LogitConfig, class_logits
from opencook.xc.head.topk import sharded_topk
from opencook.xc.sharding import ClassShard

TOP = 10


def gauge_rows(batch: int, rows: int) -> torch.Tensor:
    """An evenly spaced sample of the gathered batch (which is rank-major): every rank's samples."""
    rows = min(rows, batch)
    return torch.arange(rows) * batch // rows


@torch.no_grad()
def coverage(embeddings: torch.Tensor, weight: torch.Tensor, shard: ClassShard, sets: dict[str, ActiveSet],
             logits: LogitConfig, group=None, chunk_rows: int = 65536) -> dict[str, float]:
    """``{name}_mass`` and ``{name}_top10_recall`` for each active set in ``sets`` (a collective)."""
    emb = embeddings.detach().float()
    r = emb.shape[0]
    no_target = torch.full((r,), -1, dtype=torch.long, device=emb.device)
    names = list(sets)
    lse = torch.full((1 + len(names), r), float("-inf"), device=emb.device)
    for lo in range(0, shard.size, chunk_rows):
        w = weight.detach()[lo:lo + chunk_rows].float()
        z = class_logits(emb, w, no_target, logits)  # no margin: the model's own distribution
        ids = torch.arange(shard.start + lo, shard.start + lo + w.shape[0], device=emb.device)
        parts = [z.logsumexp(1)]
        for name in names:
            inside = sets[name].contains(ids, shard)
            parts.append(z.masked_fill(~inside.unsqueeze(0), float("-inf")).logsumexp(1))
        lse = torch.logaddexp(lse, torch.stack(parts))
    every = all_gather_cat(lse.unsqueeze(0), group).logsumexp(0)  # [1 + sets, R] over all classes
    mass = (every[1:] - every[0]).exp().mean(1)
    top = sharded_topk(emb, weight.detach(), shard.start, TOP, cosine=logits.kind == "cosine", group=group)
    hits = torch.tensor([float(sets[n].contains(top, shard).sum()) for n in names])
    all_reduce_(hits, group=group)
    out = {}
    for i, name in enumerate(names):
        out[f"{name}_mass"] = float(mass[i])
        out[f"{name}_top10_recall"] = float(hits[i]) / top.numel()
    return out
