"""Rejected rows, kept when a recipe says ``rejects: true``: every record a stage drops goes, with its reason, to
``stages/NN_<stage>/rejects/<shard>.parquet`` -- the record schema plus a ``reason`` column -- so a user can read
what went (``Dataset(run/stages/04_filter/rejects)``) and try other thresholds without rerunning the pipeline
(datatrove's exclusion writer, NeMo Curator's kept rejects).

Only records can be kept: what ingest drops before a file becomes one (binary, unknown language, too large)
has no text to keep, and shows in the report as examples with its counts instead.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from opencook.kit.io.schema import RECORD_SCHEMA, records_to_table
from opencook.kit.io.shards import write_parquet_atomic

REASON = pa.field("reason", pa.string(), nullable=False)
REJECTS_SCHEMA = RECORD_SCHEMA.append(REASON)


def rejects_path(shard: Path) -> Path:
    return shard.parent / "rejects" / shard.name


def write_rejects(rows: list[tuple[dict, str]] | None, shard: Path) -> Path | None:
    """Write the ``(record, reason)`` rows a shard's stage dropped next to it (``rows`` None: rejects are off, and
    a file left by an earlier run with them on is removed). A shard that dropped nothing gets no file."""
    path = rejects_path(shard)
    if not rows:
        path.unlink(missing_ok=True)
        return None
    records = [{k: v for k, v in record.items() if k != "reason"} for record, _ in rows]  # the column below wins
    try:
        table = records_to_table(records)
    except ValueError:  # a stage whose records are not pipeline records keeps its own columns
        table = pa.Table.from_pylist(records)
    table = table.append_column(REASON, pa.array([str(reason) for _, reason in rows], pa.string()))
    path.parent.mkdir(parents=True, exist_ok=True)
    write_parquet_atomic(table, path)
    return path
