"""Read one ``IngestTask`` into records.

Every file a task names is either yielded as a record or counted as a drop in ``stats``;
a damaged *input* (truncated archive, gzip/zstd stream or Parquet file) raises
``IngestError`` naming it, since silently ingesting part of a shard would change the
dataset without anyone noticing.
"""

from __future__ import annotations

import json
import os
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Iterator

import pyarrow as pa
import pyarrow.parquet as pq
import zstandard

from opencook.data.ingest.config import FLAG_DROPS, IngestConfig, IngestError, IngestTask
from opencook.data.ingest.files import BAD_NAME, name_ok, read_regular, stat_reason
from opencook.data.ingest.languages import UNKNOWN, detect_language
from opencook.data.ingest.metadata import load_metadata
from opencook.data.ingest.records import PEEK_BYTES, RecordBuilder, peek
from opencook.kit.io import remote
from opencook.kit.io.compression import open_decompressed
from opencook.kit.stats import StageStats
from opencook.kit.step import Record

SKIP_DIRS = frozenset({".git", ".hg", ".svn"})
RECORD_COLUMNS = ("text", "content", "path", "repo", "repo_name", "stars", "commit_time", "language")
_STREAM_ERRORS = (OSError, EOFError, tarfile.TarError, zlib.error, zstandard.ZstdError, zipfile.BadZipFile)


def read_task(task: IngestTask, config: IngestConfig, stats: StageStats) -> Iterator[Record]:
    """Yield the records of ``task``; count every dropped file in ``stats``."""
    metadata = load_metadata(config.metadata) if config.metadata else {}
    builder = RecordBuilder(config, stats, metadata)
    if task.kind == "tree":
        yield from _read_tree(task, builder)
    elif task.kind == "archive":
        yield from _read_archive(task, config, builder)
    elif task.kind == "jsonl":
        yield from _read_jsonl(task, builder)
    elif task.kind == "parquet":
        yield from _read_parquet(task, builder)
    else:
        raise IngestError(f"unknown ingest task kind {task.kind!r}: re-plan with plan_ingest")


SHEBANG_BYTES = 256  # a shebang line is the first line; 256 bytes hold any real one


def extensionless(path: str) -> bool:
    """No extension in the base name (a leading dot does not count): ``bin/run``, ``.profile``."""
    return "." not in os.path.basename(path).lstrip(".")


def _read_tree(task: IngestTask, b: RecordBuilder) -> Iterator[Record]:
    for root, repo, rel, flag in task.files:
        b.seen()
        if flag in FLAG_DROPS:
            b.drop(FLAG_DROPS[flag])
            continue
        if not name_ok(repo, rel):
            b.drop(BAD_NAME)
            continue
        full = os.path.join(root, rel)
        language, raw = detect_language(rel), None
        if language == UNKNOWN and extensionless(rel):  # a script without an extension: its shebang decides
            raw, size, why = read_regular(full, b.max_bytes)
            if raw is not None:
                language = detect_language(rel, raw[:SHEBANG_BYTES])
        reason = b.rejection(language)
        if reason is not None:  # one stat, for the size and the dropped-bytes count
            size, why = stat_reason(full)
            b.drop(why or ("too_large" if size > b.max_bytes else reason), size, repo, rel,
                   None if why else (raw or (lambda f=full: peek(f))))
            continue
        if raw is None:
            raw, size, why = read_regular(full, b.max_bytes)
            if why is not None:
                b.drop(why, size, repo, rel, (lambda f=full: peek(f)) if why == "too_large" else None)
                continue
        record = b.from_bytes(repo, rel, raw, language)
        if record is not None:
            yield record


def member_filter(path: str, include_hidden: bool) -> str | None:
    """``None`` to read an archive member, ``"skip"`` (not counted) or ``"hidden"`` (counted).

    Mirrors the directory walk: VCS folders and hidden folders are not entered, hidden
    files are counted as dropped.
    """
    parts = path.split("/")
    if any(p in SKIP_DIRS for p in parts[:-1]):
        return "skip"
    if include_hidden:
        return None
    if any(p.startswith(".") for p in parts[:-1]):
        return "skip"
    return "hidden" if parts[-1].startswith(".") else None


def _single_top_folder(names: list[str]) -> str:
    """``"top/"`` when every member lives under one folder (GitHub tarballs), else ``""``."""
    tops = {n.split("/", 1)[0] for n in names if n}
    if len(tops) != 1:
        return ""
    top = tops.pop()
    return f"{top}/" if any("/" in n for n in names) else ""


