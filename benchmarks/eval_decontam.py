"""Decontamination cost and false positives on a real corpus (default: a CPython standard library).

For three settings (opencook's default, OpenCoder's rule taken literally, n-grams only) it measures
the index (build time, n-grams, names, Python heap via tracemalloc), the scan speed over every ``.py``
file of the corpus, and which files are dropped and why. Writes benchmarks/results/eval_decontam.{json,md}.
Run: .venv/bin/python benchmarks/eval_decontam.py [--corpus PATH]   (about a minute on one core)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sysconfig
import time
import tracemalloc
from collections import Counter
from pathlib import Path

from _machine import command_line, machine_info, write_results
from opencook.benchmarks.decontam import DecontamConfig, DecontamIndex

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = {
    "default": DecontamConfig(),
    "literal": DecontamConfig(min_informative_tokens=0, distinctive_names_only=False),
    "ngram_only": DecontamConfig(entry_points=False),
}


def default_corpus() -> Path:
    """The pyenv CPython whose minor version matches this interpreter, else this interpreter's stdlib."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    try:
        root = subprocess.run(["pyenv", "root"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return stdlib
    found = sorted(Path(root).glob(f"versions/*/lib/{stdlib.name}"))
    return found[-1] if found else stdlib


def read_corpus(root: Path) -> list[tuple[str, str]]:
    docs = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        if "site-packages" in rel or "__pycache__" in rel:
            continue
        try:
            docs.append((rel, path.read_text(encoding="utf-8")))
        except (UnicodeDecodeError, OSError):
            continue  # a few test files are deliberately not UTF-8
    return docs


def measure(config: DecontamConfig, docs: list[tuple[str, str]]) -> dict:
    tracemalloc.start()
    t0 = time.perf_counter()
    index = DecontamIndex.build(config)
    build_s = time.perf_counter() - t0
    heap, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    t0 = time.perf_counter()
    dropped = []
    for rel, text in docs:
        hit = index.match(text)
        if hit is not None:
            dropped.append({"path": rel, "reason": hit.reason, "task": hit.task_id, "evidence": hit.evidence})
    scan_s = time.perf_counter() - t0
    nbytes = sum(len(t.encode()) for _, t in docs)
    tests = [d for d in dropped if d["path"].startswith(("test/", "idlelib/idle_test/", "lib2to3/tests/"))]
    return {
        "index": {"build_s": round(build_s, 2), "ngrams": len(index), "ngrams_skipped": index.skipped_grams,
                  "names": len(index.names), "problems": len(index.problems), "heap_mib": round(heap / 2**20, 1)},
        "scan": {"files": len(docs), "mb": round(nbytes / 1e6, 1), "seconds": round(scan_s, 1),
                 "files_per_s": round(len(docs) / scan_s), "mb_per_s": round(nbytes / 1e6 / scan_s, 2)},
        "dropped": len(dropped),
        "dropped_pct": round(100 * len(dropped) / len(docs), 2),
        "dropped_outside_tests": len(dropped) - len(tests),
        "by_reason": dict(Counter(d["reason"] for d in dropped).most_common()),
        "files": dropped,
    }


def to_markdown(result: dict) -> str:
    lines = [f"# Decontamination on {result['corpus']}", "", f"`{result['command']}`", "",
             "| setting | index n-grams | names | build s | heap MiB | files/s | MB/s | dropped | % | outside tests |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, r in result["settings"].items():
        i, s = r["index"], r["scan"]
        lines.append(f"| {name} | {i['ngrams']:,} | {i['names']} | {i['build_s']} | {i['heap_mib']} | "
                     f"{s['files_per_s']} | {s['mb_per_s']} | {r['dropped']} | {r['dropped_pct']} | "
                     f"{r['dropped_outside_tests']} |")
    for name, r in result["settings"].items():
        lines += ["", f"## {name}: {r['dropped']} of {r['scan']['files']} files", "",
                  "| file | reason | task | evidence |", "| --- | --- | --- | --- |"]
        lines += [f"| {d['path']} | {d['reason']} | {d['task']} | `{d['evidence']}` |" for d in r["files"]]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=None)
    args = parser.parse_args()
    corpus = args.corpus or default_corpus()
    docs = read_corpus(corpus)
    result = {"command": command_line("eval_decontam.py"), "corpus": str(corpus), "machine": machine_info(),
              "settings": {name: measure(cfg, docs) for name, cfg in SETTINGS.items()}}
    write_results(ROOT / "benchmarks" / "results", "eval_decontam", result, to_markdown(result))
    print(json.dumps({k: {kk: vv for kk, vv in v.items() if kk != "files"} for k, v in result["settings"].items()},
                     indent=1))


if __name__ == "__main__":
    main()
