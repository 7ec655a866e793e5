"""The final dataset: Parquet (zstd) or JSONL.zst parts of a bounded size, in a stable order."""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal

import zstandard

from opencook.kit.io import atomic_write
from opencook.kit.io.schema import FIELD_NAMES
from opencook.kit.io.shards import write_records
from opencook.kit.stats import StageStats
from opencook.kit.step import Record, Sink


@dataclass
class WriteConfig:
    """``max_rows`` and ``max_text_bytes`` bound each part; whichever is reached first closes it."""

    format: Literal["parquet", "jsonl.zst"] = "parquet"
    max_rows: int = 100_000
    max_text_bytes: int = 256 * 1024 * 1024

    def __post_init__(self) -> None:
        if self.max_rows < 1 or self.max_text_bytes < 1:
            raise ValueError("max_rows and max_text_bytes must be >= 1")


class Write(Sink):
    name: ClassVar[str] = "write"
    config_cls: ClassVar[type] = WriteConfig
    config: WriteConfig

    def write(self, records: Iterable[Record], out_dir: Path, stats: StageStats) -> list[Path]:
        return write_dataset(records, out_dir, self.config, stats)


def write_dataset(records: Iterable[dict], out_dir: Path, config: WriteConfig, stats: StageStats) -> list[Path]:
    """Split ``records`` into parts under ``out_dir``; returns the part paths in order."""
    out_dir.mkdir(parents=True, exist_ok=True)
    parts: list[Path] = []
    batch: list[dict] = []
    batch_bytes = 0
    for record in records:
        nbytes = len(record["text"].encode("utf-8"))
        stats.add("in")
        stats.add("out")
        stats.kept(record.get("language") or "unknown", nbytes)
        batch.append(record)
        batch_bytes += nbytes
        if len(batch) >= config.max_rows or batch_bytes >= config.max_text_bytes:
            parts.append(_write_part(batch, out_dir, len(parts), config))
            batch, batch_bytes = [], 0
    if batch or not parts:
        parts.append(_write_part(batch, out_dir, len(parts), config))
    return parts


def _write_part(batch: list[dict], out_dir: Path, index: int, config: WriteConfig) -> Path:
    if config.format == "parquet":
        path = out_dir / f"part-{index:05d}.parquet"
        write_records(batch, path)
        return path
    path = out_dir / f"part-{index:05d}.jsonl.zst"
    buf = io.StringIO()
    for record in batch:
        buf.write(json.dumps({k: record.get(k) for k in FIELD_NAMES}, ensure_ascii=False))
        buf.write("\n")
    data = zstandard.ZstdCompressor(level=3).compress(buf.getvalue().encode("utf-8"))
    with atomic_write(path, "wb") as fh:
        fh.write(data)
    return path
