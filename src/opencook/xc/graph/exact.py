"""Exact cosine KNN by blocked GEMM + running top-k: never holds more than one block of Q×C."""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F


class Neighbours(NamedTuple):
    ids: torch.Tensor
    """int64 [Q, k] global class ids, most similar first."""
    sims: torch.Tensor
    """float32 [Q, k] cosine similarities."""


def exact_knn(queries: torch.Tensor, database: torch.Tensor, k: int, *, query_offset: int = 0,
              query_ids: torch.Tensor | None = None, exclude_self: bool = True, normalize: bool = True,
              chunk_rows: int = 1024, chunk_cols: int = 32_768) -> Neighbours:
    """The ``k`` most cosine-similar database rows of each query.

    Query i is database row ``query_offset + i`` (or ``query_ids[i]``), so a rank can query its own
    slice of the classes and still leave each class out of its own list.
    """
    if queries.ndim != 2 or database.ndim != 2 or queries.shape[1] != database.shape[1]:
        raise ValueError(f"queries {tuple(queries.shape)} and database {tuple(database.shape)} must be "
                         "[Q, D] and [C, D] with the same D")
    n_db = database.shape[0]
    if not 1 <= k <= n_db - int(exclude_self):
        raise ValueError(f"k={k} must be in [1, {n_db - int(exclude_self)}] for a database of {n_db} rows")
    if normalize:
        queries, database = F.normalize(queries.float(), dim=1), F.normalize(database.float(), dim=1)
    if query_ids is None:
        query_ids = torch.arange(query_offset, query_offset + queries.shape[0], device=queries.device)
    query_ids = query_ids.to(queries.device, torch.long)
    out_ids, out_sims = [], []
    for r0 in range(0, queries.shape[0], chunk_rows):
        q, qid = queries[r0:r0 + chunk_rows], query_ids[r0:r0 + chunk_rows]
        best_sims = q.new_full((q.shape[0], 0), float("-inf"))
        best_ids = qid.new_empty((q.shape[0], 0))
        for c0 in range(0, n_db, chunk_cols):
            block = q @ database[c0:c0 + chunk_cols].T
            if exclude_self:
                mine = ((qid >= c0) & (qid < c0 + block.shape[1])).nonzero().squeeze(1)
                block[mine, qid[mine] - c0] = float("-inf")
            sims, idx = block.topk(min(k, block.shape[1]), dim=1)
            merged = torch.cat([best_sims, sims], 1)
            sims, pick = merged.topk(min(k, merged.shape[1]), dim=1)
            best_ids = torch.cat([best_ids, idx + c0], 1).gather(1, pick)
            best_sims = sims
        out_ids.append(best_ids)
        out_sims.append(best_sims)
    return Neighbours(torch.cat(out_ids), torch.cat(out_sims))
