"""Writing synth outputs: Parquet in the pipeline's record schema, JSONL for SFT (datasets are read with
``opencook.kit.io.Dataset``)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path

from opencook.kit.io import atomic_write
from opencook.kit.io.schema import FIELD_NAMES
from opencook.kit.io.shards import write_records


def write_parquet(records: list[dict], out_dir: str | Path, name: str = "part-00000.parquet") -> Path:
    """Records in the pipeline's schema (unknown fields dropped), so `opencook lm data build` reads them."""
    path = Path(out_dir) / name
    write_records([{k: r.get(k) for k in FIELD_NAMES} for r in records], path)
    return path


def write_jsonl(rows: Iterable[dict], path: str | Path) -> Path:
    path = Path(path)
    with atomic_write(path) as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


def synthetic_record(stage: str, item_id: str, text: str) -> dict:
    """A record of the pipeline schema for a synthetic text (``repo`` names the stage that made it)."""
    data = text.encode("utf-8")
    sha = hashlib.sha256(data).hexdigest()
    return {"id": f"synth-{stage}-{sha[:16]}", "repo": f"synthetic/{stage}", "path": f"{item_id}.py",
            "filename": f"{item_id}.py", "ext": "py", "size_bytes": len(data), "language": "Python",
            "doc_type": "synthetic", "stars": 0, "commit_time": 0, "sha256": sha, "dup_count": 1,
            "cluster_id": None, "cluster_size": 1, "text": text}
