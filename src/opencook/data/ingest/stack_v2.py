"""The ``stack_v2`` source stage: The Stack v2 / RefineCode metadata rows joined with their contents.

The Stack v2 (and RefineCode's published metadata) ship Parquet rows that name a file's content by
its Software Heritage ``blob_id`` instead of holding it; the contents live elsewhere (an S3 bucket,
``content/<blob_id>``, gzip-compressed). This stage reads the rows and fetches each content from a
local ``mirror`` folder: ``<mirror>/<blob_id>``, ``<blob_id>.gz`` or ``<blob_id>.zst``, flat or
sharded by the first two hex digits (``<mirror>/ab/<blob_id>``); gzip and zstd are recognised by
their magic bytes, so the bucket's gzip files copied as they are work. Field mapping: docs/ingest.md.

Every row ends as a record or a counted drop, never an error: ``missing_blob`` (not in the mirror),
``malformed:<reason>`` for a bad row (``no_blob_id``, ``bad_blob_id`` (not 40 hex digits),
``no_path``, ``bad_blob`` (a corrupt compressed content)), then ingest's own checks (``too_large``,
``unknown_language``, ``binary``, ...) through ``RecordBuilder``.
"""

from __future__ import annotations

import glob
import gzip
import os
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pyarrow as pa
import pyarrow.parquet as pq
import zstandard

from opencook.data.ingest.config import PARQUET_SUFFIXES, IngestConfig, IngestError, has_suffix
from opencook.data.ingest.decode import SNIFF_BYTES, decode, is_binary
from opencook.data.ingest.records import RecordBuilder
from opencook.kit.io.shards import row_group_chunks
from opencook.kit.stats import StageStats
from opencook.kit.step import Record, Source

_BLOB_ID = re.compile(r"^[0-9a-f]{40}$")
_GZIP, _ZSTD = b"\x1f\x8b", b"\x28\xb5\x2f\xfd"
COLUMNS = ("blob_id", "path", "repo_name", "language", "lang", "src_encoding", "length_bytes",
           "star_events_count", "revision_date", "committer_date", "detected_licenses", "license_type",
           "is_vendor", "is_generated")


@dataclass
class StackV2Config:
    """``paths``: metadata Parquet files, globs or folders; ``mirror``: the folder of contents by blob id;
    ``rows_per_task``: rows per task (whole row groups); the rest as in ``ingest``."""

    paths: list[str]
    mirror: str
    rows_per_task: int = 10_000
    max_file_bytes: int = 8_000_000
    keep_doc_types: list[str] = field(default_factory=lambda: ["code", "data", "text"])

    def __post_init__(self) -> None:
        if isinstance(self.paths, str):
            self.paths = [self.paths]
        if self.rows_per_task < 1 or self.max_file_bytes < 0:
            raise IngestError("stack_v2 rows_per_task must be >= 1 and max_file_bytes >= 0")


@dataclass(frozen=True)
class StackV2Task:
    source: str
    row_groups: tuple[int, ...]


def _files(paths: list[str]) -> list[str]:
    out: list[str] = []
    for p in paths:
        p = os.path.expanduser(p)
        if glob.has_magic(p):
            found = sorted(glob.glob(p))
        elif os.path.isdir(p):
            found = sorted(os.path.join(p, n) for n in os.listdir(p) if has_suffix(n, PARQUET_SUFFIXES))
        else:
            found = [p] if os.path.exists(p) else []
        if not found:
            raise IngestError(f"stack_v2 path {p} matches no Parquet file: fix the path in the config")
        out.extend(found)
    return sorted(set(out))


def plan_stack_v2(config: StackV2Config) -> list[StackV2Task]:
    if not os.path.isdir(config.mirror):
        raise IngestError(f"stack_v2 mirror {config.mirror} is not a folder: point mirror at the downloaded contents")
    tasks: list[StackV2Task] = []
    for path in _files(config.paths):
        try:
            meta = pq.ParquetFile(path).metadata
            names = set(meta.schema.to_arrow_schema().names)
        except (OSError, pa.ArrowException) as e:
            raise IngestError(f"Parquet file {path} is truncated or not Parquet ({e}): re-download it") from None
        missing = [c for c in ("blob_id", "path") if c not in names]
        if missing:
            raise IngestError(f"stack_v2 file {path} lacks column(s) {', '.join(missing)}: "
                              "give The Stack v2 metadata (blob_id, path, repo_name, language, ...)")
        tasks += [StackV2Task(path, groups) for groups in row_group_chunks(meta, config.rows_per_task)]
    return tasks


