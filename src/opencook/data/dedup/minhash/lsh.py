"""LSH banding: band hashes, sorted per-shard runs on disk, and the merge that yields candidate edges.

A file's signature is cut into ``bands`` bands of ``rows`` values; a band's bucket is a 64-bit
multilinear hash of its rows (random odd 64-bit key per (band, row), wrapping sum, murmur finaliser),
vectorised over files and bands. Two files are candidates when they share a bucket in any band.

Out of core: for each summary shard, ``write_run`` writes one Parquet run of (band, hash, rank)
rows sorted by (band, hash), atomically, with a ``.done.json`` marker holding its SHA-256 (the same
marker the runner uses for shards). ``candidate_edges`` reads the runs one (band, hash range)
partition at a time — row-group statistics let Parquet skip the rest — so memory is bounded by
``partition_rows``, not by the input. A run whose marker is missing or whose checksum does not
match is regenerated from its summary, never read.

Within a bucket every member is linked to the member of smallest rank (rank = position in the
survivor order, see ``stage``): star edges are linear in the bucket size, enough for connected
components, and they point at the file that would survive.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from opencook.data.dedup.minhash.shingles import fmix64
from opencook.kit.io import atomic_write
from opencook.kit.io.shards import read_marker, write_marker

RUN_SCHEMA = pa.schema([pa.field("band", pa.uint16()), pa.field("hash", pa.uint64()),
                        pa.field("rank", pa.int64())])
RUN_ROW_GROUP = 1 << 16


def _band_keys(bands: int, rows: int) -> np.ndarray:
    rng = np.random.default_rng([bands, rows, 0x6C7368])
    keys = rng.integers(0, 1 << 63, (bands, rows), dtype=np.uint64)
    return (keys << np.uint64(1)) | np.uint64(1)


def band_hashes(sig: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """(files, bands) uint64 bucket hashes of a (files, num_perm) uint32 signature array."""
    n = sig.shape[0]
    v = sig[:, : bands * rows].reshape(n, bands, rows).astype(np.uint64)
    with np.errstate(over="ignore"):
        v *= _band_keys(bands, rows)
        h = v.sum(axis=2, dtype=np.uint64)
        h += np.arange(bands, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        return fmix64(h)


def write_run(band_matrix: np.ndarray, ranks: np.ndarray, path: Path, key: dict) -> dict:
    """One shard's (band, hash, rank) rows sorted by (band, hash), written atomically with a marker."""
    n, bands = band_matrix.shape
    band = np.repeat(np.arange(bands, dtype=np.uint16)[None, :], n, axis=0).T.ravel()
    hashes = band_matrix.T.ravel()
    rank = np.tile(ranks.astype(np.int64), bands)
    order = np.lexsort((rank, hashes, band))
    table = pa.table({"band": band[order], "hash": hashes[order], "rank": rank[order]}, schema=RUN_SCHEMA)
    with atomic_write(path, "wb") as fh:
        pq.write_table(table, fh, compression="zstd", row_group_size=RUN_ROW_GROUP, write_statistics=True)
    return write_marker(path, table.num_rows, {"key": key})


def valid_run(path: Path, key: dict) -> bool:
    marker = read_marker(path)
    return marker is not None and marker.get("key") == key


def _partitions(total_rows: int, bands: int, partition_rows: int) -> list[tuple[int, int, int | None]]:
    per_band = max(1, math.ceil(total_rows / max(1, bands) / max(1, partition_rows)))
    edges = [int(i * (1 << 64) // per_band) for i in range(per_band)] + [None]
    return [(b, edges[i], edges[i + 1]) for b in range(bands) for i in range(per_band)]


def candidate_edges(runs: list[Path], bands: int, total_rows: int,
                    partition_rows: int = 1 << 24) -> tuple[np.ndarray, np.ndarray]:
    """Unique star edges ``(member_rank, head_rank)`` over all bands, sorted; member > head."""
    found: list[np.ndarray] = []
    for band, lo, hi in _partitions(total_rows * bands, bands, partition_rows):
        filters = pc.field("band") == pa.scalar(band, pa.uint16())
        if lo:
            filters &= pc.field("hash") >= pa.scalar(lo, pa.uint64())
        if hi is not None:
            filters &= pc.field("hash") < pa.scalar(hi, pa.uint64())
        parts = [pq.read_table(p, columns=["hash", "rank"], filters=filters) for p in runs]
        parts = [t for t in parts if t.num_rows]
        if not parts:
            continue
        table = pa.concat_tables(parts)
        hashes = table["hash"].to_numpy()
        ranks = table["rank"].to_numpy()
        order = np.argsort(hashes, kind="stable")
        hashes, ranks = hashes[order], ranks[order]
        start = np.r_[True, hashes[1:] != hashes[:-1]]
        group = np.cumsum(start) - 1
        starts = np.flatnonzero(start)
        sizes = np.diff(np.r_[starts, len(hashes)])
        multi = sizes[group] > 1
        if not multi.any():
            continue
        heads = np.minimum.reduceat(ranks, starts)[group]
        sel = multi & (ranks != heads)
        found.append(np.stack([ranks[sel], heads[sel]], axis=1))
    if not found:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    pairs = np.unique(np.concatenate(found), axis=0)
    return pairs[:, 0], pairs[:, 1]
