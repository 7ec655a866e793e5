"""Per-repository metadata (stars, latest commit time) from a sidecar file.

The sidecar is CSV (header row) or JSONL, one repository per row, with columns
``repo`` (the name ingest gives the repository: folder name or archive stem, or the
``repo`` field of a JSONL/Parquet record), ``stars`` and ``commit_time`` (ISO 8601, naive
times read as UTC, or unix seconds). Exact dedup uses both to choose which copy survives.
"""

from __future__ import annotations

import csv
import functools
import json
import os
from datetime import UTC, datetime
from typing import Any

from opencook.data.ingest.config import IngestError
from opencook.kit.io import remote
from opencook.kit.io.compression import open_decompressed

RepoMeta = tuple[int | None, int | None]  # (stars, commit_time)


def parse_commit_time(value: Any) -> int | None:
    """Unix seconds from an int/float, a digit string, an ISO 8601 string or a datetime.

    Raises ``ValueError`` for anything else; ``None``/"" mean unknown.
    """
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(f"not a time: {value!r}")
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, datetime):
        dt = value
    else:
        s = str(value).strip()
        try:
            return int(float(s))
        except ValueError:
            dt = datetime.fromisoformat(s)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp())


def parse_stars(value: Any) -> int | None:
    """Star count from an int or a numeric string; raises ``ValueError`` otherwise."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(f"not a star count: {value!r}")
    return int(float(value)) if isinstance(value, str) else int(value)


def _rows(path: str) -> list[tuple[int, dict[str, Any]]]:
    lower = path.lower()
    with open_decompressed(path) as fh:
        raw = fh.read().decode("utf-8-sig")
    if ".csv" in lower:
        return [(i + 2, row) for i, row in enumerate(csv.DictReader(raw.splitlines()))]
    rows = []
    for i, line in enumerate(raw.splitlines(), 1):
        if line.strip():
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise IngestError(
                    f"metadata {path}:{i} is not valid JSON ({e}): fix or remove the line"
                ) from None
            rows.append((i, row))
    return rows


def load_metadata(path: str) -> dict[str, RepoMeta]:
    """``repo -> (stars, commit_time)``; cached per process by path, size and mtime."""
    if remote.is_remote(path):
        try:
            info = remote.stat(path)
        except OSError as e:
            raise IngestError(f"metadata file {path} cannot be read ({e}): fix the metadata URL") from None
        return _load(path, info["size"], info["version"])
    try:
        st = os.stat(path)
    except OSError as e:
        raise IngestError(
            f"metadata file {path} cannot be read ({e.strerror}): fix the metadata path"
        ) from None
    return _load(path, st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=4)
def _load(path: str, size: int, mtime_ns: int | str) -> dict[str, RepoMeta]:
    out: dict[str, RepoMeta] = {}
    try:
        rows = _rows(path)
    except (OSError, EOFError, UnicodeDecodeError, csv.Error) as e:
        raise IngestError(f"metadata file {path} cannot be read ({e}): fix or regenerate it") from None
    for line, row in rows:
        if not isinstance(row, dict) or not row.get("repo"):
            raise IngestError(
                f"metadata {path}:{line} has no 'repo' value: every row needs repo, stars, commit_time"
            )
        try:
            out[str(row["repo"])] = (parse_stars(row.get("stars")), parse_commit_time(row.get("commit_time")))
        except (ValueError, TypeError, OverflowError) as e:
            raise IngestError(
                f"metadata {path}:{line}: bad stars/commit_time ({e}); use integers, ISO 8601 or unix time"
            ) from None
    return out
