"""An IVF index over this rank's class centres, so that feature anchors do not scan every class.

The exact query scores the gathered batch against every row of the shard (B·C/N·D per step). Here the
rows sit in a faiss IVF-Flat index: a query scans its ``nprobe`` nearest lists of ``nlist`` (≈ √C), so a
step costs B·(nlist + nprobe·C/(N·nlist))·D -- at 1M classes 2 ranks, ~100x less than the scan.

The coarse centroids are *global*: every ``retrain_every`` steps the ranks gather one seeded sample of
rows (chosen by class id, so the same rows whatever the world size), each trains the same k-means on it,
and each adds only its own rows. A rank's IVF search then returns exactly its part of the search a single
index over all classes would do, and the merged top-k does not depend on how many ranks hold the classes.
Between retrains only the rows that changed (the previous step's active rows: lazy optimizers move no
others; the feature centres of its labels) are re-assigned to the existing centroids. The centroids are
the only state: a resumed run rebuilds the lists from them and the current rows (every row sits in the
list of its current vector's nearest centroid, as in the uninterrupted run), on any world size.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from opencook.kit import dist
from opencook.xc.sharding import ClassShard


def default_nlist(num_classes: int) -> int:
    """√C lists, at least 1 and at most C/39 (faiss's minimum points per centroid)."""
    return max(1, min(round(math.sqrt(num_classes)), num_classes // 39))


class FeatureIndex:
    """IVF-Flat (inner product) over this rank's rows; ids are global class ids."""

    def __init__(self, shard: ClassShard, *, nlist: int | None, nprobe: int, retrain_every: int, seed: int,
                 normalize: bool, niter: int = 10) -> None:
        self.shard, self.normalize = shard, normalize
        self.nlist = min(nlist or default_nlist(shard.num_classes), shard.num_classes)
        self.nprobe, self.retrain_every, self.seed, self.niter = nprobe, retrain_every, seed, niter
        self.centroids: torch.Tensor | None = None
        self.trained_step = -1
        self._index = None
        self._quantizer = None

    def _sample_ids(self, step: int) -> torch.Tensor:
        c = self.shard.num_classes
        size = min(c, 40 * self.nlist)
        ids = np.random.default_rng((self.seed, step)).choice(c, size, replace=False) if size < c else np.arange(c)
        return torch.from_numpy(np.sort(ids))

    def _rows(self, source: torch.Tensor, local: torch.Tensor | None = None) -> np.ndarray:
        rows = (source if local is None else source[local.to(source.device)]).detach().float()
        return (F.normalize(rows, dim=1) if self.normalize else rows).cpu().contiguous().numpy()

    def _train(self, source: torch.Tensor, step: int, group) -> None:
        """Global k-means on a seeded sample of all classes' rows (a collective)."""
        import faiss

        ids = self._sample_ids(step)
        mine = ids[(ids >= self.shard.start) & (ids < self.shard.end)] - self.shard.start
        sample = dist.all_gather_varlen(torch.from_numpy(self._rows(source, mine)), group).contiguous().numpy()
        d = sample.shape[1]
        km = faiss.Clustering(d, self.nlist)
        km.seed, km.niter, km.spherical = self.seed + step, self.niter, True
        km.max_points_per_centroid = sample.shape[0]  # the sample is drawn already: no resampling
        km.min_points_per_centroid = 1  # no warning for a small sample: the caller sized it
        quantizer = faiss.IndexFlatIP(d)
        km.train(sample, quantizer)
        self.centroids = torch.from_numpy(faiss.vector_to_array(km.centroids).reshape(self.nlist, d).copy())
        self.trained_step = step

    def _fill(self, source: torch.Tensor) -> None:
        """Lists from the centroids and every current row of the shard."""
        import faiss

        d = self.centroids.shape[1]
        self._quantizer = faiss.IndexFlatIP(d)
        self._quantizer.add(self.centroids.numpy())
        self._index = faiss.IndexIVFFlat(self._quantizer, d, self.nlist, faiss.METRIC_INNER_PRODUCT)
        self._index.nprobe = min(self.nprobe, self.nlist)
        if source.shape[0]:
            self._index.add_with_ids(self._rows(source), np.arange(self.shard.start, self.shard.end, dtype=np.int64))

    def sync(self, source: torch.Tensor, changed: torch.Tensor | None, step: int, group=None) -> None:
        """Bring the index up to ``source`` (this rank's rows; normalised here if ``normalize``) before a query
        at ``step``; ``changed``: local row ids moved since the last sync (None: unknown, re-add all)."""
        import faiss

        faiss.omp_set_num_threads(max(1, torch.get_num_threads()))
        if self.centroids is None or step - self.trained_step >= self.retrain_every:
            self._train(source, step, group)
            self._index = None
        if self._index is None or changed is None:
            self._fill(source)
            return
        if changed.numel():
            local = changed.cpu().numpy().astype(np.int64)
            ids = local + self.shard.start
            self._index.remove_ids(faiss.IDSelectorBatch(ids))
            self._index.add_with_ids(self._rows(source, changed), ids)

    def search(self, queries: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """This rank's best ``k`` (scores, global ids) per query; -inf / -1 where its probed lists hold fewer."""
        vals, ids = self._index.search(queries.float().cpu().contiguous().numpy(), k)
        vals, ids = torch.from_numpy(vals), torch.from_numpy(ids)
        return vals.masked_fill(ids < 0, float("-inf")), ids

    def state(self) -> dict | None:
        return None if self.centroids is None else {"centroids": self.centroids, "trained_step": self.trained_step}

    def load_state(self, state: dict | None) -> None:
        self._index = None
        self.centroids = None if state is None else state["centroids"]
        self.trained_step = -1 if state is None else state["trained_step"]
