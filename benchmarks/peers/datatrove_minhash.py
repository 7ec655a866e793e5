"""datatrove's full MinHash dedup over a folder of JSONL records (run by benchmarks/minhash_quality.py).

Runs with the peers venv, never the project one:

    .venv-peers/bin/python benchmarks/peers/datatrove_minhash.py --input DIR --out DIR --workers N --result F

Default ``MinhashConfig`` (5-grams, 14 buckets x 8 hashes = 112 permutations, xxhash64, its own text
normalisation and spaCy English word tokens), the four stages of datatrove's MinHash example, each a
``LocalPipelineExecutor`` run one after another:
1. ``JsonlReader`` -> ``MinhashDedupSignature`` (tasks = workers = N)
2. ``MinhashDedupBuckets`` (one task per bucket, N workers)
3. ``MinhashDedupCluster`` (one task: union-find; survivor = the root of each union-by-size set)
4. ``JsonlReader`` -> ``MinhashDedupFilter`` with an ``exclusion_writer`` (the removed documents)

Writes ``--result`` (JSON): seconds per stage, the ids removed, the number of documents read.
"""

import argparse
import gzip
import json
import os
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--input", type=Path, required=True, help="folder of *.jsonl records {id, text}")
    ap.add_argument("--out", type=Path, required=True, help="empty working folder")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--result", type=Path, required=True)
    args = ap.parse_args()
    os.environ.setdefault("DATATROVE_COLORIZE_LOGS", "0")
    os.environ.setdefault("DATATROVE_COLORIZE_LOG_FILES", "0")
    import importlib.metadata

    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup.minhash import (
        MinhashConfig,
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
        MinhashDedupSignature,
    )
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter

    n = args.workers
    out = args.out
    config = MinhashConfig()
    sigs, buckets, remove, removed, logs = (out / "sigs", out / "buckets", out / "remove_ids", out / "removed",
                                            out / "logs")

    def reader():
        return JsonlReader(str(args.input), glob_pattern="*.jsonl", text_key="text", id_key="id")

    stages = [
        ("signatures", LocalPipelineExecutor(
            [reader(), MinhashDedupSignature(output_folder=str(sigs), config=config)],
            tasks=n, workers=n, logging_dir=str(logs / "1"))),
        ("buckets", LocalPipelineExecutor(
            [MinhashDedupBuckets(input_folder=str(sigs), output_folder=str(buckets), config=config)],
            tasks=config.num_buckets, workers=n, logging_dir=str(logs / "2"))),
        ("cluster", LocalPipelineExecutor(
            [MinhashDedupCluster(input_folder=str(buckets), output_folder=str(remove), config=config)],
            tasks=1, workers=1, logging_dir=str(logs / "3"))),
        ("filter", LocalPipelineExecutor(
            [reader(), MinhashDedupFilter(input_folder=str(remove),
                                          exclusion_writer=JsonlWriter(str(removed), compression=None))],
            tasks=n, workers=n, logging_dir=str(logs / "4"))),
    ]
    seconds = {}
    for name, executor in stages:
        t0 = time.perf_counter()
        executor.run()
        seconds[name] = round(time.perf_counter() - t0, 3)
    ids = []
    for p in sorted(removed.rglob("*.jsonl*")):
        opener = gzip.open if p.suffix == ".gz" else open
        with opener(p, "rt", encoding="utf-8") as f:
            ids.extend(json.loads(line)["id"] for line in f if line.strip())
    payload = {"tool": "datatrove", "version": importlib.metadata.version("datatrove"), "workers": n,
               "config": str(config), "stage_seconds": seconds, "seconds": round(sum(seconds.values()), 3),
               "removed_ids": sorted(ids)}
    args.result.write_text(json.dumps(payload))


if __name__ == "__main__":
    main()
