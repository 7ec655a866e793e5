"""Throughput of the quality filter on real files, at 1 and 2 worker processes.

Default corpus: the running Python's standard library (``--corpus PATH`` for another folder),
first ``--files`` files in sorted order. Writes benchmarks/results/filter_speed.{json,md}.
Run: .venv/bin/python benchmarks/filter_speed.py [--corpus PATH] [--files 3000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import sysconfig
import time
from multiprocessing import get_context
from pathlib import Path

from _machine import machine_info
from opencook.data.filter.step import QualityFilterConfig, judge
from opencook.data.ingest.languages import detect_language, doc_type_for

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
REFERENCE_MB_S = 0.19  # the reference implementation, per core (task brief)
REFERENCE_FILES_S = 15.8


def corpus(root: Path, limit: int) -> list[dict]:
    recs = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            lang = detect_language(name)
            dt = doc_type_for(lang)
            if dt not in ("code", "data", "text"):
                continue
            raw = (Path(dirpath) / name).read_bytes()
            if len(raw) > 8_000_000:
                continue
            text = raw.decode("utf-8", "replace").replace("\r\n", "\n")
            rel = str((Path(dirpath) / name).relative_to(root))
            recs.append(
                dict(
                    id=rel,
                    path=rel,
                    filename=name,
                    size_bytes=len(raw),
                    language=lang,
                    doc_type=dt,
                    text=text,
                )
            )
            if len(recs) >= limit:
                return recs
    return recs


def _work(chunk: list[dict]) -> int:
    config = QualityFilterConfig()
    return sum(judge(r, config).kept for r in chunk)


def run(recs: list[dict], workers: int) -> float:
    chunks = [recs[i : i + 8] for i in range(0, len(recs), 8)]
    t = time.perf_counter()
    if workers == 1:
        for c in chunks:
            _work(c)
    else:
        with get_context("fork").Pool(workers) as pool:
            list(pool.imap_unordered(_work, chunks))
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--corpus", type=Path, default=Path(sysconfig.get_paths()["stdlib"]))
    ap.add_argument("--files", type=int, default=3000)
    ap.add_argument("--name", default="filter_speed", help="results file stem under benchmarks/results/")
    args = ap.parse_args()
    load_start = os.getloadavg()
    recs = corpus(args.corpus, args.files)
    mb = sum(r["size_bytes"] for r in recs) / 1e6
    _work(recs[:20])  # warm caches (lexers, regexes) before timing
    rows = []
    for workers in (1, 2):
        dt = run(recs, workers)
        rows.append(
            {
                "workers": workers,
                "seconds": round(dt, 2),
                "mb_s_per_core": round(mb / dt / workers, 3),
                "files_s_per_core": round(len(recs) / dt / workers, 1),
            }
        )
        print(rows[-1])
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child_rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    report = {
        "corpus": str(args.corpus),
        "files": len(recs),
        "megabytes": round(mb, 2),
        "by_language": {
            lang: sum(r["language"] == lang for r in recs) for lang in sorted({r["language"] for r in recs})
        },
        "runs": rows,
        "peak_rss_mb_main": round(peak_rss_mb, 1),
        "peak_rss_mb_worker": round(child_rss_mb, 1),
        "reference_per_core": {"mb_s": REFERENCE_MB_S, "files_s": REFERENCE_FILES_S},
        "machine": machine_info(),
        "load_average_start_end": [round(load_start[0], 2), round(os.getloadavg()[0], 2)],
        "command": " ".join(["python", "benchmarks/filter_speed.py", *sys.argv[1:]]),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(json.dumps(report, indent=2) + "\n")
    md = [
        "# Quality filter throughput",
        "",
        f"Corpus: `{args.corpus}`, {len(recs)} files, {mb:.1f} MB. Machine: {report['machine']['cpu']}, "
        f"{report['machine']['cores']} cores, Python {report['machine']['python']}.",
        "",
        "| workers | seconds | MB/s per core | files/s per core | vs reference (0.19 MB/s, 15.8 files/s) |",
        "| --- | --- | --- | --- | --- |",
    ]
    md += [
        f"| {r['workers']} | {r['seconds']} | {r['mb_s_per_core']} | {r['files_s_per_core']} | "
        f"{r['mb_s_per_core'] / REFERENCE_MB_S:.1f}x MB/s |"
        for r in rows
    ]
    md += ["", f"Peak RSS: main {peak_rss_mb:.0f} MB, largest worker {child_rss_mb:.0f} MB. "
           f"Load average (1 min) at start/end: {report['load_average_start_end']}.", "",
           f"Command: `{report['command']}`", ""]
    (RESULTS / f"{args.name}.md").write_text("\n".join(md))


if __name__ == "__main__":
    main()
