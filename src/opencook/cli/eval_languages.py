"""``opencook eval verify humaneval-x --lang L``: HumanEval-X's canonical solutions through the sandbox.

Prints one line per problem that fails (its verdict and the last line of its output), then ``passed/total``
last. ``--dataset PATH`` points at another file in HumanEval-X's format.
"""

from __future__ import annotations

import argparse
import re
import time

_WHY = re.compile(r"\w*(Error|Exception)\b|error(\[E\d+\])?:|--- FAIL|panicked|Assertion `|Error Trace")
DEFAULT_TIMEOUT_S = 10.0  # the JVM and node start in ~0.2-0.5 s; CodeGeeX's harness allowed 10 s too


def verify_humaneval_x(lang: str, dataset: str | None, limits, workers: int, cache_dir=None):
    """(benchmark, outcomes) of every canonical solution of one HumanEval-X language."""
    from opencook.benchmarks.humaneval_x import load_humaneval_x, program
    from opencook.sandbox import Program, run_programs

    benchmark = load_humaneval_x(lang, dataset)
    programs = [Program(p.task_id, program(p, p.canonical, lang), p.extra["language"]) for p in benchmark.problems]
    return benchmark, run_programs(programs, limits, workers=workers, cache_dir=cache_dir)


def last_line(outcome) -> str:
    """The line of a failed program's output that says why (compiler error, assertion, exception)."""
    lines = [ln.strip() for ln in (outcome.stderr + "\n" + outcome.stdout).splitlines() if ln.strip()]
    for ln in lines:
        if _WHY.search(ln) and not ln.startswith(("at ", "throw ")):
            return ln[:200]
    return lines[-1][:200] if lines else ""


def cmd_verify_humaneval_x(args: argparse.Namespace) -> int:
    from opencook.sandbox import Limits

    limits = Limits(timeout_s=args.timeout, memory_mb=args.memory_mb)
    start = time.perf_counter()
    benchmark, outcomes = verify_humaneval_x(args.lang, args.dataset, limits, args.workers)
    for o in outcomes:
        if not o.passed:
            print(f"  {o.id}: {o.kind}  {last_line(o)}")
    passed = sum(o.passed for o in outcomes)
    print(f"humaneval-x {benchmark.split} reference solutions ({benchmark.sha256[:12]}, "
          f"{time.perf_counter() - start:.1f} s, {args.workers} workers, {args.timeout:g} s per program): "
          f"{passed}/{len(outcomes)}")
    return 0


def add_verify_parsers(ver_sub, guarded) -> None:
    """``verify humaneval-x`` on the ``opencook eval verify`` subparsers."""
    p = ver_sub.add_parser("humaneval-x", help="HumanEval-X's canonical solutions in one language")
    p.add_argument("--lang", required=True, help="cpp, go, java, js or rust")
    p.add_argument("--dataset", default=None, help="a HumanEval-X-format .jsonl(.gz) instead of "
                                                   "../shared/data/humaneval_x/humaneval_<lang>.jsonl.gz")
    p.add_argument("--workers", type=int, default=2, help="programs built and run at once")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, help="seconds per program run")
    p.add_argument("--memory-mb", type=int, default=1024, help="data-segment limit per program")
    p.set_defaults(func=guarded(cmd_verify_humaneval_x))
