"""The ``fuzzy_dedup`` global stage: summarize per shard, decide once (out of core), apply per shard.

1. ``summarize(records, stats, config)``: shingles -> MinHash signature -> band hashes per file; the
   summary row holds the survivor-rule fields, ``nbytes``, ``language``, the ``bands`` bucket hashes
   (``bands`` x 8 bytes, not the ``num_perm`` x 4 byte signature) and, when ``verify`` is on, the
   sorted unique ``shingles`` (8 bytes per distinct 5-gram, about the size of the text). Keeping the
   shingles in the summary costs disk but means ``decide`` never re-reads or re-tokenises text;
   it reads them back only for files that are candidates of some pair.
2. ``decide_files(paths, stats, config, workdir)``: rank every file by the survivor rule (most stars,
   latest commit, then repo, path, id: exact dedup's rule), write one sorted (band, hash, rank) run per
   summary, merge the runs partition by partition into star edges, verify each edge's exact Jaccard
   (members that fail against their head are chained: re-verified against the best-ranked failure,
   see ``verify.chain_verify``), take connected components of the verified edges (label = smallest rank = survivor).
3. ``apply(records, decision, stats, config)``: drop files whose id is in the decision with another
   survivor; stamp ``cluster_id`` (the survivor's id, i.e. the file's own id) and ``cluster_size``.

The decision table is the removed-files list too: one row per member of every cluster of two or more
(``id``, ``repo``, ``path``, ``language``, ``nbytes``, ``survivor_id``, ``cluster_size``, ``jaccard`` to
the survivor; null on the survivor's own row).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from opencook.data.dedup.exact import _SURVIVOR_ORDER, group_size_bucket
from opencook.data.dedup.minhash.components import connected_components
from opencook.data.dedup.minhash.config import FuzzyDedupConfig
from opencook.data.dedup.minhash.lsh import band_hashes, candidate_edges, valid_run, write_run
from opencook.data.dedup.minhash.shingles import shingle_batch
from opencook.data.dedup.minhash.signatures import signature_batch
from opencook.data.dedup.minhash.verify import ShingleSets, chain_verify, pair_jaccard
from opencook.kit.io.shards import read_marker
from opencook.kit.progress import Progress
from opencook.kit.stats import StageStats
from opencook.kit.step import Global, Record

BATCH_BYTES = 4 << 20
META_FIELDS = [
    pa.field("id", pa.string()),
    pa.field("stars", pa.int64()),
    pa.field("commit_time", pa.int64()),
    pa.field("repo", pa.string()),
    pa.field("path", pa.string()),
    pa.field("language", pa.string()),
    pa.field("nbytes", pa.int64()),
    pa.field("num_shingles", pa.int64()),
]
DECISION_SCHEMA = pa.schema([
    pa.field("id", pa.string()),
    pa.field("repo", pa.string()),
    pa.field("path", pa.string()),
    pa.field("language", pa.string()),
    pa.field("nbytes", pa.int64()),
    pa.field("survivor_id", pa.string()),
    pa.field("cluster_size", pa.int64()),
    pa.field("jaccard", pa.float64()),
])


def summary_schema(config: FuzzyDedupConfig) -> pa.Schema:
    fields = [*META_FIELDS, pa.field("bands", pa.list_(pa.uint64(), config.bands))]
    if config.verify:
        fields.append(pa.field("shingles", pa.large_list(pa.uint64())))
    return pa.schema(fields)


def _summarize_batch(batch: list[Record], config: FuzzyDedupConfig) -> pa.Table:
    texts = [r["text"] for r in batch]
    hashes, offsets = shingle_batch(texts, config.ngram, config.normalise)
    sig = signature_batch(hashes, offsets, config.num_perm, config.seed, backend=config.backend)
    bands = band_hashes(sig, config.bands, config.rows)
    counts = np.diff(offsets)
    cols = {
        "id": [r["id"] for r in batch],
        "stars": [-1 if r.get("stars") is None else int(r["stars"]) for r in batch],
        "commit_time": [-1 if r.get("commit_time") is None else int(r["commit_time"]) for r in batch],
        "repo": [r.get("repo") or "" for r in batch],
        "path": [r.get("path") or "" for r in batch],
        "language": [r.get("language") or "unknown" for r in batch],
        "nbytes": [len(t.encode("utf-8", "surrogatepass")) for t in texts],
        "num_shingles": counts,
        "bands": pa.FixedSizeListArray.from_arrays(pa.array(bands.ravel(), pa.uint64()), config.bands),
    }
    if config.verify:
        cols["shingles"] = pa.LargeListArray.from_arrays(pa.array(offsets, pa.int64()),
                                                         pa.array(hashes, pa.uint64()))
    return pa.table(cols, schema=summary_schema(config))


def summarize(records: Iterator[Record], stats: StageStats, config: FuzzyDedupConfig | None = None) -> pa.Table:
    """Per-shard summary: survivor fields, bucket hashes per band, and (with ``verify``) the shingles."""
    config = config or FuzzyDedupConfig()
    tables, batch, size = [], [], 0
    for r in records:
        batch.append(r)
        size += len(r["text"])
        if size >= BATCH_BYTES:
            tables.append(_summarize_batch(batch, config))
            batch, size = [], 0
    if batch or not tables:
        tables.append(_summarize_batch(batch, config))
    table = pa.concat_tables(tables)
    stats.add("fuzzy_files_hashed", table.num_rows)
    stats.add("fuzzy_files_without_shingles", int(pc.sum(pc.equal(table["num_shingles"], 0)).as_py() or 0))
    return table


def _ranks(metas: list[pa.Table]) -> tuple[pa.Table, np.ndarray]:
    """All files' metadata concatenated, and each row's rank in the survivor order (0 = best)."""
    table = pa.concat_tables(metas).combine_chunks()
    order = pc.sort_indices(table, sort_keys=_SURVIVOR_ORDER[1:]).to_numpy()
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order), dtype=np.int64)
    return table, rank


def decide_files(paths: list[Path], stats: StageStats, config: FuzzyDedupConfig | None = None,
                 workdir: Path | None = None) -> pa.Table:
    """Clusters of near-duplicates over all summaries; see the module docstring."""
    config = config or FuzzyDedupConfig()
    if workdir is None:
        raise ValueError("fuzzy dedup: decide_files needs a workdir for its sorted runs")
    workdir = Path(workdir)
    names = [f.name for f in META_FIELDS]
    metas = [pq.read_table(p, columns=names) for p in paths]
    table, rank = _ranks(metas)
    n = table.num_rows
    bounds = np.cumsum([0] + [m.num_rows for m in metas])
    stats.add("fuzzy_implied_threshold_permille", round(config.implied_threshold * 1000))
    stats.add("fuzzy_verify_threshold_permille", round(config.jaccard_threshold * 1000))

    runs = []
    with Progress(len(paths), "fuzzy dedup: sorted runs", "summary", gap_s=5.0) as bar:
        for k, path in enumerate(paths):
            ranks = rank[bounds[k]:bounds[k + 1]]
            marker = read_marker(path)
            key = {"summary": marker["sha256"] if marker else hashlib.sha256(path.read_bytes()).hexdigest(),
                   "ranks": hashlib.sha256(ranks.tobytes()).hexdigest(), "bands": config.bands}
            run = workdir / f"run-{k:05d}.parquet"
            if not valid_run(run, key):
                if run.exists():
                    stats.add("fuzzy_runs_regenerated")
                col = pq.read_table(path, columns=["bands"])["bands"].combine_chunks()
                matrix = col.values.to_numpy().reshape(-1, config.bands) if len(col) else \
                    np.empty((0, config.bands), np.uint64)
                empty = pq.read_table(path, columns=["num_shingles"])["num_shingles"].to_numpy() == 0
                write_run(matrix[~empty], ranks[~empty], run, key)
            runs.append(run)
            bar.update()
    for run in runs:
        if read_marker(run) is None:
            raise RuntimeError(f"fuzzy dedup: run {run} changed while in use; rerun to regenerate it")

    u, v = candidate_edges(runs, config.bands, n, config.partition_rows)
    stats.add("fuzzy_candidate_pairs", len(u))
    sets = None
    if config.verify and len(u):
        sets = _load_sets(paths, rank, bounds, np.union1d(u, v))
        u, v, chained = chain_verify(u, v, sets, config.jaccard_threshold, config.verify_rounds)
        stats.add("fuzzy_chain_pairs", chained)
    stats.add("fuzzy_verified_pairs", len(u))

    label = connected_components(n, u, v)
    sizes = np.bincount(label, minlength=n)
    in_cluster = np.flatnonzero(sizes[label] > 1)  # ranks of clustered files
    if not len(in_cluster):
        return DECISION_SCHEMA.empty_table()
    by_rank = np.empty(n, dtype=np.int64)
    by_rank[rank] = np.arange(n)  # rank -> row
    rows = by_rank[in_cluster]
    survivors = by_rank[label[in_cluster]]
    removed = label[in_cluster] != in_cluster
    jac = np.full(len(in_cluster), np.nan)
    if sets is not None:
        # every clustered file is an endpoint of a verified edge, so its shingles are loaded
        idx = np.flatnonzero(removed)
        jac[idx] = pair_jaccard(in_cluster[idx], label[in_cluster[idx]], sets)
    nbytes = table["nbytes"].to_numpy()[rows]
    stats.add("fuzzy_clusters", int(np.count_nonzero(~removed)))
    stats.add("fuzzy_files_removed", int(np.count_nonzero(removed)))
    stats.add("fuzzy_bytes_removed", int(nbytes[removed].sum()))
    cluster_sizes = sizes[label[in_cluster]]
    values, freq = np.unique(cluster_sizes[~removed], return_counts=True)
    for size, count in zip(values.tolist(), freq.tolist(), strict=True):
        stats.add(f"fuzzy_cluster_size:{group_size_bucket(size)}", count)
    idx = pa.array(rows)
    decision = pa.table({
        "id": table["id"].take(idx),
        "repo": table["repo"].take(idx),
        "path": table["path"].take(idx),
        "language": table["language"].take(idx),
        "nbytes": pa.array(nbytes, pa.int64()),
        "survivor_id": table["id"].take(pa.array(survivors)),
        "cluster_size": pa.array(cluster_sizes, pa.int64()),
        "jaccard": pa.array(np.where(removed, jac, np.nan), pa.float64(), from_pandas=True),
    }, schema=DECISION_SCHEMA)
    return decision.sort_by([("survivor_id", "ascending"), ("id", "ascending")])


def _load_sets(paths: list[Path], rank: np.ndarray, bounds: np.ndarray, wanted: np.ndarray) -> ShingleSets:
    """Shingle sets of the wanted ranks only, read shard by shard."""
    all_ranks, values, counts = [], [], []
    for k, path in enumerate(paths):
        ranks = rank[bounds[k]:bounds[k + 1]]
        take = np.flatnonzero(np.isin(ranks, wanted))
        if not len(take):
            continue
        col = pq.read_table(path, columns=["shingles"])["shingles"].combine_chunks().take(pa.array(take))
        offs = col.offsets.to_numpy()
        values.append(col.values.to_numpy()[offs[0]:offs[-1]])
        counts.append(np.diff(offs))
        all_ranks.append(ranks[take])
    cnt = np.concatenate(counts)
    offsets = np.zeros(len(cnt) + 1, dtype=np.int64)
    np.cumsum(cnt, out=offsets[1:])
    return ShingleSets(np.concatenate(all_ranks), np.concatenate(values), offsets)


def decide(summaries: list[pa.Table], stats: StageStats, config: FuzzyDedupConfig | None = None,
           workdir: Path | None = None) -> pa.Table:
    """In-memory convenience for tests and small inputs: writes the summaries to ``workdir`` first."""
    import tempfile

    from opencook.kit.io.shards import write_marker, write_parquet_atomic

    with tempfile.TemporaryDirectory() as tmp:
        base = Path(workdir) if workdir is not None else Path(tmp)
        paths = []
        for k, t in enumerate(summaries):
            p = base / "summaries" / f"summary-{k:05d}.parquet"
            write_parquet_atomic(t, p)
            write_marker(p, t.num_rows, {})
            paths.append(p)
        return decide_files(paths, stats, config, base / "work")


def apply(records: Iterator[Record], decision: pa.Table, stats: StageStats,
          config: FuzzyDedupConfig | None = None) -> Iterator[Record]:
    """Drop near-duplicates; stamp ``cluster_id`` and ``cluster_size`` on every kept file.

    The shard's ids are looked up in the decision with one Arrow hash join, so no per-shard Python
    dict of the whole (possibly large) decision is built.
    """
    records = list(records)
    rows = pc.index_in(pa.array([r["id"] for r in records], type=pa.string()),
                       value_set=decision["id"].cast(pa.string()))
    found = decision.select(["survivor_id", "cluster_size"]).take(rows)  # null where not in the decision
    survivors, sizes = found["survivor_id"].to_pylist(), found["cluster_size"].to_pylist()
    for r, survivor, size in zip(records, survivors, sizes, strict=True):
        nbytes = len(r["text"].encode("utf-8", "surrogatepass"))
        if survivor is not None and survivor != r["id"]:
            stats.drop("near_duplicate", nbytes, r, {"survivor": survivor})
            continue
        stats.kept(r.get("language") or "unknown", nbytes)
        yield {**r, "cluster_id": r["id"], "cluster_size": 1 if size is None else size}


class FuzzyDedup(Global):
    name: ClassVar[str] = "fuzzy_dedup"
    config_cls: ClassVar[type] = FuzzyDedupConfig
    config: FuzzyDedupConfig

    def summarize(self, records: Iterator[Record], stats: StageStats) -> pa.Table:
        return summarize(records, stats, self.config)

    def decide(self, summaries: list[Path], stats: StageStats, workdir: Path) -> pa.Table:
        return decide_files(summaries, stats, self.config, workdir)

    def apply(self, records: Iterator[Record], decision: pa.Table, stats: StageStats) -> Iterator[Record]:
        return apply(records, decision, stats, self.config)
