"""MinHash at 2048 permutations: the numpy backend (today's) vs rensa, speed and quality, one run.

Setup once: ``python3.11 -m venv .venv-peers && .venv-peers/bin/pip install scipy numpy`` (the
ground truth's brute-force exact Jaccard runs there, as in benchmarks/minhash_quality.py).

Corpus: ``--max-files`` ``.py`` files of the pyenv CPython standard libraries (the sample and the
ground truth of minhash_quality.py: exact Jaccard of every pair sharing a shingle). For each
backend: the stage's ``summarize`` (shingling + signatures + band hashes, one process) timed in CPU
seconds, signatures alone on the same shingles, then ``decide`` with verification on and off, at
the OpenCoder preset (16x128) and at the S-curve's bands and rows for J >= 0.8; precision and recall
of the removed set against the truth at J >= 0.8. Writes benchmarks/results/minhash_backends.{json,md}.
Run: .venv/bin/python benchmarks/minhash_backends.py [--max-files 4000]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from _machine import command_line, git_commit, machine_info, write_results
from minhash_quality import (
    PEERS_PYTHON,
    Truth,
    labels_from_members,
    opencook_decide,
    pr,
    removed_from_labels,
    removed_ids,
)
from minhash_speed import corpus_files, pyenv_stdlibs, sample
from opencook.data.dedup.minhash.config import FuzzyDedupConfig
from opencook.data.dedup.minhash.shingles import shingle_batch
from opencook.data.dedup.minhash.signatures import signature_batch
from opencook.data.dedup.minhash.stage import summarize
from opencook.kit.stats import StageStats

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
T = 0.8
BACKENDS = ("numpy", "rensa")


def signatures_alone(texts: list[str], backend: str) -> float:
    """CPU seconds of ``signature_batch`` at 2048 permutations over pre-computed shingles."""
    batches = [shingle_batch(texts[s:s + 500], 5) for s in range(0, len(texts), 500)]
    signature_batch(*batches[0], 2048, 0, backend=backend)  # warm-up (imports)
    cpu = time.process_time()
    for h, o in batches:
        signature_batch(h, o, 2048, 0, backend=backend)
    return time.process_time() - cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--max-files", type=int, default=4000)
    args = ap.parse_args()
    if not PEERS_PYTHON.exists():
        raise SystemExit(f"{PEERS_PYTHON} is missing; see the top of {__file__}")
    load_before = [round(x, 2) for x in os.getloadavg()]
    files = sample(corpus_files(pyenv_stdlibs()), args.max_files)
    records = [{"id": f"{r}/{p}", "text": t, "repo": r, "path": p, "language": "Python"} for r, p, t in files]
    ids = [r["id"] for r in records]
    texts = [r["text"] for r in records]
    mb = sum(len(t.encode()) for t in texts) / 1e6
    rank = np.empty(len(records), dtype=np.int64)
    rank[sorted(range(len(records)), key=lambda i: (records[i]["repo"], records[i]["path"], ids[i]))] = \
        np.arange(len(records))
    truth = Truth(texts, Path(tempfile.mkdtemp(prefix="opencook-minhash-backends-")), 0.7)
    truth_removed = {ids[i] for i in removed_from_labels(truth.file_labels(T), rank)}
    near_a, near_b = truth.near_pairs(T)

    speed, rows = {}, []
    setups = [("opencoder preset 16x128", {"preset": "opencoder"}),
              (f"threshold {T}: S-curve bands x rows", {"num_perm": 2048, "threshold": T})]
    for backend in BACKENDS:
        speed[backend] = {"signatures_mb_s_cpu": round(mb / signatures_alone(texts, backend), 2)}
        for name, kw in setups:
            base = FuzzyDedupConfig(**kw, backend=backend)
            cpu = time.process_time()
            summaries = [summarize(iter(records), StageStats(), base)]
            seconds = time.process_time() - cpu
            speed[backend].setdefault("summarize_mb_s_cpu", round(mb / seconds, 2))
            for verify in (True, False):
                cfg = FuzzyDedupConfig(num_perm=2048, bands=base.bands, rows=base.rows, verify=verify,
                                       verify_threshold=T if verify else None, backend=backend)
                members, stats, _ = opencook_decide(summaries, cfg)
                lab = labels_from_members(ids, members)
                row = {"backend": backend, "setup": name, "bands": base.bands, "rows": base.rows, "verify": verify,
                       **pr(removed_ids(members), truth_removed),
                       "near_pair_recall": round(float(np.mean(lab[near_a] == lab[near_b])), 4),
                       "candidate_pairs": stats.get("fuzzy_candidate_pairs"),
                       "verified_pairs": stats.get("fuzzy_verified_pairs")}
                rows.append(row)
                print(row, flush=True)
    commit, dirty = git_commit(ROOT, "src/opencook/data/dedup")
    result = {"command": command_line("minhash_backends.py"), "commit": commit, "dirty": dirty,
              "machine": machine_info(), "load_avg_before": load_before,
              "load_avg_after": [round(x, 2) for x in os.getloadavg()], "files": len(records), "mb": round(mb, 2),
              "ground_truth": {**truth.info, f"removed_at_{T}": len(truth_removed), f"near_pairs_at_{T}": len(near_a)},
              "speed": speed, "quality": rows}
    md = [
        "# MinHash at 2048 permutations: numpy backend vs rensa", "",
        f"`{result['command']}` at {commit}{' (dirty)' if dirty else ''}; {len(records)} stdlib `.py` files, "
        f"{result['mb']} MB; load average {load_before[0]} before, {result['load_avg_after'][0]} after "
        "(shared 2-core machine; speeds are per core, CPU time).", "",
        "| backend | signatures alone MB/s | summarize (shingles + signatures + bands) MB/s |",
        "| --- | --- | --- |",
        *[f"| {b} | {s['signatures_mb_s_cpu']} | {s['summarize_mb_s_cpu']} |" for b, s in speed.items()], "",
        f"Quality against exact Jaccard at J >= {T} ({len(truth_removed)} files to remove, {len(near_a)} near pairs):", "",
        "| backend | setup | b x r | verify | removed | precision | recall | near-pair recall | candidate pairs |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        *[f"| {r['backend']} | {r['setup']} | {r['bands']}x{r['rows']} | {'on' if r['verify'] else 'off'} | "
          f"{r['removed']} | {r['precision']} | {r['recall']} | {r['near_pair_recall']} | {r['candidate_pairs']} |"
          for r in rows], "",
    ]
    write_results(RESULTS, "minhash_backends", result, "\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()
