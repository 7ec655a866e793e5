"""One way to read a dataset: a folder (or one file) of Parquet or JSONL (plain, ``.gz``, ``.zst``) parts,
on local disk or behind an fsspec URL (``s3://bucket/run/dataset``, ``hf://datasets/...``; see ``remote``).

Every consumer -- tokenizer training, the packed and SFT builders, synth seeds, recall pages, the xc
function-names task, dedup -- reads through ``Dataset``, so a dataset the pipeline writes in any of its
formats is read the same way everywhere. Errors name the file (and line) and say the fix.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import zstandard

from opencook.kit.io import remote
from opencook.kit.io.compression import open_decompressed

PARQUET_SUFFIXES = (".parquet",)
JSONL_SUFFIXES = tuple(f"{base}{comp}" for base in (".jsonl", ".ndjson") for comp in ("", ".gz", ".zst"))
SUFFIXES = PARQUET_SUFFIXES + JSONL_SUFFIXES
BATCH_ROWS = 1024


class DatasetError(ValueError):
    """A dataset that cannot be read as asked: the message names the file (and line) and the fix."""


class NoDatasetFiles(DatasetError, FileNotFoundError):
    """The path is missing, or a folder holds no Parquet/JSONL file."""


def is_dataset_file(path: str | Path) -> bool:
    return str(path).lower().endswith(SUFFIXES)


def _hidden(path: Path, root: Path) -> bool:
    """Markers (``_SUCCESS.json``) and leftovers (``.x.tmp``) are not data."""
    return any(part.startswith((".", "_")) for part in path.relative_to(root).parts)


def _name(file: Path | str) -> str:
    return remote.basename(file).lower()


class Dataset:
    """The records of ``path``: one dataset file, or every dataset file under a folder (recursively, sorted,
    names starting with ``.`` or ``_`` skipped). ``path`` may be an fsspec URL; its files are then URLs
    (strings), read in blocks as they are consumed."""

    def __init__(self, path: str | Path) -> None:
        self.path: Path | str = path if remote.is_remote(path) else Path(remote.local(path))

    def __repr__(self) -> str:
        return f"Dataset({str(self.path)!r})"

    def files(self) -> list[Path] | list[str]:
        path = self.path
        if isinstance(path, str):
            return _remote_files(path)
        if path.is_file():
            if not is_dataset_file(path):
                raise NoDatasetFiles(f"{path} is not a dataset file: give a {', '.join(SUFFIXES[:4])} file or "
                                     "a folder of them (such as a run's dataset/)")
            return [path]
        if not path.is_dir():
            raise NoDatasetFiles(f"{path} does not exist: give a dataset folder (such as runs/demo/dataset) "
                                 "or a Parquet/JSONL file")
        found = sorted(p for p in path.rglob("*") if p.is_file() and not _hidden(p, path))
        files = [p for p in found if is_dataset_file(p)]
        if not files:
            what = "is empty" if not found else f"holds no Parquet/JSONL files (found e.g. {found[0].name})"
            raise NoDatasetFiles(f"{path} {what}: give a folder of {', '.join(SUFFIXES[:4])} files, such as "
                                 "the dataset/ of `opencook run`")
        return files

    def records(self, columns: Sequence[str] | None = None, *,
                on_bad: Callable[[str, Exception | None], None] | None = None) -> Iterator[dict]:
        """Every record, file by file. ``columns`` keeps only those fields (``None`` where a record lacks
        one); Parquet then reads only those columns. A malformed JSONL line is an error naming its
        ``file:line`` -- unless ``on_bad`` is given (messy web data), which is called with a reason
        (``bad_json``, ``not_an_object``, ``truncated_file``) and the error, if any, and the line (or the
        rest of a truncated file) is skipped."""
        for _, record in self.located_records(columns, on_bad=on_bad):
            yield record

    def located_records(self, columns: Sequence[str] | None = None, *,
                        on_bad: Callable[[str, Exception | None], None] | None = None) -> Iterator[tuple[str, dict]]:
        """``(where, record)``: ``where`` is ``file:line`` (JSONL) or ``file:row N`` (Parquet), for consumers
        whose own checks must name the record they reject."""
        for file in self.files():
            if _name(file).endswith(PARQUET_SUFFIXES):
                for n, record in enumerate(_parquet_records(file, columns)):
                    yield f"{file}:row {n}", record
            else:
                for lineno, record in _jsonl_records(file, columns, on_bad):
                    yield f"{file}:{lineno}", record

    def texts(self) -> Iterator[str]:
        """Every record's ``text``, empty ones included; a record without a string ``text`` is an error."""
        for file in self.files():
            if _name(file).endswith(PARQUET_SUFFIXES):
                names = _parquet_file(file).schema_arrow.names
                if "text" not in names:
                    raise DatasetError(f"{file} has no 'text' column (columns: {names}); give a dataset "
                                       "written by `opencook run`, or add the column")
                for row in _parquet_records(file, ["text"]):
                    if row["text"] is not None:
                        yield row["text"]
                continue
            for lineno, row in _jsonl_lines(file, None):
                text = row.get("text") if isinstance(row, dict) else None
                if not isinstance(text, str):
                    raise DatasetError(f"{file}:{lineno} has no 'text' field (a string); each line needs one")
                yield text


