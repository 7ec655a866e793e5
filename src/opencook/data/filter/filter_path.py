"""``opencook data filter``: the quality filter alone, as a recipe run by the pipeline runner.

``filter_input -> filter_verdicts -> filter_results``: one output row per file, ``path, language,
doc_type, kept, hits, rule_set, reason, signals`` (a JSON string), written to
``out_dir/filter_results.parquet`` (or ``.jsonl``). Unlike ``ingest -> filter``, nothing is dropped:
a binary or oversized file still gets a row that says why it was not judged.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any, ClassVar, Literal

import pyarrow as pa
import pyarrow.parquet as pq

from opencook.data.filter.evaluate import Verdict
from opencook.data.filter.step import QualityFilterConfig, judge, verdict_row
from opencook.data.ingest.decode import is_binary, normalize_newlines
from opencook.data.ingest.files import BAD_NAME, name_ok, read_regular
from opencook.data.ingest.languages import detect_language, doc_type_for
from opencook.kit.io import remote
from opencook.kit.io.dataset import Dataset, is_dataset_file
from opencook.kit.stats import StageStats
from opencook.kit.step import Map, Record, Sink, Source

MAX_FILE_BYTES = 8_000_000  # RefineCode's preprocessing limit
RECORDS_PER_TASK = 64

INPUT_SCHEMA = pa.schema([
    ("id", pa.string()), ("path", pa.string()), ("filename", pa.string()), ("ext", pa.string()),
    ("size_bytes", pa.int64()), ("language", pa.string()), ("doc_type", pa.string()), ("lang", pa.string()),
    ("text", pa.large_string()), ("skip_reason", pa.string()),
])
RESULT_SCHEMA = pa.schema([
    ("path", pa.string()), ("language", pa.string()), ("doc_type", pa.string()), ("kept", pa.bool_()),
    ("hits", pa.list_(pa.string())), ("rule_set", pa.string()), ("reason", pa.string()), ("signals", pa.string()),
])
_DATASET_COLUMNS = [n for n in INPUT_SCHEMA.names if n != "skip_reason"]


# ---------------------------------------------------------------- source: a folder of files, or a dataset


@dataclass
class FilterInputConfig:
    """``path``: a folder of source files, or a Parquet/JSONL dataset (a file, or a folder of only those)."""

    path: str
    records_per_task: int = RECORDS_PER_TASK

    def __post_init__(self) -> None:
        if self.records_per_task < 1:
            raise ValueError("filter_input records_per_task must be >= 1")


def _is_dataset(root: Path) -> bool:
    if root.is_file():
        return True
    files = [p for p in root.rglob("*") if p.is_file() and ".git" not in p.relative_to(root).parts]
    return bool(files) and all(is_dataset_file(p) or p.name.startswith(("_", ".")) for p in files)


def _folder_files(root: Path) -> Iterator[str]:
    """Every entry but a directory, so each gets a row: a FIFO, a device, a link loop or an undecodable
    name too, with the reason it was not judged."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != ".git")
        for name in sorted(filenames):
            yield (Path(dirpath) / name).relative_to(root).as_posix()


def _remote_plan(url: str) -> tuple[bool, list[str]]:
    """``(is a dataset, files)`` of a remote input, from one listing: a dataset's file URLs, or a folder's
    relative paths in the local walk's order (a folder's files, then its subfolders, each sorted), so the
    results rows come out as for the same folder on local disk."""
    if remote.stat(url)["type"] != "directory":
        return True, [url]
    rels = [rel for rel in remote.find(url) if ".git" not in rel.split("/")]
    if rels and all(is_dataset_file(rel) or rel.split("/")[-1].startswith(("_", ".")) for rel in rels):
        return True, [str(f) for f in Dataset(url).files()]
    walk_order = lambda rel: [(1, p) for p in rel.split("/")[:-1]] + [(0, rel.split("/")[-1])]  # noqa: E731
    return False, sorted(rels, key=walk_order)


def _file_record(root: Path | str, rel: str) -> Record:
    path = remote.join(root, rel) if isinstance(root, str) else root / rel
    raw, size, skip = (b"", 0, BAD_NAME) if not name_ok(rel) else read_regular(str(path), MAX_FILE_BYTES)
    raw = raw or b""  # too large, special or unreadable: not read at all
    if skip is None and is_binary(raw):
        skip = "binary"
    if skip == BAD_NAME:  # the bytes of the name, shown escaped, since no string column can hold them
        rel = rel.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    # Text mode as in the reference: UTF-8, universal newlines (undecodable bytes -> U+FFFD).
    text = "" if skip else normalize_newlines(raw.decode("utf-8", "replace"))
    language = detect_language(rel)
    return {"id": rel, "path": rel, "filename": rel.rsplit("/", 1)[-1], "size_bytes": size, "language": language,
            "doc_type": doc_type_for(language), "text": text, "skip_reason": skip}


def _dataset_record(where: str, row: dict[str, Any]) -> Record:
    if row["text"] is None or row["path"] is None:
        raise ValueError(f"{where} lacks a 'text' or 'path' column; both are required")
    if not row["language"]:
        row["language"] = detect_language(row["path"])
    if not row["doc_type"]:
        row["doc_type"] = doc_type_for(row["language"])
    if row["id"] is None:
        row["id"] = row["path"]
    return {**row, "skip_reason": None}


