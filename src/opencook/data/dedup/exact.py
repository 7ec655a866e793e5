"""Exact dedup (RefineCode step 2): one copy per identical content, chosen deterministically.

A global stage in three phases the runner drives over shards:

1. ``summarize`` (per shard): SHA-256 of the UTF-8 text plus the survivor-rule fields, no text.
2. ``decide`` (once): sort every summary row by (hash, stars desc, commit_time desc, repo, path,
   id); the first row of each hash group survives. Only groups with more than one member are
   written out, so the decision is small when most content is unique.
3. ``apply`` (per shard): re-hash each record, keep it if its hash is not in the decision or it
   is the survivor; stamp ``sha256`` and ``dup_count``.

The survivor rule is the paper's (most repository stars, then the latest commit) made total with
a tie-break on (repo, path, id), so the result does not depend on shard order or worker count.
Missing stars / commit time count as -1, i.e. below any known value.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from opencook.kit.stats import StageStats
from opencook.kit.step import Global, Record

HASH_TYPE = pa.binary(32)
SUMMARY_SCHEMA = pa.schema(
    [
        pa.field("sha256", HASH_TYPE),
        pa.field("id", pa.string()),
        pa.field("stars", pa.int64()),
        pa.field("commit_time", pa.int64()),
        pa.field("repo", pa.string()),
        pa.field("path", pa.string()),
        pa.field("nbytes", pa.int64()),
    ]
)
DECISION_SCHEMA = pa.schema(
    [
        pa.field("sha256", HASH_TYPE),
        pa.field("survivor_id", pa.string()),
        pa.field("dup_count", pa.int64()),
    ]
)
_SURVIVOR_ORDER = [
    ("sha256", "ascending"),
    ("stars", "descending"),
    ("commit_time", "descending"),
    ("repo", "ascending"),
    ("path", "ascending"),
    ("id", "ascending"),
]


@dataclass
class ExactDedupConfig:
    """No options: the hash (SHA-256 of the UTF-8 text) and the survivor rule are fixed by the spec."""


def content_hash(text: str) -> tuple[bytes, int]:
    """SHA-256 digest of the UTF-8 text, and the text's size in bytes."""
    data = text.encode("utf-8", "surrogatepass")
    return hashlib.sha256(data).digest(), len(data)


def group_size_bucket(n: int) -> str:
    """Histogram bucket of a duplicate group's size: exact for 2..9, then ``10-99`` and ``100+``."""
    if n < 10:
        return str(n)
    return "10-99" if n < 100 else "100+"


def summarize(records: Iterator[Record], stats: StageStats, config: ExactDedupConfig | None = None) -> pa.Table:
    """One row per record with its content hash and the fields the survivor rule needs."""
    cols: dict[str, list] = {name: [] for name in SUMMARY_SCHEMA.names}
    for r in records:
        digest, nbytes = content_hash(r["text"])
        cols["sha256"].append(digest)
        cols["id"].append(r["id"])
        cols["stars"].append(-1 if r.get("stars") is None else int(r["stars"]))
        cols["commit_time"].append(-1 if r.get("commit_time") is None else int(r["commit_time"]))
        cols["repo"].append(r.get("repo") or "")
        cols["path"].append(r.get("path") or "")
        cols["nbytes"].append(nbytes)
    return pa.table(cols, schema=SUMMARY_SCHEMA)


