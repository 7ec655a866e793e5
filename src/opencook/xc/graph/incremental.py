"""Graph upkeep by changed rows: re-query only the classes whose centre moved since the last build.

A full rebuild pays for every class every time, although under sampled training only the active rows
(or, with feature centres, the classes seen) moved. Here every rank gathers the centres as a rebuild
does, finds the rows that differ from the last build's snapshot, and queries only those -- exactly
(blocked GEMM, 2·|changed|·C·D FLOPs) or through the kept IVF index after re-assigning the moved rows
to its existing centroids (no k-means). Each re-queried class is then offered to the lists of its new
neighbours (a list takes it if it beats its k-th entry), and entries pointing at moved classes get
their similarity recomputed. It is an approximation of a rebuild: an unchanged class does not look
again at unchanged classes, so a slot freed by a neighbour that moved away is refilled only from moved
classes. Every rank applies the same gathered updates, so the graphs stay identical.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from opencook.kit import dist

from ..sharding import ClassShard
from .build import GraphBuild
from .config import GraphConfig
from .exact import Neighbours, exact_knn


@dataclass
class GraphIndex:
    """What incremental upkeep keeps between builds (identical on every rank). ``index`` (a live faiss
    index) is not checkpointed: a resumed run retrains it on ``centres``."""

    centres: torch.Tensor
    """[C, D] normalised centres the current graph was built from."""
    sims: torch.Tensor
    """[C, k] cosine similarity of each graph entry."""
    index: object | None = None

    def state(self) -> dict:
        return {"centres": self.centres, "sims": self.sims}


def _query(centres: torch.Tensor, rows: torch.Tensor, cfg: GraphConfig, method: str, index):
    """Neighbours of ``rows`` over all ``centres``: exact, or through ``index`` (built if None)."""
    if method == "exact":
        return exact_knn(centres[rows], centres, cfg.k, query_ids=rows, normalize=False,
                         chunk_rows=cfg.chunk_rows, chunk_cols=cfg.chunk_cols), None
    from .approx import build_index, search_index

    database = centres.contiguous().numpy()
    if index is None:
        index = build_index(database, method, cfg)
    return search_index(index, database, 0, 0, cfg.k, rows=rows.numpy()), index


def _insert(graph: torch.Tensor, sims: torch.Tensor, rows: torch.Tensor, cand: torch.Tensor,
            cand_sims: torch.Tensor) -> None:
    """Offer class ``cand[i]`` to the list of ``rows[i]``; each list keeps its k most similar, distinct."""
    c, k = graph.shape
    targets = rows.unique()
    r = torch.cat([targets.repeat_interleave(k), rows])
    ids = torch.cat([graph[targets].flatten(), cand])
    s = torch.cat([sims[targets].flatten(), cand_sims])
    order = torch.sort(-s, stable=True).indices  # most similar first
    r, ids, s = r[order], ids[order], s[order]
    key = r * c + ids
    _, inverse = key.unique(return_inverse=True)
    first = torch.full((int(inverse.max()) + 1,), key.numel(), dtype=torch.long)
    first.scatter_reduce_(0, inverse, torch.arange(key.numel()), reduce="amin")
    keep = first.sort().values  # one entry per (row, id), still most-similar-first
    r, ids, s = r[keep], ids[keep], s[keep]
    by_row = torch.sort(r, stable=True).indices
    r, ids, s = r[by_row], ids[by_row], s[by_row]
    starts = torch.searchsorted(r, targets)
    rank_in_row = torch.arange(r.numel()) - starts.repeat_interleave(torch.bincount(r)[targets])
    top = rank_in_row < k
    graph[targets] = ids[top].reshape(-1, k)
    sims[targets] = s[top].reshape(-1, k)


def update_graph(local_centres: torch.Tensor, shard: ClassShard, cfg: GraphConfig, *, step: int,
                 previous: GraphBuild | None, state: GraphIndex | None, group=None) -> tuple[GraphBuild, GraphIndex]:
    """The graph of the current centres, from ``previous`` by changed rows (a full build when there is none).
    A collective: call on every rank (``group``: the graph's own group)."""
    started = time.perf_counter()
    c = shard.num_classes
    cfg.check_classes(c)
    method = cfg.resolve_method(c)
    centres = dist.all_gather_varlen(F.normalize(local_centres.detach().float().cpu(), dim=1), group).contiguous()
    bad = (~torch.isfinite(centres).all(1)).nonzero().squeeze(1)
    if len(bad):
        raise ValueError(f"{len(bad)} class centres are not finite (NaN/inf), e.g. classes {bad[:5].tolist()}: "
                         "the classifier diverged or was loaded wrong")
    if previous is None or state is None:
        own = torch.arange(shard.start, shard.end)
        found, index = _query(centres, own, cfg, method, None)
        graph = dist.all_gather_varlen(found.ids, group)
        sims = dist.all_gather_varlen(found.sims, group)
        build = GraphBuild(graph, method, step, time.perf_counter() - started, 1.0 if method == "exact" else None)
        return build, GraphIndex(centres, sims, index)
    changed = (centres != state.centres).any(1).nonzero().squeeze(1)
    graph, sims, index = previous.graph.clone(), state.sims.clone(), state.index
    if changed.numel():
        if method != "exact":
            from .approx import update_index

            if index is not None:
                update_index(index, centres.numpy(), changed.numpy())
        mine = changed[(changed >= shard.start) & (changed < shard.end)]
        if mine.numel():
            found, index = _query(centres, mine, cfg, method, index)
        else:
            found = Neighbours(torch.empty((0, cfg.k), dtype=torch.long), torch.empty((0, cfg.k)))
        if method != "exact" and index is None:  # this rank had nothing to query: keep an index all the same
            from .approx import build_index

            index = build_index(centres.numpy(), method, cfg)
        new_ids = dist.all_gather_varlen(found.ids, group)
        new_sims = dist.all_gather_varlen(found.sims.float(), group)
        graph[changed], sims[changed] = new_ids, new_sims
        stale = torch.isin(graph, changed)
        stale[changed] = False
        r, col = stale.nonzero(as_tuple=True)
        sims[r, col] = (centres[r] * centres[graph[r, col]]).sum(1)
        _insert(graph, sims, new_ids.flatten(), changed.repeat_interleave(cfg.k), new_sims.flatten())
    build = GraphBuild(graph, method, step, time.perf_counter() - started, None, updated=int(changed.numel()))
    return build, GraphIndex(centres, sims, index)
