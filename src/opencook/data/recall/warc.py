"""WARC records (Common Crawl WARC and WET files, plain or gzip) -> ``(url, text)`` pages.

A WET ``conversion`` record already holds the page's plain text; a WARC ``response`` record holds the
HTTP response, whose ``text/html`` body is turned into text by the named extractor (``extract``; an
extractor that raises is counted ``extract_failed:<error>`` and the page is empty). Every other record
type (``warcinfo``, ``request``, ``metadata``) is counted under ``warc_skipped:<type>``. A malformed record
is counted as a drop ``malformed:<reason>`` and skipped; a file cut short stops its reading with the
drop ``malformed:truncated_file``. Nothing here raises on bad input.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import BinaryIO

from opencook.data.recall.extract import DEFAULT_EXTRACTOR, extractor
from opencook.kit.io.remote import open_binary
from opencook.kit.stats import StageStats

_MAX_HEADER_LINES = 200


class _Malformed(Exception):
    def __init__(self, reason: str, resync: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.resync = resync


@contextmanager
def open_warc(path: str) -> Iterator[BinaryIO]:
    """A WARC/WET file on disk or behind an fsspec URL. Gzip ones are one gzip member per record; ``gzip``
    reads the members as one stream."""
    with open_binary(path) as raw:
        gzipped = raw.read(2) == b"\x1f\x8b"
        raw.seek(0)
        if not gzipped:
            yield raw
            return
        with gzip.GzipFile(fileobj=raw, mode="rb") as fh:
            yield fh


def iter_warc_pages(path: str, stats: StageStats, html_extractor: str = DEFAULT_EXTRACTOR
                    ) -> Iterator[tuple[str, str]]:
    """``(url, text)`` of every text-bearing record of one WARC/WET file; HTML through ``html_extractor``."""
    extract = extractor(html_extractor)

    def to_text(html: str) -> str:
        try:
            return extract(html)
        except ImportError:
            raise
        except Exception as exc:  # a third-party parser on arbitrary web input
            stats.add(f"extract_failed:{type(exc).__name__}")
            return ""

    with open_warc(path) as fh:
        try:
            yield from _pages(fh, stats, to_text)
        except (EOFError, OSError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
            stats.drop("malformed:truncated_file")
            stats.add(f"truncated_file:{type(exc).__name__}")


def _pages(fh: BinaryIO, stats: StageStats, to_text: Callable[[str], str]) -> Iterator[tuple[str, str]]:
    pending: bytes | None = None
    while True:
        line = pending if pending is not None else fh.readline()
        pending = None
        if not line:
            return
        if not line.strip():
            continue
        if not line.startswith(b"WARC/"):
            stats.drop("malformed:no_warc_version_line")
            pending = _resync(fh)
            continue
        try:
            headers = _headers(fh)
            body = _body(fh, headers)
        except _Malformed as bad:
            stats.drop(f"malformed:{bad.reason}")
            if not bad.resync:
                return
            pending = _resync(fh)
            continue
        page = _page(headers, body, stats, to_text)
        if page is not None:
            yield page


def _resync(fh: BinaryIO) -> bytes | None:
    """Skip to the next ``WARC/`` version line; returns it (or ``None`` at the end of the file)."""
    while line := fh.readline():
        if line.startswith(b"WARC/"):
            return line
    return None


def _headers(fh: BinaryIO) -> dict[str, str]:
    headers: dict[str, str] = {}
    for _ in range(_MAX_HEADER_LINES):
        line = fh.readline()
        if not line:
            raise _Malformed("truncated_header", resync=False)
        if not line.strip():
            return headers
        name, sep, value = line.decode("utf-8", "replace").partition(":")
        if not sep:
            raise _Malformed("bad_header_line")
        headers[name.strip().lower()] = value.strip()
    raise _Malformed("header_too_long")


def _body(fh: BinaryIO, headers: dict[str, str]) -> bytes:
    raw = headers.get("content-length")
    if raw is None or not raw.isdigit():
        raise _Malformed("no_content_length")
    n = int(raw)
    body = fh.read(n)
    if len(body) < n:
        raise _Malformed("truncated_record", resync=False)
    return body


def _page(headers: dict[str, str], body: bytes, stats: StageStats, to_text: Callable[[str], str]
          ) -> tuple[str, str] | None:
    kind = headers.get("warc-type", "").lower()
    if kind not in ("conversion", "response", "resource"):
        stats.add(f"warc_skipped:{kind or 'untyped'}")
        return None
    url = headers.get("warc-target-uri", "").strip("<>")
    if not url:
        stats.drop("malformed:no_target_uri")
        return None
    if kind == "conversion":
        return url, body.decode("utf-8", "replace")
    if kind == "response":
        return _http_page(url, body, stats, to_text)
    content_type = headers.get("content-type", "")
    if not content_type.startswith("text/"):
        stats.add("warc_skipped:not_text")
        return None
    return url, _decode(body, content_type, to_text if "html" in content_type else None)


def _http_page(url: str, payload: bytes, stats: StageStats, to_text: Callable[[str], str]
               ) -> tuple[str, str] | None:
    head, sep, body = payload.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = payload.partition(b"\n\n")
    if not sep or not head.startswith(b"HTTP/"):
        stats.drop("malformed:bad_http_response")
        return None
    lines = head.decode("latin-1").splitlines()
    status = lines[0].split()
    if len(status) < 2 or status[1] != "200":
        stats.add("warc_skipped:http_status_not_200")
        return None
    http = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        http[name.strip().lower()] = value.strip()
    content_type = http.get("content-type", "").lower()
    if not content_type.startswith(("text/html", "application/xhtml", "text/plain")):
        stats.add("warc_skipped:not_html")
        return None
    if "chunked" in http.get("transfer-encoding", "").lower():
        body = _dechunk(body)
        if body is None:
            stats.drop("malformed:bad_chunked_body")
            return None
    if http.get("content-encoding", "").lower() in ("gzip", "x-gzip"):
        try:
            body = gzip.decompress(body)
        except (OSError, EOFError, zlib.error):
            stats.drop("malformed:bad_gzip_body")
            return None
    return url, _decode(body, content_type, to_text if "html" in content_type else None)


def _dechunk(body: bytes) -> bytes | None:
    out, pos = [], 0
    while True:
        end = body.find(b"\r\n", pos)
        if end < 0:
            return None
        try:
            size = int(body[pos:end].split(b";")[0], 16)
        except ValueError:
            return None
        if size == 0:
            return b"".join(out)
        out.append(body[end + 2 : end + 2 + size])
        pos = end + 2 + size + 2


def _decode(body: bytes, content_type: str, to_text: Callable[[str], str] | None) -> str:
    charset = "utf-8"
    if "charset=" in content_type:
        charset = content_type.split("charset=", 1)[1].split(";")[0].strip().strip('"') or "utf-8"
    try:
        text = body.decode(charset, "replace")
    except LookupError:
        text = body.decode("utf-8", "replace")
    return to_text(text) if to_text is not None else text