def decide(summaries: list[pa.Table], stats: StageStats) -> pa.Table:
    """Survivor of every hash group with more than one member (vectorised: no per-row Python)."""
    tables = [t.select(SUMMARY_SCHEMA.names).cast(SUMMARY_SCHEMA) for t in summaries if t.num_rows]
    if not tables:
        return DECISION_SCHEMA.empty_table()
    table = pa.concat_tables(tables).combine_chunks()
    for name in ("stars", "commit_time"):
        i = table.schema.get_field_index(name)
        table = table.set_column(i, name, pc.fill_null(table[name], -1))

    hashes = _hash_keys(table["sha256"])
    order = np.argsort(hashes, kind="stable")  # by hash only, to find the groups cheaply
    sorted_hashes = hashes[order]
    new_group = np.r_[True, sorted_hashes[1:] != sorted_hashes[:-1]]
    group_of_sorted = np.cumsum(new_group) - 1  # group numbers follow hash order
    sizes = np.bincount(group_of_sorted)
    in_dup = sizes[group_of_sorted] > 1
    if not in_dup.any():
        return DECISION_SCHEMA.empty_table()

    # Arrow's multi-key sort is ~4x faster with an int64 group number than with the 32-byte hash.
    dups = table.take(pa.array(order[in_dup])).append_column("_group", pa.array(group_of_sorted[in_dup]))
    dups = dups.sort_by([("_group", "ascending"), *_SURVIVOR_ORDER[1:]])
    groups = dups["_group"].to_numpy()
    first = np.r_[True, groups[1:] != groups[:-1]]
    group_starts = np.flatnonzero(first)
    group_sizes = np.diff(np.r_[group_starts, dups.num_rows])
    nbytes = dups["nbytes"].to_numpy()

    stats.add("dup_groups", len(group_starts))
    stats.add("dup_files_removed", int(dups.num_rows - len(group_starts)))
    stats.add("dup_bytes_removed", int(nbytes[~first].sum()))
    values, freq = np.unique(group_sizes, return_counts=True)
    for size, n in zip(values.tolist(), freq.tolist(), strict=True):
        stats.add(f"dup_group_size:{group_size_bucket(size)}", n)

    idx = pa.array(group_starts)
    return pa.table(
        {
            "sha256": dups["sha256"].take(idx),
            "survivor_id": dups["id"].take(idx),
            "dup_count": pa.array(group_sizes, type=pa.int64()),
        },
        schema=DECISION_SCHEMA,
    )


def decide_files(paths: list[Path], stats: StageStats, config: ExactDedupConfig | None = None,
                 workdir: Path | None = None) -> pa.Table:
    """The runner's entry point: the summaries are small (no text), so they are read whole."""
    return decide([pq.read_table(p) for p in paths], stats)


def apply(records: Iterator[Record], decision: pa.Table, stats: StageStats,
          config: ExactDedupConfig | None = None) -> Iterator[Record]:
    """Keep unique records and survivors; stamp ``sha256`` (hex) and ``dup_count`` on each kept one."""
    lookup = _DecisionLookup(decision)
    for r in records:
        digest, nbytes = content_hash(r["text"])
        found = lookup.get(digest)
        if found is None:
            dup_count = 1
        else:
            survivor_id, dup_count = found
            if r["id"] != survivor_id:
                stats.drop("exact_duplicate", nbytes, r, {"survivor": survivor_id})
                continue
        language = r.get("language") or "unknown"
        stats.kept(language, nbytes)
        yield {**r, "sha256": digest.hex(), "dup_count": dup_count}


class ExactDedup(Global):
    name: ClassVar[str] = "exact_dedup"
    config_cls: ClassVar[type] = ExactDedupConfig

    def summarize(self, records: Iterator[Record], stats: StageStats) -> pa.Table:
        return summarize(records, stats, self.config)

    def decide(self, summaries: list[Path], stats: StageStats, workdir: Path) -> pa.Table:
        return decide_files(summaries, stats, self.config, workdir)

    def apply(self, records: Iterator[Record], decision: pa.Table, stats: StageStats) -> Iterator[Record]:
        return apply(records, decision, stats, self.config)


class _DecisionLookup:
    """Hash -> (survivor id, group size) by binary search over the sorted decision hashes.

    A sorted fixed-width numpy array costs 32 bytes per duplicate group, far less than a dict of
    Python bytes objects, and needs no rebuilding per record.
    """

    def __init__(self, decision: pa.Table) -> None:
        decision = decision.combine_chunks()
        hashes = decision["sha256"].cast(HASH_TYPE)
        keys = _hash_keys(hashes)
        order = np.argsort(keys, kind="stable")
        self.keys = keys[order]
        self.ids = decision["survivor_id"].take(pa.array(order))
        self.counts = decision["dup_count"].to_numpy()[order]

    def get(self, digest: bytes) -> tuple[str, int] | None:
        if not len(self.keys):
            return None
        i = int(np.searchsorted(self.keys, digest))
        # numpy drops trailing NULs when it hands out one S32 item; pad it back before comparing.
        if i < len(self.keys) and self.keys[i].ljust(32, b"\0") == digest:
            return self.ids[i].as_py(), int(self.counts[i])
        return None


def _hash_keys(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A zero-copy ``S32`` numpy view of a fixed-size-binary(32) column: sortable, comparable."""
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if arr.null_count:
        raise ValueError("exact dedup: a summary row has a null sha256; rerun the summarize phase")
    buf = arr.buffers()[1]
    flat = np.frombuffer(buf, dtype=np.uint8)[arr.offset * 32 : (arr.offset + len(arr)) * 32]
    return flat.view("S32")
