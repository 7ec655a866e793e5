"""Run the quality filter alone over a folder of files or a Parquet/JSONL dataset.

One output row per file: ``path, language, doc_type, kept, hits, rule_set, reason, signals`` (a JSON
string), written to ``out_dir/filter_results.parquet`` (or ``.jsonl``).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from opencook.data.filter.evaluate import Verdict
from opencook.data.filter.step import QualityFilterConfig, judge, verdict_row
from opencook.data.ingest.decode import is_binary

MAX_FILE_BYTES = 8_000_000  # RefineCode's preprocessing limit

_DATASET_SUFFIXES = (".parquet", ".jsonl")


def _language_tools():
    from opencook.data.ingest.languages import detect_language, doc_type_for

    return detect_language, doc_type_for


def _folder_records(root: Path) -> Iterator[dict[str, Any]]:
    detect_language, doc_type_for = _language_tools()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != ".git")
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if not path.is_file():
                continue
            raw = path.read_bytes()
            skip = "binary" if is_binary(raw) else "too_large" if len(raw) > MAX_FILE_BYTES else None
            # Text mode as in the reference: UTF-8, universal newlines (undecodable bytes -> U+FFFD).
            text = "" if skip else raw.decode("utf-8", "replace").replace("\r\n", "\n").replace("\r", "\n")
            language = detect_language(name)
            rel = path.relative_to(root).as_posix()
            yield {
                "id": rel,
                "path": rel,
                "filename": name,
                "size_bytes": len(raw),
                "language": language,
                "doc_type": doc_type_for(language),
                "text": text,
                "skip_reason": skip,
            }


def _dataset_records(path: Path) -> Iterator[dict[str, Any]]:
    detect_language, doc_type_for = _language_tools()
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        rows: Iterator[dict[str, Any]] = (
            row for batch in pq.ParquetFile(path).iter_batches(batch_size=1024) for row in batch.to_pylist()
        )
    else:
        rows = (json.loads(line) for line in path.open(encoding="utf-8") if line.strip())
    for i, row in enumerate(rows):
        if "text" not in row or "path" not in row:
            raise ValueError(f"{path}: row {i} lacks a 'text' or 'path' column; both are required")
        if not row.get("language"):
            row["language"] = detect_language(row["path"])
        if not row.get("doc_type"):
            row["doc_type"] = doc_type_for(row["language"])
        row.setdefault("id", row["path"])
        yield row


def _judge_row(args: tuple[dict[str, Any], QualityFilterConfig]) -> dict[str, Any]:
    record, config = args
    if record.get("skip_reason"):  # never judged: a row that says why, so no file goes missing
        return {**verdict_row(record, Verdict(kept=False, reason=record["skip_reason"])), "signals": "{}"}
    verdict = judge(record, config)
    row = verdict_row(record, verdict)
    row["signals"] = json.dumps(
        {
            k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in verdict.signals.items()
        }
    )
    return row


def iter_records(path: str | os.PathLike) -> Iterator[dict[str, Any]]:
    p = Path(path)
    if p.is_dir():
        return _folder_records(p)
    if p.is_file() and p.suffix in _DATASET_SUFFIXES:
        return _dataset_records(p)
    raise ValueError(f"{p}: give a folder of files, or a .parquet/.jsonl file with 'text' and 'path' columns")


def filter_path(
    path: str | os.PathLike,
    out_dir: str | os.PathLike,
    fmt: str = "parquet",
    seed: int = 0,
    workers: int = 1,
    compat: str = "fixed",
) -> Path:
    """Filter every file under ``path``; return the results file."""
    if fmt not in ("parquet", "jsonl"):
        raise ValueError(f"fmt={fmt!r}: use 'parquet' or 'jsonl'")
    config = QualityFilterConfig(seed=seed, compat=compat)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    jobs = ((r, config) for r in iter_records(path))
    if workers > 1:
        with get_context("spawn").Pool(workers) as pool:
            rows = list(pool.imap(_judge_row, jobs, chunksize=16))
    else:
        rows = [_judge_row(j) for j in jobs]
    target = out / f"filter_results.{fmt}"
    if fmt == "jsonl":
        with target.open("w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        schema = pa.schema(
            [
                ("path", pa.string()),
                ("language", pa.string()),
                ("doc_type", pa.string()),
                ("kept", pa.bool_()),
                ("hits", pa.list_(pa.string())),
                ("rule_set", pa.string()),
                ("reason", pa.string()),
                ("signals", pa.string()),
            ]
        )
        pq.write_table(pa.Table.from_pylist(rows, schema=schema), target)
    return target