def _remote_files(url: str) -> list[str]:
    try:
        info = remote.stat(url)
    except FileNotFoundError:
        raise NoDatasetFiles(f"{url} does not exist: give a dataset folder or a Parquet/JSONL file URL") from None
    if info["type"] != "directory":
        if not is_dataset_file(url):
            raise NoDatasetFiles(f"{url} is not a dataset file: give a {', '.join(SUFFIXES[:4])} file or a "
                                 "folder of them")
        return [url]
    found = remote_visible_files(url)
    files = [u for u in found if is_dataset_file(u)]
    if not files:
        what = "is empty" if not found else f"holds no Parquet/JSONL files (found e.g. {remote.basename(found[0])})"
        raise NoDatasetFiles(f"{url} {what}: give a folder of {', '.join(SUFFIXES[:4])} files")
    return files


def remote_visible_files(url: str) -> list[str]:
    """Every file under the remote folder ``url`` (one listing), names starting with ``.`` or ``_`` skipped."""
    return [remote.join(url, rel) for rel in remote.find(url)
            if not any(part.startswith((".", "_")) for part in rel.split("/"))]


def _parquet_file(file: Path | str):  # type: ignore[no-untyped-def]
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(remote.open_binary(file) if isinstance(file, str) else file)
    except (OSError, pa.ArrowException) as exc:
        raise DatasetError(f"{file} is not a readable Parquet file ({exc}); rewrite it or move it out of the "
                           "dataset folder") from None


def _parquet_records(file: Path | str, columns: Sequence[str] | None) -> Iterator[dict]:
    import pyarrow as pa

    pf = _parquet_file(file)
    present = [c for c in columns if c in pf.schema_arrow.names] if columns is not None else None
    try:
        for batch in pf.iter_batches(batch_size=BATCH_ROWS, columns=present):
            rows = batch.to_pylist()
            if columns is None:
                yield from rows
            else:
                yield from ({c: row.get(c) for c in columns} for row in rows)
    except (OSError, pa.ArrowException) as exc:
        raise DatasetError(f"{file} is not a readable Parquet file ({exc}); rewrite it or move it out of the "
                           "dataset folder") from None


def _jsonl_lines(file: Path | str, on_bad: Callable[[str, Exception | None], None] | None) -> Iterator[tuple[int, object]]:
    """``(line number, parsed value)`` for every non-blank line."""
    try:
        with open_decompressed(str(file)) as fh:
            for lineno, raw in enumerate(fh, 1):
                if not raw.strip():
                    continue
                try:  # JSON text is UTF-8: a line that is not is malformed, never silently "repaired"
                    yield lineno, json.loads(raw.decode("utf-8"))
                except ValueError as exc:
                    if on_bad is None:
                        what = "not UTF-8" if isinstance(exc, UnicodeDecodeError) else "not valid JSON"
                        raise DatasetError(f"{file}:{lineno}: {what} ({exc}); fix or remove the line") from None
                    on_bad("bad_json", exc)
    except (EOFError, OSError, zstandard.ZstdError) as exc:
        if on_bad is None:
            raise DatasetError(f"{file} is truncated or corrupt ({exc}); rewrite or re-download it") from None
        on_bad("truncated_file", exc)


def _jsonl_records(file: Path | str, columns: Sequence[str] | None,
                   on_bad: Callable[[str, Exception | None], None] | None) -> Iterator[tuple[int, dict]]:
    for lineno, row in _jsonl_lines(file, on_bad):
        if not isinstance(row, dict):
            if on_bad is None:
                raise DatasetError(f"{file}:{lineno}: not a JSON object ({type(row).__name__}); each line "
                                   "must be one record {...}")
            on_bad("not_an_object", None)
            continue
        yield lineno, row if columns is None else {c: row.get(c) for c in columns}
