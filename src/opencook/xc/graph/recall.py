"""Recall@k of an approximate graph against exact search, in full or on a sample of rows."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .exact import exact_knn


def graph_recall(approx: torch.Tensor, exact: torch.Tensor) -> float:
    """Fraction of the exact [Q, k] neighbours that ``approx`` [Q, k'] lists (order ignored)."""
    if approx.ndim != 2 or exact.ndim != 2 or approx.shape[0] != exact.shape[0]:
        raise ValueError(f"approx {tuple(approx.shape)} and exact {tuple(exact.shape)} must be [Q, k] "
                         "for the same Q queries")
    if exact.numel() == 0:
        return 1.0
    approx = approx.to(exact.device)
    found = sum(int((approx[i:i + 4096, :, None] == exact[i:i + 4096, None, :]).any(1).sum())
                for i in range(0, exact.shape[0], 4096))
    return found / exact.numel()


def sample_recall(graph: torch.Tensor, centres: torch.Tensor, sample: int = 2000, seed: int = 0,
                  chunk_cols: int = 32_768) -> float:
    """Recall@k of ``graph`` [C, k] on ``sample`` random classes, exact search costing only 2·S·C·D."""
    num_classes = centres.shape[0]
    rows = torch.randperm(num_classes, generator=torch.Generator().manual_seed(seed))[:sample].sort().values
    rows = rows.to(centres.device)
    centres = F.normalize(centres.float(), dim=1)
    exact = exact_knn(centres[rows], centres, graph.shape[1], query_ids=rows, normalize=False,
                      chunk_cols=chunk_cols).ids
    return graph_recall(graph[rows.to(graph.device)], exact)
