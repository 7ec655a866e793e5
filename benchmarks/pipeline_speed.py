"""End-to-end RefineCode pipeline speed (ingest → exact dedup → transform → filter → sample → shards).

Runs the demo recipe's stages over one corpus at 1 and 2 workers and reports MB/s and files/s per
core, per-stage seconds and peak memory. Target from issue 2: >= 3 MB/s per core end to end.

    .venv/bin/python benchmarks/pipeline_speed.py --corpus "$(python3 -c 'import sysconfig;print(sysconfig.get_paths()["stdlib"])')"
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _machine import machine_info  # noqa: E402
from opencook.data.recipe import parse_recipe  # noqa: E402
from opencook.data.runner import PipelineRunner  # noqa: E402
from opencook.kit.executors import InProcessExecutor, LocalExecutor  # noqa: E402

TARGET_MB_S = 3.0


DEMO_EXCLUDE = ["site-packages/*", "test/*", "*/tests/*", "__pycache__/*", "*/__pycache__/*"]


def recipe(corpus: Path, exclude: list[str]) -> dict:
    return {"name": "bench", "seed": 0, "stages": [
        {"ingest": {"paths": [str(corpus)], "layout": "repo", "files_per_task": 100, "exclude": exclude}},
        {"exact_dedup": {}}, {"transform": {}}, {"filter": {}}, {"sample": {}},
        {"write": {"max_rows": 5000}},
    ]}


def run_once(corpus: Path, workers: int, exclude: list[str]) -> dict:
    out = Path(tempfile.mkdtemp(prefix="opencook-bench-"))
    executor = InProcessExecutor() if workers == 1 else LocalExecutor(workers)
    t0 = time.perf_counter()
    results = PipelineRunner(parse_recipe(recipe(corpus, exclude)), out, executor).run()
    seconds = time.perf_counter() - t0
    ingest = results[0].stats
    mb = sum(v["bytes"] for v in ingest.by_language.values()) / 1e6
    files = ingest.counters.get("out", 0)
    shutil.rmtree(out)
    return {
        "workers": workers, "seconds": round(seconds, 2), "input_mb": round(mb, 2), "input_files": files,
        "mb_s_per_core": round(mb / seconds / workers, 3), "files_s_per_core": round(files / seconds / workers, 1),
        "kept_files": results[-1].stats.counters.get("out", 0),
        "stage_seconds": {r.name: round(r.seconds, 2) for r in results},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--corpus", type=Path, default=Path(sysconfig.get_paths()["stdlib"]))
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--results", type=Path, default=Path(__file__).parent / "results")
    ap.add_argument("--exclude", nargs="*", default=DEMO_EXCLUDE,
                    help="ingest exclude globs (default: the demo's: no site-packages, no test suite)")
    args = ap.parse_args()
    load_start = os.getloadavg()[0]
    runs = [run_once(args.corpus, w, args.exclude) for w in args.workers]
    peak_mb = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    result = {"benchmark": "pipeline_speed", "corpus": str(args.corpus), "commit": commit,
              "machine": machine_info(), "target_mb_s_per_core": TARGET_MB_S,
              "peak_rss_mb_any_process": round(peak_mb, 1), "runs": runs, "exclude": args.exclude,
              "load_average_start_end": [round(load_start, 2), round(os.getloadavg()[0], 2)],
              "command": "python benchmarks/pipeline_speed.py " + " ".join(sys.argv[1:])}
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "pipeline_speed.json").write_text(json.dumps(result, indent=1))
    lines = ["# End-to-end pipeline speed", "",
             f"Machine: {result['machine']['cpu']}, {result['machine']['cores']} cores. Corpus: `{args.corpus}` "
             f"({runs[0]['input_files']} files, {runs[0]['input_mb']} MB after ingest). Commit {commit}.", "",
             "| workers | seconds | MB/s per core | files/s per core | target MB/s per core | kept files |",
             "| --- | --- | --- | --- | --- | --- |"]
    for r in runs:
        lines.append(f"| {r['workers']} | {r['seconds']} | {r['mb_s_per_core']} | {r['files_s_per_core']} | "
                     f"{TARGET_MB_S} | {r['kept_files']} |")
    lines += ["", "Seconds per stage:", "", "| workers | " + " | ".join(runs[0]["stage_seconds"]) + " |",
              "| --- |" + " --- |" * len(runs[0]["stage_seconds"])]
    for r in runs:
        lines.append(f"| {r['workers']} | " + " | ".join(str(v) for v in r["stage_seconds"].values()) + " |")
    lines += ["", f"Peak RSS of any process: {result['peak_rss_mb_any_process']} MB. Excluded: {args.exclude}. "
              f"Load average (1 min) at start/end: {result['load_average_start_end']}.", "",
              f"Command: `{result['command']}`"]
    (args.results / "pipeline_speed.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
