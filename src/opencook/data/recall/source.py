"""The ``web_ingest`` source stage: web-text files (WARC/WET, Parquet, JSONL) -> records.

Ingest proper reads repositories and names files by language; web pages have a URL instead of a path
and no file extension, so they get their own small source stage with the same contract
(``plan_ingest(config)`` in the driver, ``read_task(task, config, stats)`` in the workers).
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

import pyarrow as pa

from opencook.data.recall.extract import DEFAULT_EXTRACTOR, Extractor, extractor
from opencook.data.recall.pages import iter_pages, page_format, parquet_file
from opencook.kit.io import remote
from opencook.kit.io.shards import row_group_chunks
from opencook.kit.stats import StageStats
from opencook.kit.step import Record, Source


class WebIngestError(ValueError):
    """An input path that cannot be planned; the message names it and the fix."""


@dataclass
class WebIngestConfig:
    """``paths``: files or glob patterns; ``rows_per_task`` cuts Parquet files into tasks of about that many
    rows (a WARC/WET/JSONL file is one task); pages over ``max_page_bytes`` of text are dropped (``too_large``);
    ``extractor`` turns WARC HTML into text (``resiliparse``, ``trafilatura``, or the old ``bs4``)."""

    paths: list[str]
    rows_per_task: int = 10_000
    max_page_bytes: int = 1_000_000
    extractor: Extractor = DEFAULT_EXTRACTOR

    def __post_init__(self) -> None:
        if isinstance(self.paths, str):
            self.paths = [self.paths]
        if self.rows_per_task < 1 or self.max_page_bytes < 1:
            raise WebIngestError("web_ingest rows_per_task and max_page_bytes must be >= 1")
        extractor(self.extractor)


@dataclass(frozen=True)
class WebTask:
    source: str
    row_groups: tuple[int, ...] | None = None


def expand_paths(paths: list[str]) -> list[str]:
    """Files named by ``paths`` (globs and folders expanded), sorted, each checked for a known format. A path
    may be an fsspec URL (``s3://bucket/cc/*.warc.gz``); a remote folder gives the files directly in it."""
    out: list[str] = []
    for p in paths:
        p = p if remote.is_remote(p) else os.path.expanduser(remote.local(p))
        found = _expand_remote(p) if remote.is_remote(p) else _expand_local(p)
        for f in found:
            page_format(f)
        out.extend(found)
    if not out:
        raise WebIngestError(f"no web-text files under {', '.join(paths)}: give WARC/WET, Parquet or JSONL files")
    return sorted(set(out))


def _visible(name: str) -> bool:
    return not name.startswith((".", "_"))  # markers (_SUCCESS.json) and leftovers (.x.tmp) are not pages


def _expand_local(p: str) -> list[str]:
    if glob.has_magic(p):
        found = sorted(glob.glob(p))
        if not found:
            raise WebIngestError(f"web-text pattern {p!r} matches nothing: fix the pattern")
        return found
    if os.path.isdir(p):
        return sorted(os.path.join(p, n) for n in os.listdir(p) if _visible(n))
    if os.path.exists(p):
        return [p]
    raise WebIngestError(f"web-text path {p} does not exist: fix the path in the config")


def _expand_remote(url: str) -> list[str]:
    if glob.has_magic(url):
        found = remote.glob(url)
        if not found:
            raise WebIngestError(f"web-text pattern {url!r} matches nothing: fix the pattern")
        return found
    try:
        kind = remote.stat(url)["type"]
    except FileNotFoundError:
        raise WebIngestError(f"web-text path {url} does not exist: fix the path in the config") from None
    if kind != "directory":
        return [url]
    return [remote.join(url.rstrip("/"), rel) for rel in remote.find(url) if "/" not in rel and _visible(rel)]


def plan_ingest(config: WebIngestConfig) -> list[WebTask]:
    tasks: list[WebTask] = []
    for path in expand_paths(config.paths):
        if page_format(path) != "parquet":
            tasks.append(WebTask(path))
            continue
        try:
            with parquet_file(path) as pf:
                meta = pf.metadata
        except (OSError, pa.ArrowException) as exc:
            raise WebIngestError(f"Parquet file {path} is truncated or not Parquet ({exc}): regenerate it") from None
        tasks += [WebTask(path, groups) for groups in row_group_chunks(meta, config.rows_per_task)]
    return tasks


def read_task(task: WebTask, config: WebIngestConfig, stats: StageStats) -> Iterator[Record]:
    for record in iter_pages(task.source, stats, task.row_groups, html_extractor=config.extractor):
        stats.add("in")
        if record["size_bytes"] > config.max_page_bytes:
            stats.drop("too_large", record["size_bytes"])
            continue
        stats.kept(record["language"], record["size_bytes"])
        yield record


class WebIngest(Source):
    name: ClassVar[str] = "web_ingest"
    config_cls: ClassVar[type] = WebIngestConfig
    config: WebIngestConfig

    def __init__(self, config: WebIngestConfig | None = None) -> None:
        super().__init__(config)
        self._versions: dict[str, str] = {}  # file -> version, taken in plan(): one stat per file, not per task

    def plan(self) -> list[WebTask]:
        tasks = plan_ingest(self.config)
        self._versions = {path: remote.version(path) for path in sorted({t.source for t in tasks})}
        return tasks

    def fingerprint(self, task: WebTask) -> str:
        """The file's size and mtimes (an object's size and ETag): an edited or replaced input is read again on
        a rerun, every other task skipped."""
        return self._versions.get(task.source) or remote.version(task.source)

    def read(self, task: WebTask, stats: StageStats) -> Iterator[Record]:
        return read_task(task, self.config, stats)