class FilterInput(Source):
    """Files of a folder, ``records_per_task`` to a task; a dataset is read one file per task."""

    name: ClassVar[str] = "filter_input"
    config_cls: ClassVar[type] = FilterInputConfig
    config: FilterInputConfig

    def plan(self) -> list[tuple[str, tuple[str, ...]]]:
        if remote.is_remote(self.config.path):
            try:
                dataset, names = _remote_plan(self.config.path)
            except FileNotFoundError:
                raise FileNotFoundError(f"{self.config.path} does not exist: give a folder of files, or a "
                                        "Parquet/JSONL dataset") from None
            if dataset:
                return [("dataset", (f,)) for f in names]
            files: Iterator[str] = iter(names)
        else:
            root = Path(remote.local(self.config.path))
            if not root.exists():
                raise FileNotFoundError(f"{root} does not exist: give a folder of files, or a Parquet/JSONL dataset")
            if _is_dataset(root):
                return [("dataset", (str(f),)) for f in Dataset(root).files()]
            files = _folder_files(root)
        return [("files", chunk) for chunk in iter(lambda: tuple(islice(files, self.config.records_per_task)), ())]

    def read(self, task: tuple[str, tuple[str, ...]], stats: StageStats) -> Iterator[Record]:
        kind, names = task
        if kind == "dataset":
            for where, row in Dataset(names[0]).located_records(_DATASET_COLUMNS):
                stats.add("in")
                yield _dataset_record(where, row)
            return
        path = self.config.path
        root = path.rstrip("/") if remote.is_remote(path) else Path(remote.local(path))
        for rel in names:
            stats.add("in")
            yield _file_record(root, rel)

    def schema(self) -> pa.Schema:
        return INPUT_SCHEMA


# ---------------------------------------------------------------- map: every record -> its verdict row


class FilterVerdicts(Map):
    """Judge every record and pass on its verdict row; nothing is dropped, drops are still counted."""

    name: ClassVar[str] = "filter_verdicts"
    config_cls: ClassVar[type] = QualityFilterConfig
    config: QualityFilterConfig

    def process(self, records: Iterator[Record], stats: StageStats) -> Iterator[dict[str, Any]]:
        for record in records:
            row = _judge_row(record, self.config)
            nbytes = record.get("size_bytes")
            if nbytes is None:
                nbytes = len(record["text"].encode("utf-8", "surrogatepass"))
            if row["kept"]:
                stats.kept(row["language"], nbytes)
            else:
                stats.drop(f"filter:{row['hits'][0] if row['hits'] else row['reason'] or 'unknown'}", nbytes)
            yield row

    def schema(self) -> pa.Schema:
        return RESULT_SCHEMA


def _judge_row(record: Record, config: QualityFilterConfig) -> dict[str, Any]:
    if record.get("skip_reason"):  # never judged: a row that says why, so no file goes missing
        return {**verdict_row(record, Verdict(kept=False, reason=record["skip_reason"])), "signals": "{}"}
    verdict = judge(record, config)
    row = verdict_row(record, verdict)
    row["signals"] = json.dumps(
        {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in verdict.signals.items()}
    )
    return row


# ---------------------------------------------------------------- sink: one results file


@dataclass
class FilterResultsConfig:
    format: Literal["parquet", "jsonl"] = "parquet"


class FilterResults(Sink):
    name: ClassVar[str] = "filter_results"
    config_cls: ClassVar[type] = FilterResultsConfig
    config: FilterResultsConfig

    def write(self, records: Iterator[dict[str, Any]], out_dir: Path, stats: StageStats) -> list[Path]:
        out_dir.mkdir(parents=True, exist_ok=True)
        target = out_dir / f"filter_results.{self.config.format}"
        rows = [{k: r[k] for k in RESULT_SCHEMA.names} for r in records]
        stats.add("in", len(rows))
        stats.add("out", len(rows))
        if self.config.format == "jsonl":
            with target.open("w", encoding="utf-8") as f:
                for row in rows:
                    f.write(json.dumps(row, ensure_ascii=False) + "\n")
        else:
            pq.write_table(pa.Table.from_pylist(rows, schema=RESULT_SCHEMA), target)
        return [target]


# ---------------------------------------------------------------- the command


def filter_recipe(path: str | os.PathLike, fmt: str = "parquet", seed: int = 0, compat: str = "fixed") -> dict:
    return {"name": "filter", "seed": seed, "stages": [
        {"filter_input": {"path": str(path)}},
        {"filter_verdicts": {"compat": compat}},
        {"filter_results": {"format": fmt}},
    ]}


def filter_path(
    path: str | os.PathLike,
    out_dir: str | os.PathLike,
    fmt: str = "parquet",
    seed: int = 0,
    workers: int = 1,
    compat: str = "fixed",
) -> Path:
    """Filter every file under ``path``; return the results file (``out_dir`` holds only it)."""
    from opencook.data.recipe import parse_recipe
    from opencook.data.runner import PipelineRunner
    from opencook.kit.executors import make_executor

    if fmt not in ("parquet", "jsonl"):
        raise ValueError(f"fmt={fmt!r}: use 'parquet' or 'jsonl'")
    recipe = parse_recipe(filter_recipe(path, fmt, seed, compat), "data filter")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"filter_results.{fmt}"
    with tempfile.TemporaryDirectory(dir=out, prefix=".run-") as run_dir, \
            make_executor("local" if workers > 1 else "inprocess", workers) as executor:
        [result] = PipelineRunner(recipe, Path(run_dir), executor).run()[-1].shards
        shutil.move(result, target)
    return target
