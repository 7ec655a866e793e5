"""Atomic, checksummed shard files with completion markers.

A shard is written to a temporary name, flushed, then renamed; only then is its marker
(rows, bytes, sha256, the shard's stats) written. A marker whose file is missing or whose
checksum differs means the shard is redone, never silently trusted.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from opencook.kit.io.atomic import atomic_write, sha256_file
from opencook.kit.io.schema import RECORD_SCHEMA, records_to_table

ROW_GROUP_ROWS = 1024


class ShardError(RuntimeError):
    """A shard file that cannot be read: the message names it and says how to recover."""


def write_parquet_atomic(table: pa.Table, path: Path) -> None:
    with atomic_write(path, "wb") as fh:
        pq.write_table(
            table, fh, compression="zstd", row_group_size=ROW_GROUP_ROWS, write_statistics=False,
            store_schema=True,
        )


def write_records(records: list[dict], path: Path) -> None:
    write_parquet_atomic(records_to_table(records), path)


def read_records(path: Path) -> Iterator[dict]:
    """Stream the records of one shard, batch by batch."""
    try:
        pf = pq.ParquetFile(path)
    except (OSError, pa.ArrowInvalid) as exc:
        raise ShardError(f"shard {path} is unreadable ({exc}); delete it and its .done.json and rerun") from exc
    for batch in pf.iter_batches(batch_size=ROW_GROUP_ROWS):
        yield from batch.to_pylist()


def empty_table() -> pa.Table:
    return RECORD_SCHEMA.empty_table()


def marker_path(shard: Path) -> Path:
    return shard.with_name(shard.name.split(".")[0] + ".done.json")


def write_marker(shard: Path, rows: int, extra: dict[str, Any]) -> dict[str, Any]:
    info = {"file": shard.name, "rows": rows, "bytes": shard.stat().st_size, "sha256": sha256_file(shard)}
    info.update(extra)
    with atomic_write(marker_path(shard)) as fh:
        fh.write(json.dumps(info, sort_keys=True, indent=1))
    return info


def read_marker(shard: Path) -> dict[str, Any] | None:
    """The marker of a finished shard, or None when the shard must be (re)done."""
    mp = marker_path(shard)
    if not mp.exists() or not shard.exists():
        return None
    try:
        info = json.loads(mp.read_text())
    except json.JSONDecodeError:
        return None
    if info.get("bytes") != shard.stat().st_size or info.get("sha256") != sha256_file(shard):
        return None
    return info


def row_group_chunks(meta: pq.FileMetaData, rows_per_task: int) -> list[tuple[int, ...]]:
    """A Parquet file's row groups cut into consecutive runs of about ``rows_per_task`` rows: the unit of
    work for sources that read big Parquet inputs (a row group is never split)."""
    chunks: list[tuple[int, ...]] = []
    group: list[int] = []
    rows = 0
    for i in range(meta.num_row_groups):
        group.append(i)
        rows += meta.row_group(i).num_rows
        if rows >= rows_per_task:
            chunks.append(tuple(group))
            group, rows = [], 0
    if group:
        chunks.append(tuple(group))
    return chunks
