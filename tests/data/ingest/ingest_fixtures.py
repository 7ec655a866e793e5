"""Builders of small real ingest inputs (trees, archives, notebooks) in tmp_path."""

from __future__ import annotations

import io
import json
import tarfile
import zipfile
from pathlib import Path

from opencook.data.ingest import IngestConfig, plan_ingest, read_task
from opencook.kit.stats import StageStats


def write(root: Path, rel: str, data: bytes | str) -> Path:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data.encode() if isinstance(data, str) else data)
    return p


def make_tar(path: Path, files: dict[str, bytes], mode: str = "w:gz") -> Path:
    with tarfile.open(path, mode) as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


def make_zip(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path


def notebook(cells: list[tuple[str, str]], language: str | None = "python") -> str:
    meta = {"kernelspec": {"name": "k", "language": language}} if language else {}
    return json.dumps(
        {
            "nbformat": 4,
            "metadata": meta,
            "cells": [
                {"cell_type": kind, "source": src.splitlines(True), "metadata": {}, "outputs": []}
                for kind, src in cells
            ],
        }
    )


def ingest(config: IngestConfig) -> tuple[list[dict], StageStats]:
    """Plan and read everything, the way a runner would (fresh stats per task, merged)."""
    total = StageStats()
    records: list[dict] = []
    for task in plan_ingest(config):
        stats = StageStats()
        records.extend(read_task(task, config, stats))
        total.merge(stats)
    return records, total
