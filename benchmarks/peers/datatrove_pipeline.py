"""datatrove's exact-dedup pipeline over a folder of JSONL file records (run by pipeline_vs_datatrove.py).

Runs with the peers venv, never the project one:

    .venv-peers/bin/python benchmarks/peers/datatrove_pipeline.py --input DIR --out DIR --workers N

Stages, each a ``LocalPipelineExecutor(tasks=N, workers=N)`` run one after another:
1. ``JsonlReader`` -> ``ExactDedupSignature`` (xxhash64 of the whole text's UTF-8 bytes, ``finder_workers=N``)
2. ``ExactFindDedups`` (one task per hash bucket)
3. ``JsonlReader`` -> ``ExactDedupFilter`` -> ``ParquetWriter`` (zstd), one part per task

Writes ``--result`` (JSON): seconds per stage, documents in/out, output and intermediate bytes.
"""

import argparse
import json
import os
import time
from pathlib import Path


def text_of(doc) -> bytes:
    # xxhash 4 hashes bytes only ("Strings must be encoded before hashing")
    return doc.text.encode("utf-8")


def _bytes_under(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--input", type=Path, required=True, help="folder of *.jsonl / *.jsonl.gz file records")
    ap.add_argument("--out", type=Path, required=True, help="empty working folder")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--result", type=Path, required=True)
    args = ap.parse_args()

    os.environ.setdefault("DATATROVE_COLORIZE_LOGS", "0")
    os.environ.setdefault("DATATROVE_COLORIZE_LOG_FILES", "0")
    import importlib.metadata

    import pyarrow.parquet as pq
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup import (
        ExactDedupConfig,
        ExactDedupFilter,
        ExactDedupSignature,
        ExactFindDedups,
    )
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import ParquetWriter
    from datatrove.utils.hashing import HashConfig
    from datatrove.utils.typeshelper import ExtensionHelperSD

    n = args.workers
    out = args.out
    sigs, dups, data, logs = out / "sigs", out / "dups", out / "dataset", out / "logs"
    config = ExactDedupConfig(content_getter=text_of, hash_config=HashConfig(precision=64, hash_fc="xxhash"))

    def reader():
        return JsonlReader(str(args.input), glob_pattern="*.jsonl*", text_key="text", id_key="path")

    stages = [
        ("signature", LocalPipelineExecutor(
            [reader(), ExactDedupSignature(output_folder=str(sigs), config=config, finder_workers=n)],
            tasks=n, workers=n, logging_dir=str(logs / "1"))),
        ("find_dups", LocalPipelineExecutor(
            [ExactFindDedups(data_folder=str(sigs), output_folder=str(dups), config=config)],
            tasks=n, workers=n, logging_dir=str(logs / "2"))),
        ("filter_write", LocalPipelineExecutor(
            [reader(), ExactDedupFilter(data_folder=str(dups), config=config),
             ParquetWriter(str(data), output_filename="${rank}.parquet", compression="zstd")],
            tasks=n, workers=n, logging_dir=str(logs / "3"))),
    ]
    seconds: dict[str, float] = {}
    stats: dict[str, object] = {}
    t_all = time.perf_counter()
    for name, executor in stages:
        t0 = time.perf_counter()
        result = executor.run()
        seconds[name] = round(time.perf_counter() - t0, 3)
        if result is not None:
            stats[name] = result.to_dict() if hasattr(result, "to_dict") else str(result)
    total = time.perf_counter() - t_all

    parts = sorted(data.glob("*.parquet"))
    docs_out = sum(pq.ParquetFile(p).metadata.num_rows for p in parts)
    docs_in = 0
    for p in sigs.rglob("*" + ExtensionHelperSD.stage_1_signature):
        docs_in += p.stat().st_size // 14  # one packed (uint64 hash, uint16 priority, uint32 doc) per document
    payload = {
        "tool": "datatrove", "version": importlib.metadata.version("datatrove"),
        "workers": n, "tasks": n, "seconds_inside": round(total, 3), "stage_seconds": seconds,
        "docs_in": docs_in, "docs_out": docs_out, "output_parts": [str(p) for p in parts],
        "output_bytes": sum(p.stat().st_size for p in parts),
        "intermediate_bytes": _bytes_under(sigs) + _bytes_under(dups),
    }
    args.result.write_text(json.dumps(payload, indent=1))


if __name__ == "__main__":
    main()
