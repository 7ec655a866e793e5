"""Top-k classes over *all* C classes for a batch -- evaluation with the full normaliser.

Sampled losses flatter a model (the softmax only competes against chosen classes), so accuracy is
always measured against every class. Each rank scans its shard in row chunks (never a B x C_local
matrix), keeps its best k, and the per-rank candidates are merged after one all-gather.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from opencook.kit.dist import all_gather_cat, is_distributed, world_size


@torch.no_grad()
def sharded_topk(embeddings: torch.Tensor, weight_shard: torch.Tensor, start: int, k: int, *,
                 cosine: bool = False, chunk_rows: int = 65536, group=None) -> torch.Tensor:
    """Global class ids [B, k] of the best-scoring classes for (already gathered) ``embeddings``."""
    if cosine:
        embeddings = F.normalize(embeddings, dim=1)
    rows = embeddings.shape[0]
    best_val = embeddings.new_full((rows, 0), float("-inf"))
    best_id = torch.empty((rows, 0), dtype=torch.long, device=embeddings.device)
    for lo in range(0, weight_shard.shape[0], chunk_rows):
        w = weight_shard[lo:lo + chunk_rows]
        if cosine:
            w = F.normalize(w, dim=1)
        scores = embeddings @ w.t()
        val, idx = scores.topk(min(k, scores.shape[1]), dim=1)
        best_val = torch.cat([best_val, val], dim=1)
        best_id = torch.cat([best_id, idx + start + lo], dim=1)
        keep = best_val.topk(min(k, best_val.shape[1]), dim=1).indices
        best_val, best_id = best_val.gather(1, keep), best_id.gather(1, keep)
    return merge_topk(best_val, best_id, k, group)


def merge_topk(best_val: torch.Tensor, best_id: torch.Tensor, k: int, group=None) -> torch.Tensor:
    """Each rank's best candidates [B, <=k] (scores, global ids) -> the global ids of the best k, one all-gather."""
    rows = best_val.shape[0]
    if is_distributed(group):
        n = world_size(group)
        pad = k - best_val.shape[1]  # a shard smaller than k
        if pad > 0:
            best_val = F.pad(best_val, (0, pad), value=float("-inf"))
            best_id = F.pad(best_id, (0, pad), value=-1)
        vals = all_gather_cat(best_val.unsqueeze(0), group).reshape(n, rows, k)
        ids = all_gather_cat(best_id.unsqueeze(0), group).reshape(n, rows, k)
        best_val = vals.permute(1, 0, 2).reshape(rows, n * k)
        best_id = ids.permute(1, 0, 2).reshape(rows, n * k)
    order = best_val.topk(min(k, best_val.shape[1]), dim=1).indices
    return best_id.gather(1, order)
