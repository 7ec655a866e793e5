"""Reading seed datasets and writing the outputs: Parquet in the pipeline's record schema, JSONL for SFT."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import pyarrow.parquet as pq

from opencook.kit.io.schema import FIELD_NAMES
from opencook.kit.io.shards import write_records


def dataset_files(path: str | Path) -> list[Path]:
    """The Parquet/JSONL files of a dataset folder (a run's ``dataset/``), or the file itself."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for pattern in ("*.parquet", "*.jsonl") for p in path.glob(pattern))
        if not files:
            raise FileNotFoundError(f"{path} holds no .parquet or .jsonl files; give a dataset folder such as "
                                    "runs/demo/dataset")
        return files
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist; give a dataset folder or a Parquet/JSONL file")
    return [path]


def read_records(path: str | Path) -> Iterator[dict]:
    """Every record (a dict with at least ``text``) of a dataset, file by file."""
    for file in dataset_files(path):
        if file.suffix == ".parquet":
            table = pq.read_table(file)
            if "text" not in table.column_names:
                raise ValueError(f"{file} has no 'text' column (columns: {table.column_names}); "
                                 "give a dataset written by `opencook run`")
            yield from table.to_pylist()
        else:
            with open(file, encoding="utf-8") as fh:
                for lineno, line in enumerate(fh, 1):
                    if not line.strip():
                        continue
                    try:
                        row = json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise ValueError(f"{file}:{lineno} is not JSON ({exc.msg}); fix or remove the line") from None
                    if not isinstance(row, dict) or not isinstance(row.get("text"), str):
                        raise ValueError(f"{file}:{lineno}: each line needs a string 'text' field")
                    yield row


def write_parquet(records: list[dict], out_dir: str | Path, name: str = "part-00000.parquet") -> Path:
    """Records in the pipeline's schema (unknown fields dropped), so `opencook lm data build` reads them."""
    path = Path(out_dir) / name
    write_records([{k: r.get(k) for k in FIELD_NAMES} for r in records], path)
    return path


def write_jsonl(rows: Iterable[dict], path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    os.replace(tmp, path)
    return path


def synthetic_record(stage: str, item_id: str, text: str) -> dict:
    """A record of the pipeline schema for a synthetic text (``repo`` names the stage that made it)."""
    data = text.encode("utf-8")
    sha = hashlib.sha256(data).hexdigest()
    return {"id": f"synth-{stage}-{sha[:16]}", "repo": f"synthetic/{stage}", "path": f"{item_id}.py",
            "filename": f"{item_id}.py", "ext": "py", "size_bytes": len(data), "language": "Python",
            "doc_type": "synthetic", "stars": 0, "commit_time": 0, "sha256": sha, "dup_count": 1,
            "cluster_id": None, "cluster_size": 1, "text": text}