def find_blob(mirror: str, blob_id: str) -> str | None:
    """The mirror file holding ``blob_id`` (flat or sharded by its first two digits, plain/.gz/.zst)."""
    for folder in (mirror, os.path.join(mirror, blob_id[:2])):
        for suffix in ("", ".gz", ".zst"):
            candidate = os.path.join(folder, blob_id + suffix)
            if os.path.isfile(candidate):
                return candidate
    return None


def read_blob(path: str) -> bytes:
    """The content bytes; raises ``ValueError`` for a corrupt compressed file."""
    with open(path, "rb") as fh:
        raw = fh.read()
    try:
        if raw.startswith(_GZIP):
            return gzip.decompress(raw)
        if raw.startswith(_ZSTD):
            return zstandard.ZstdDecompressor().decompressobj().decompress(raw)
    except (OSError, EOFError, zlib.error, zstandard.ZstdError) as e:
        raise ValueError(str(e)) from None
    return raw


def _decode(raw: bytes, encoding: Any, stats: StageStats) -> str:
    """The content in its recorded ``src_encoding``; ingest's own detection when it is absent or wrong."""
    if isinstance(encoding, str) and encoding:
        try:
            text = raw.decode(encoding)
            stats.add(f"decode:{encoding.lower()}")
            return text
        except (LookupError, UnicodeDecodeError):
            stats.add("src_encoding_wrong")
    text, used = decode(raw)
    stats.add(f"decode:{used}")
    return text


def read_stack_v2(task: StackV2Task, config: StackV2Config, stats: StageStats) -> Iterator[Record]:
    builder = RecordBuilder(IngestConfig(paths=[config.mirror], max_file_bytes=config.max_file_bytes,
                                         keep_doc_types=config.keep_doc_types), stats, {})
    try:
        pf = pq.ParquetFile(task.source)
        columns = [c for c in COLUMNS if c in pf.schema_arrow.names]
        batches = pf.iter_batches(batch_size=1024, row_groups=list(task.row_groups), columns=columns)
        for batch in batches:
            for row in batch.to_pylist():
                builder.seen()
                record = _row(row, config, builder, stats)
                if record is not None:
                    yield record
    except (OSError, pa.ArrowException) as e:
        raise IngestError(f"Parquet file {task.source} is truncated or corrupt ({type(e).__name__}: {e}): "
                          "re-download it") from None


def _row(row: dict, config: StackV2Config, builder: RecordBuilder, stats: StageStats) -> Record | None:
    blob_id, path = row.get("blob_id"), row.get("path")
    if not blob_id:
        stats.drop("malformed:no_blob_id")
        return None
    if not isinstance(blob_id, str) or not _BLOB_ID.match(blob_id):
        stats.drop("malformed:bad_blob_id")
        return None
    if not isinstance(path, str) or not path.strip("/"):
        stats.drop("malformed:no_path")
        return None
    length = row.get("length_bytes")
    if isinstance(length, int) and length > config.max_file_bytes:
        stats.drop("too_large", length)  # known from the row: the content is never read
        return None
    where = find_blob(config.mirror, blob_id)
    if where is None:
        stats.drop("missing_blob", length if isinstance(length, int) else 0)
        return None
    try:
        raw = read_blob(where)
    except ValueError:
        stats.drop("malformed:bad_blob")
        return None
    if isinstance(length, int) and length != len(raw):
        stats.add("length_bytes_mismatch")
    if raw and is_binary(raw[:SNIFF_BYTES]):
        stats.drop("binary", len(raw))
        return None
    for flag in ("is_vendor", "is_generated"):
        if row.get(flag):
            stats.add(flag)
    if row.get("license_type"):
        stats.add(f"license_type:{row['license_type']}")
    return builder.from_text({
        "text": _decode(raw, row.get("src_encoding"), stats), "path": path.lstrip("/"),
        "repo": row.get("repo_name") or "", "language": row.get("language") or row.get("lang"),
        "stars": row.get("star_events_count"), "commit_time": row.get("committer_date") or row.get("revision_date")})


class StackV2Ingest(Source):
    name: ClassVar[str] = "stack_v2"
    config_cls: ClassVar[type] = StackV2Config
    config: StackV2Config

    def plan(self) -> list[StackV2Task]:
        return plan_stack_v2(self.config)

    def read(self, task: StackV2Task, stats: StageStats) -> Iterator[Record]:
        return read_stack_v2(task, self.config, stats)
