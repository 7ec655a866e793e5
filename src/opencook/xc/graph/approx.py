"""faiss IVF-Flat and HNSW over normalised centres (inner product = cosine), self left out.

Every rank builds the same index from the same data: the k-means sample and seed come from the
config, never from the rank. IVF training and search are reproducible; faiss promises nothing for
HNSW's multi-threaded (concurrent) insertion, so only a one-thread HNSW build is guaranteed repeatable
-- the ranks still agree, as each rank's rows are gathered, not recomputed.
"""

from __future__ import annotations

import faiss
import numpy as np
import torch

from .config import GraphConfig
from .exact import Neighbours, exact_knn


def _threads() -> None:
    faiss.omp_set_num_threads(max(1, torch.get_num_threads()))


def build_index(database: np.ndarray, method: str, cfg: GraphConfig) -> faiss.Index:
    """An IVF-Flat or HNSW inner-product index holding every row of ``database`` (float32, normalised)."""
    _threads()
    n, d = database.shape
    if method == "ivf":
        nlist = cfg.resolve_nlist(n)
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, nlist, faiss.METRIC_INNER_PRODUCT)
        index.cp.seed = cfg.seed
        index.cp.spherical = True
        index.cp.max_points_per_centroid = n  # we sampled already: faiss must not resample
        size = cfg.resolve_train_size(n, nlist)
        rows = np.sort(np.random.default_rng(cfg.seed).choice(n, size, replace=False)) if size < n else None
        index.train(database if rows is None else np.ascontiguousarray(database[rows]))
        index.add(database)
        index.nprobe = min(cfg.nprobe, nlist)
        return index
    if method == "hnsw":
        index = faiss.IndexHNSWFlat(d, cfg.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = cfg.hnsw_ef_construction
        index.add(database)
        index.hnsw.efSearch = cfg.hnsw_ef_search
        return index
    raise ValueError(f"build_index: method must be 'ivf' or 'hnsw', got {method!r}")


def search_index(index: faiss.Index, database: np.ndarray, start: int, end: int, k: int,
                 rows: np.ndarray | None = None) -> Neighbours:
    """Neighbours of database rows [start, end) (or of ``rows``): ask for k+1, drop self (or the last
    if self is missing).

    Rows the index answers with fewer than k others (an IVF probe of near-empty lists) are redone
    exactly, so the graph never holds -1.
    """
    _threads()
    if isinstance(index, faiss.IndexHNSWFlat):
        index.hnsw.efSearch = max(index.hnsw.efSearch, k + 1)
    rows = np.arange(start, end) if rows is None else np.asarray(rows, dtype=np.int64)
    queries = np.ascontiguousarray(database[rows])
    sims, ids = index.search(queries, k + 1)
    drop = ids == rows[:, None]
    drop[~drop.any(1), -1] = True
    keep = ~drop
    ids = ids[keep].reshape(len(queries), k)
    sims = sims[keep].reshape(len(queries), k)
    short = np.flatnonzero((ids < 0).any(1))
    if len(short):
        redo = exact_knn(torch.from_numpy(queries[short]), torch.from_numpy(database), k,
                         query_ids=torch.from_numpy(rows[short]), normalize=False)
        ids[short], sims[short] = redo.ids.numpy(), redo.sims.numpy()
    return Neighbours(torch.from_numpy(ids.astype(np.int64)), torch.from_numpy(sims))


def faiss_knn(database: np.ndarray, start: int, end: int, k: int, method: str,
              cfg: GraphConfig) -> Neighbours:
    """Build the index over all of ``database``, then query rows [start, end)."""
    return search_index(build_index(database, method, cfg), database, start, end, k)


def update_index(index: faiss.Index, database: np.ndarray, rows: np.ndarray) -> None:
    """Move ``rows`` to their new vectors in an IVF index: removed, then re-assigned to the existing
    centroids (no k-means). HNSW cannot remove nodes, so it has no incremental update."""
    if not isinstance(index, faiss.IndexIVF):
        raise ValueError("incremental graph upkeep needs graph_method ivf or exact (HNSW cannot remove nodes): "
                         "set head.graph_method or selection.upkeep=rebuild")
    rows = np.asarray(rows, dtype=np.int64)
    index.remove_ids(faiss.IDSelectorBatch(rows))
    index.add_with_ids(np.ascontiguousarray(database[rows]), rows)
