"""One raw file (bytes or already-decoded text) -> one record, or a counted drop.

Checks run cheapest first so a dropped file costs as little as possible, and the first
failing check names the drop: ``too_large``, ``unknown_language``, ``excluded:<Language>``,
``doc_type:<type>``, ``empty``, ``binary``, ``malformed_notebook``, then ``empty`` again
for files that are only whitespace after decoding.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from typing import Any

from opencook.data.ingest.config import IngestConfig
from opencook.data.ingest.decode import SNIFF_BYTES, decode, is_binary, normalize_newlines
from opencook.data.ingest.files import BAD_NAME, name_ok
from opencook.data.ingest.languages import canonical_language, detect_language, doc_type_for
from opencook.data.ingest.metadata import RepoMeta, parse_commit_time, parse_stars
from opencook.data.ingest.notebooks import MalformedNotebook, notebook_to_text
from opencook.kit.io import remote
from opencook.kit.stats import StageStats, head
from opencook.kit.step import Record

NOTEBOOK = "Jupyter Notebook"


def record_id(repo: str, path: str) -> str:
    """Stable id: sha1 hex of ``repo\\0path`` (independent of sharding and order)."""
    return hashlib.sha1(f"{repo}\0{path}".encode()).hexdigest()


def split_name(path: str) -> tuple[str, str]:
    """``(filename, ext)``: base name, and its last extension lower-cased without the dot."""
    filename = os.path.basename(path)
    dot = filename.rfind(".")
    return filename, (filename[dot + 1 :].lower() if dot > 0 else "")


PEEK_BYTES = 2048


def peek(path: str) -> bytes | None:
    """The first bytes of a regular file or remote object (an example's first lines), or None if it cannot be
    read."""
    try:
        with remote.open_binary(path) as fh:
            return fh.read(PEEK_BYTES)
    except OSError:
        return None


def text_head(content: bytes | str | Callable[[], bytes | str | None] | None) -> str | None:
    """The first lines of a dropped file for the report; None for binary or unreadable content."""
    data = content() if callable(content) else content
    if isinstance(data, bytes):
        if is_binary(data[:SNIFF_BYTES]):
            return None
        data = decode(data[:PEEK_BYTES])[0]
    return head(data) if isinstance(data, str) else None


class RecordBuilder:
    """Applies the preprocess rules of one config and counts every outcome in ``stats``."""

    def __init__(self, config: IngestConfig, stats: StageStats, metadata: dict[str, RepoMeta]) -> None:
        self.max_bytes = config.max_file_bytes
        self.keep = frozenset(config.keep_doc_types)
        self.stats = stats
        self.metadata = metadata

    def seen(self) -> None:
        self.stats.add("files_seen")
        self.stats.add("in")

    def drop(self, reason: str, nbytes: int = 0, repo: str = "", path: str | None = None,
             content: bytes | str | Callable[[], bytes | str | None] | None = None) -> None:
        """Count a drop; with ``path``, the report may show it as an example (``content``, or a function that
        reads it, gives the first lines), and an ``unknown_language`` drop is counted by extension."""
        if path is None:
            self.stats.drop(reason, nbytes)
            return
        if reason == "unknown_language":
            ext = split_name(path)[1] or "(none)"
            self.stats.add(f"unknown_language_ext:{ext}")
            self.stats.add(f"unknown_language_ext_bytes:{ext}", nbytes)
        where = "/".join(p for p in (repo, path) if p)
        self.stats.drop(reason, nbytes, example={"path": where, "size": nbytes, "head": lambda: text_head(content)})

    def rejection(self, language: str) -> str | None:
        """The drop reason for a language, or ``None`` when files of it are kept."""
        doc_type = doc_type_for(language)
        if doc_type == "unknown":
            return "unknown_language"
        if doc_type == "excluded":
            return f"excluded:{language}"
        if doc_type not in self.keep:
            return f"doc_type:{doc_type}"
        return None

    def from_bytes(self, repo: str, path: str, raw: bytes, language: str) -> Record | None:
        """A file read from disk or an archive; ``language`` already passed ``rejection``."""
        size = len(raw)
        if size == 0:
            self.drop("empty", 0, repo, path)
            return None
        if is_binary(raw[:SNIFF_BYTES]):
            self.drop("binary", size, repo, path)
            return None
        text, encoding = decode(raw)
        self.stats.add(f"decode:{encoding}")
        same_bytes = encoding == "utf-8" and len(text) == size  # pure ASCII, no \r: skip re-encoding
        return self._finish(repo, path, text, size, language, None, None, same_bytes)

    def from_text(self, row: dict[str, Any]) -> Record | None:
        """A record from a JSONL/Parquet row with at least ``text`` and ``path``."""
        text, path = row.get("text"), row.get("path")
        if not isinstance(text, str) or not isinstance(path, str) or not path:
            self.drop("missing_fields")
            return None
        repo = str(row.get("repo") or "")
        if not name_ok(repo, path):  # a lone surrogate from a JSON escape: Parquet cannot store the name
            self.drop(BAD_NAME)
            return None
        try:
            size = len(text.encode("utf-8"))
        except UnicodeEncodeError:  # lone surrogates from JSON "\ud800" escapes; Arrow cannot store them
            text = text.encode("utf-8", errors="replace").decode("utf-8")
            size = len(text.encode("utf-8"))
            self.stats.add("decode:surrogates_replaced")
        if size > self.max_bytes:
            self.drop("too_large", size, repo, path, text[:PEEK_BYTES])
            return None
        language = canonical_language(row.get("language")) or detect_language(path)
        reason = self.rejection(language)
        if reason is not None:
            self.drop(reason, size, repo, path, text[:PEEK_BYTES])
            return None
        if "\x00" in text[:SNIFF_BYTES]:
            self.drop("binary", size, repo, path)
            return None
        try:
            stars = parse_stars(row.get("stars"))
        except (ValueError, TypeError, OverflowError):
            stars = None
            self.stats.add("bad_stars")
        try:
            commit_time = parse_commit_time(row.get("commit_time"))
        except (ValueError, TypeError, OverflowError):
            commit_time = None
            self.stats.add("bad_commit_time")
        return self._finish(repo, path, normalize_newlines(text), size, language, stars, commit_time, False)

    def _finish(
        self,
        repo: str,
        path: str,
        text: str,
        size: int,
        language: str,
        stars: int | None,
        commit_time: int | None,
        same_bytes: bool,
    ) -> Record | None:
        filename, ext = split_name(path)
        if language == NOTEBOOK:
            try:
                text, language = notebook_to_text(text)
            except MalformedNotebook:
                self.drop("malformed_notebook", size, repo, path, text[:PEEK_BYTES])
                return None
            self.stats.add("notebooks_converted")
            same_bytes = False
            reason = self.rejection(language)
            if reason is not None:
                self.drop(reason, size, repo, path, text[:PEEK_BYTES])
                return None
        if not text or text.isspace():
            self.drop("empty", size, repo, path)
            return None
        if stars is None or commit_time is None:
            meta_stars, meta_time = self.metadata.get(repo, (None, None))
            stars = meta_stars if stars is None else stars
            commit_time = meta_time if commit_time is None else commit_time
        self.stats.add("out")
        self.stats.kept(language, size if same_bytes else len(text.encode("utf-8")))
        return {
            "id": record_id(repo, path),
            "repo": repo,
            "path": path,
            "filename": filename,
            "ext": ext,
            "size_bytes": size,
            "language": language,
            "doc_type": doc_type_for(language),
            "stars": stars,
            "commit_time": commit_time,
            "text": text,
        }
