"""The Arrow schema of pipeline records: fixed field order, so equal records give equal bytes."""

from __future__ import annotations

import pyarrow as pa

RECORD_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("repo", pa.string()),
        pa.field("path", pa.string()),
        pa.field("filename", pa.string()),
        pa.field("ext", pa.string()),
        pa.field("size_bytes", pa.int64()),
        pa.field("language", pa.string()),
        pa.field("doc_type", pa.string()),
        pa.field("stars", pa.int64()),
        pa.field("commit_time", pa.int64()),
        pa.field("sha256", pa.string()),
        pa.field("dup_count", pa.int64()),
        pa.field("cluster_id", pa.string()),
        pa.field("cluster_size", pa.int64()),
        pa.field("recall_score", pa.float64()),
        pa.field("text", pa.large_string()),
    ]
)

FIELD_NAMES = tuple(RECORD_SCHEMA.names)


def records_to_table(records: list[dict]) -> pa.Table:
    """Records to a table of the fixed schema; absent fields are null, unknown fields are an error."""
    columns = {name: [r.get(name) for r in records] for name in FIELD_NAMES}
    extra = {k for r in records[:1] for k in r} - set(FIELD_NAMES)
    if extra:
        raise ValueError(f"record fields not in the schema: {sorted(extra)} (add them to opencook.kit.io.schema)")
    return pa.table(columns, schema=RECORD_SCHEMA)