def _archive_member(
    b: RecordBuilder, repo: str, path: str, size: int, is_link: bool, read, include_hidden: bool
) -> Record | None:
    """Shared by tar and zip: filters, size and language checks before ``read()``."""
    verdict = member_filter(path, include_hidden)
    if verdict == "skip":
        return None
    b.seen()
    if verdict == "hidden":
        b.drop("hidden", size, repo, path)
        return None
    if not name_ok(repo, path):
        b.drop(BAD_NAME, size)
        return None
    if is_link:
        b.drop("symlink")
        return None
    if size > b.max_bytes:
        b.drop("too_large", size, repo, path)
        return None
    language, raw = detect_language(path), None
    if language == UNKNOWN and extensionless(path):
        raw = read()
        language = detect_language(path, raw[:SHEBANG_BYTES])
    reason = b.rejection(language)
    if reason is not None:
        b.drop(reason, size, repo, path, raw or (lambda: read()[:PEEK_BYTES]))
        return None
    return b.from_bytes(repo, path, read() if raw is None else raw, language)


def _read_archive(task: IngestTask, config: IngestConfig, b: RecordBuilder) -> Iterator[Record]:
    try:
        if task.source.lower().endswith(".zip"):
            yield from _read_zip(task, config, b)
        else:
            yield from _read_tar(task, config, b)
    except _STREAM_ERRORS as e:
        raise IngestError(
            f"archive {task.source} is truncated or corrupt ({type(e).__name__}: {e}): "
            "re-download it or remove it from the ingest paths"
        ) from None


def _read_zip(task: IngestTask, config: IngestConfig, b: RecordBuilder) -> Iterator[Record]:
    with remote.open_binary(task.source) as fh, zipfile.ZipFile(fh) as zf:
        infos = sorted((i for i in zf.infolist() if not i.is_dir()), key=lambda i: i.filename)
        prefix = _single_top_folder([i.filename for i in infos])
        for info in infos:
            path = info.filename[len(prefix) :]
            is_link = stat.S_ISLNK(info.external_attr >> 16)
            record = _archive_member(
                b, task.repo, path, info.file_size, is_link, lambda i=info: zf.read(i), config.include_hidden
            )
            if record is not None:
                yield record


def _tar_name(m: tarfile.TarInfo) -> str:
    return m.name[2:] if m.name.startswith("./") else m.name


def _tar_names(source: str) -> list[str]:
    with open_decompressed(source) as fh, tarfile.open(fileobj=fh, mode="r|") as tf:
        return [_tar_name(m) for m in tf if not m.isdir()]


def _read_tar(task: IngestTask, config: IngestConfig, b: RecordBuilder) -> Iterator[Record]:
    """Two streaming passes: names (to find a single top folder), then contents.

    Random access into a compressed tar rewinds the decompressor on every backward seek;
    a second sequential pass costs only the decompression, which is far faster than the
    rest of the pipeline.
    """
    prefix = _single_top_folder(_tar_names(task.source))
    with open_decompressed(task.source) as fh, tarfile.open(fileobj=fh, mode="r|") as tf:
        for m in tf:
            if m.isdir():
                continue
            name = _tar_name(m)
            path = name[len(prefix) :] if prefix and name.startswith(prefix) else name
            is_link = not m.isfile()  # symlinks, hard links, devices: no content of their own

            def read(m: tarfile.TarInfo = m) -> bytes:
                f = tf.extractfile(m)
                return f.read() if f is not None else b""

            record = _archive_member(b, task.repo, path, m.size, is_link, read, config.include_hidden)
            if record is not None:
                yield record


def _read_jsonl(task: IngestTask, b: RecordBuilder) -> Iterator[Record]:
    try:
        with open_decompressed(task.source) as fh:
            for line in fh:
                if not line.strip():
                    continue
                b.seen()
                try:
                    row = json.loads(line)
                except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
                    b.drop("malformed_json_line", len(line))
                    continue
                if not isinstance(row, dict):
                    b.drop("malformed_json_line", len(line))
                    continue
                record = b.from_text(_aliased(row))
                if record is not None:
                    yield record
    except _STREAM_ERRORS as e:
        raise IngestError(
            f"JSONL file {task.source} is truncated or unreadable ({type(e).__name__}: {e}): "
            "re-download or regenerate it"
        ) from None


def _aliased(row: dict) -> dict:
    """Accept The Stack's column names (``content``, ``repo_name``) next to ours."""
    if "text" not in row and "content" in row:
        row["text"] = row["content"]
    if "repo" not in row and "repo_name" in row:
        row["repo"] = row["repo_name"]
    return row


def _read_parquet(task: IngestTask, b: RecordBuilder) -> Iterator[Record]:
    try:
        fh = remote.open_binary(task.source)
    except OSError as e:
        raise IngestError(f"Parquet file {task.source} cannot be opened ({e}): fix the path or re-download it") from None
    try:
        pf = pq.ParquetFile(fh)
        columns = [c for c in RECORD_COLUMNS if c in pf.schema_arrow.names]
        for batch in pf.iter_batches(batch_size=1024, row_groups=list(task.row_groups), columns=columns):
            for row in batch.to_pylist():
                b.seen()
                record = b.from_text(_aliased(row))
                if record is not None:
                    yield record
    except (OSError, pa.ArrowException) as e:
        raise IngestError(
            f"Parquet file {task.source} is truncated or corrupt ({type(e).__name__}: {e}): "
            "re-download or regenerate it"
        ) from None
    finally:
        fh.close()
