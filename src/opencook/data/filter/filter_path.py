"""Run the quality filter alone over a folder of files or a Parquet/JSONL dataset.

One output row per file: ``path, language, doc_type, kept, hits, rule_set, reason, signals`` (a JSON
string), written to ``out_dir/filter_results.parquet`` (or ``.jsonl``).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Any

from opencook.data.filter.evaluate import Verdict
from opencook.data.filter.step import QualityFilterConfig, judge, verdict_row
from opencook.data.ingest.decode import is_binary, normalize_newlines
from opencook.data.ingest.languages import detect_language, doc_type_for
from opencook.kit.executors import make_executor

MAX_FILE_BYTES = 8_000_000  # RefineCode's preprocessing limit

_DATASET_SUFFIXES = (".parquet", ".jsonl")
RECORDS_PER_TASK = 64


def _folder_records(root: Path) -> Iterator[dict[str, Any]]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != ".git")
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if not path.is_file():
                continue
            size = path.stat().st_size
            raw = b"" if size > MAX_FILE_BYTES else path.read_bytes()  # too large: not even read
            skip = "too_large" if size > MAX_FILE_BYTES else "binary" if is_binary(raw) else None
            # Text mode as in the reference: UTF-8, universal newlines (undecodable bytes -> U+FFFD).
            text = "" if skip else normalize_newlines(raw.decode("utf-8", "replace"))
            language = detect_language(name)
            rel = path.relative_to(root).as_posix()
            yield {
                "id": rel,
                "path": rel,
                "filename": name,
                "size_bytes": size,
                "language": language,
                "doc_type": doc_type_for(language),
                "text": text,
                "skip_reason": skip,
            }


def _dataset_records(path: Path) -> Iterator[dict[str, Any]]:
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


def _judge_rows(task: tuple[tuple[dict[str, Any], ...], QualityFilterConfig]) -> list[dict[str, Any]]:
    records, config = task
    return [_judge_row(r, config) for r in records]


def _judge_row(record: dict[str, Any], config: QualityFilterConfig) -> dict[str, Any]:
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
    records = iter_records(path)
    tasks = [(chunk, config) for chunk in iter(lambda: tuple(islice(records, RECORDS_PER_TASK)), ())]
    with make_executor("local" if workers > 1 else "inprocess", workers) as executor:
        by_task = dict(executor.map(_judge_rows, tasks, "filter"))
    rows = [row for i in range(len(tasks)) for row in by_task[i]]
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
