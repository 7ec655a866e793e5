"""Web pages from any supported file -> pipeline records (fields: docs/schema.md).

Files may be local paths or fsspec URLs (``s3://...``; opened through ``kit.io.remote``).
Formats, by name: ``*.warc[.gz]`` and ``*.wet[.gz]`` (Common Crawl WARC/WET, see ``warc``),
``*.parquet`` (FineWeb style: ``url`` and ``text`` columns), ``*.jsonl[.gz|.zst]`` (one object with
``url`` and ``text`` per line). A page becomes a record with ``repo`` = its domain and ``path`` = its
URL, so the id (sha1 of ``repo\\0path``) is stable and the domain is at hand for grouping. Bad rows are
counted (``malformed:<reason>``) and skipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.parquet as pq

from opencook.data.ingest.config import JSONL_SUFFIXES, PARQUET_SUFFIXES
from opencook.data.ingest.records import record_id
from opencook.data.recall.extract import DEFAULT_EXTRACTOR
from opencook.data.recall.warc import iter_warc_pages
from opencook.kit.io import Dataset, remote
from opencook.kit.stats import StageStats
from opencook.kit.step import Record

WARC_SUFFIXES = (".warc", ".warc.gz", ".wet", ".wet.gz")
TEXT_KEYS = ("text", "content", "raw_content")
URL_KEYS = ("url", "URL", "source_url")


class WebFormatError(ValueError):
    """A file whose format is not one of the supported web-text formats."""


def page_format(path: str) -> str:
    """``warc``, ``jsonl`` or ``parquet`` from the file name; a clear error otherwise."""
    lower = path.lower()
    if lower.endswith(WARC_SUFFIXES):
        return "warc"
    if lower.endswith(JSONL_SUFFIXES):
        return "jsonl"
    if lower.endswith(PARQUET_SUFFIXES):
        return "parquet"
    raise WebFormatError(
        f"{path} is not a web-text file: name it *.warc[.gz], *.wet[.gz] (Common Crawl), *.parquet "
        "(url, text columns) or *.jsonl[.gz|.zst] (url, text fields)"
    )


@contextmanager
def parquet_file(path: str) -> Iterator[pq.ParquetFile]:
    """A Parquet file on disk or behind an fsspec URL (then read in blocks: the footer and the asked row
    groups only), closed on exit."""
    with remote.open_binary(path) if remote.is_remote(path) else nullcontext(path) as source, \
            pq.ParquetFile(source) as pf:
        yield pf


def domain_of(url: str) -> str:
    """Lower-case host without port and a leading ``www.`` (``https://www.Python.org:443/x`` -> ``python.org``)."""
    host = urlsplit(url if "//" in url else "//" + url).hostname or ""
    return host[4:] if host.startswith("www.") else host


def page_record(url: str, text: str) -> Record:
    domain = domain_of(url)
    return {
        "id": record_id(domain, url), "repo": domain, "path": url, "filename": "", "ext": "",
        "size_bytes": len(text.encode("utf-8", "surrogatepass")), "language": "Text", "doc_type": "text",
        "text": text,
    }


def iter_pages(path: str, stats: StageStats, row_groups: tuple[int, ...] | None = None, *,
               require_url: bool = True, html_extractor: str = DEFAULT_EXTRACTOR) -> Iterator[Record]:
    """Records of one web-text file (Parquet: only ``row_groups`` when given); empty pages are dropped.
    ``require_url=False`` accepts JSONL/Parquet rows without a URL (seed pages), with ``url`` ``""``;
    ``html_extractor`` turns WARC HTML responses into text (``extract.EXTRACTORS``)."""
    fmt = page_format(path)
    if fmt == "warc":
        raw = iter_warc_pages(path, stats, html_extractor)
    elif fmt == "jsonl":
        raw = _jsonl(path, stats, require_url)
    else:
        raw = _parquet(path, stats, row_groups, require_url)
    for url, text in raw:
        stats.add("pages_seen")
        if not text.strip():
            stats.drop("empty")
            continue
        yield page_record(url, text)


def _pick(row: dict, keys: tuple[str, ...]) -> object:
    for k in keys:
        if row.get(k) is not None:
            return row[k]
    return None


def _url_text(row: object, require_url: bool = True) -> tuple[str, str] | str:
    """``(url, text)``, or the reason the row is malformed."""
    if not isinstance(row, dict):
        return "not_an_object"
    url, text = _pick(row, URL_KEYS), _pick(row, TEXT_KEYS)
    if url is None and not require_url:
        url = ""
    if not isinstance(url, str) or (require_url and not url):
        return "no_url"
    if not isinstance(text, str):
        return "no_text"
    return url, text


def _jsonl(path: str, stats: StageStats, require_url: bool) -> Iterator[tuple[str, str]]:
    def bad(reason: str, exc: Exception | None) -> None:
        stats.drop(f"malformed:{reason}")
        if reason == "truncated_file":
            stats.add(f"truncated_file:{type(exc).__name__}")

    for row in Dataset(path).records(on_bad=bad):
        got = _url_text(row, require_url)
        if isinstance(got, str):
            stats.drop(f"malformed:{got}")
        else:
            yield got


def _parquet(
    path: str, stats: StageStats, row_groups: tuple[int, ...] | None, require_url: bool
) -> Iterator[tuple[str, str]]:
    try:
        with parquet_file(path) as pf:
            names = set(pf.schema_arrow.names)
            columns = [c for c in (*URL_KEYS, *TEXT_KEYS) if c in names]
            groups = list(row_groups) if row_groups is not None else list(range(pf.num_row_groups))
            for batch in pf.iter_batches(row_groups=groups, columns=columns, batch_size=1024):
                for row in batch.to_pylist():
                    got = _url_text(row, require_url)
                    if isinstance(got, str):
                        stats.drop(f"malformed:{got}")
                    else:
                        yield got
    except (OSError, pa.ArrowException) as exc:
        stats.drop("malformed:unreadable_parquet")
        stats.add(f"unreadable_parquet:{type(exc).__name__}")
