"""Reference-mode JavaScript parsing: stock esprima 4.0.1 against ``_esprima_fast``, parse only.

Corpus: every ``.js``/``.mjs``/``.cjs`` file under ``npm root -g``, sorted. Each side parses every file
the way ``javascript.parse`` does (module mode first when the text mentions import/export, then
script mode; recursion limit 10000), one process, one file at a time; the two sides take turns
every ``--chunk`` files (so a change in the shared machine's load hits both, while each side
still runs long enough to keep its own code warm), over ``--rounds`` rounds; the best
time of each chunk counts (summed over chunks), and every round's ratio is reported. Speed is bytes (MB, 10^6) over CPU time (per core).
Results are compared file by file: the same tree (``toDict()``), or the same esprima error, or the
same crash class. Writes benchmarks/results/esprima_speed.{json,md}.
Run: .venv/bin/python benchmarks/esprima_speed.py [--root DIR] [--limit N] [--rounds N] [--chunk N]
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import esprima

from _machine import command_line, git_commit, machine_info, write_results
from opencook.data.filter.lang_signals import _esprima_fast as fast

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def npm_root() -> Path:
    return Path(
        subprocess.run(["npm", "root", "-g"], capture_output=True, text=True, check=True).stdout.strip()
    )


def reference_parser(parse_module, parse_script):
    """``javascript.parse``'s module-then-script order over one pair of parse functions."""

    def parse(text: str):
        try:
            if "import" in text or "export" in text:
                try:
                    return parse_module(text)
                except esprima.Error:
                    return parse_script(text)
            return parse_script(text)
        except esprima.Error as exc:
            return exc
        except Exception as exc:  # noqa: BLE001 - a crash is an outcome to compare
            return exc

    return parse


def outcome(result) -> tuple:
    if isinstance(result, esprima.Error):
        return "error", result.toDict()
    if isinstance(result, Exception):
        return "crash", type(result).__name__
    return "tree", result.toDict()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", type=Path, default=None, help="default: npm root -g")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument(
        "--chunk", type=int, default=50, help="files each side parses before the other takes a turn"
    )
    args = ap.parse_args()
    root = args.root or npm_root()
    paths = sorted(p for p in root.rglob("*") if p.suffix in (".js", ".mjs", ".cjs") and p.is_file())
    raws = [p.read_bytes() for p in paths[: args.limit]]
    texts = [raw.decode("utf-8", "replace") for raw in raws]
    size = sum(len(raw) for raw in raws)
    sides = {
        "esprima": reference_parser(esprima.parseModule, esprima.parseScript),
        "_esprima_fast": reference_parser(fast.parse_module, fast.parse_script),
    }
    sys.setrecursionlimit(10000)
    warnings.simplefilter("ignore")  # esprima compiles JS regexes with re: FutureWarnings

    load_before = os.getloadavg()
    cpu: dict[str, list[float]] = {name: [] for name in sides}
    clock = time.process_time
    chunks = [range(i, min(i + args.chunk, len(texts))) for i in range(0, len(texts), args.chunk)]
    per_chunk: dict[str, list[list[float]]] = {name: [[] for _ in chunks] for name in sides}
    for _ in range(args.rounds):
        for n, chunk in enumerate(chunks):  # the sides take turns chunk by chunk, first one then the other
            for name in list(sides)[:: 1 if n % 2 == 0 else -1]:
                parse = sides[name]
                start = clock()
                for i in chunk:
                    parse(texts[i])  # the tree is dropped at once, as in the filter (no old-heap GC)
                per_chunk[name][n].append(clock() - start)
    for name in sides:
        cpu[name] = [sum(times[r] for times in per_chunk[name]) for r in range(args.rounds)]
    load_after = os.getloadavg()

    stock, ours = [], []
    for text in texts:  # untimed: the outcomes side by side
        stock.append(outcome(sides["esprima"](text)))
        ours.append(outcome(sides["_esprima_fast"](text)))
    same = sum(a == b for a, b in zip(stock, ours, strict=True))
    differing = [str(p) for p, a, b in zip(paths, stock, ours, strict=False) if a != b]
    kinds = {k: sum(o[0] == k for o in stock) for k in ("tree", "error", "crash")}
    # Each chunk's fastest round, summed: a burst of load from the machine's other users lands on one
    # side's turn at random, and the minimum over rounds filters it out chunk by chunk.
    best = {name: sum(min(times) for times in per_chunk[name]) for name in sides}
    round_ratios = [round(a / b, 3) for a, b in zip(cpu["esprima"], cpu["_esprima_fast"], strict=True)]
    rate = {name: size / best[name] / 1e6 for name in sides}
    commit, dirty = git_commit(ROOT, "src/opencook/data/filter/lang_signals/_esprima_fast.py")
    result = {
        "command": command_line("esprima_speed.py"),
        "commit": commit,
        "dirty": dirty,
        "machine": machine_info(),
        "esprima": importlib.metadata.version("esprima"),
        "root": str(root),
        "files": len(texts),
        "bytes": size,
        "rounds": args.rounds,
        "cpu_s": cpu,
        "best_cpu_s": best,
        "mb_per_cpu_s": {k: round(v, 3) for k, v in rate.items()},
        "speedup": round(best["esprima"] / best["_esprima_fast"], 3),
        "speedup_per_round": round_ratios,
        "identical_results": same,
        "differing_files": differing,
        "stock_outcomes": kinds,
        "load_avg_before": [round(x, 2) for x in load_before],
        "load_avg_after": [round(x, 2) for x in load_after],
    }
    md = "\n".join(
        [
            "# Reference-mode JavaScript parsing: stock esprima vs `_esprima_fast`",
            "",
            f"`{result['command']}` at {commit}{' (uncommitted changes)' if dirty else ''}; {len(texts)} files, "
            f"{size / 1e6:.2f} MB under `{root}`; esprima {result['esprima']}, Python "
            f"{result['machine']['python']}, {result['machine']['cpu']}.",
            f"Shared 2-core machine: load average {result['load_avg_before'][0]} before, "
            f"{result['load_avg_after'][0]} after. One process; CPU time per side: each {args.chunk}-file chunk's "
            f"best of {args.rounds} rounds, summed (the sides take turns chunk by chunk); parse only (module then script, as `javascript.parse`).",
            "",
            "| parser | CPU s (best per chunk) | MB/s (CPU, per core) | each round's CPU s |",
            "| --- | --- | --- | --- |",
            *(
                f"| {name} | {best[name]:.2f} | {rate[name]:.2f} | {', '.join(f'{t:.2f}' for t in cpu[name])} |"
                for name in sides
            ),
            "",
            f"Speed-up: **{result['speedup']:.2f}x** on the best chunks (goal 1.4x); per round "
            f"{', '.join(f'{r:.2f}x' for r in round_ratios)}. Identical results (same `toDict()` tree, same "
            f"esprima error, or same crash class): **{same} of {len(texts)}** files; stock esprima gave "
            f"{kinds['tree']} trees, {kinds['error']} errors, {kinds['crash']} crashes.",
            *([f"Differing: {', '.join(differing[:20])}"] if differing else []),
            "",
        ]
    )
    write_results(RESULTS, "esprima_speed", result, md)
    print(md)


if __name__ == "__main__":
    main()
