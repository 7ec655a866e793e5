"""``opencook eval verify humaneval-x --lang L``: HumanEval-X's canonical solutions through the sandbox.

Prints one line per problem that fails (its verdict and the last line of its output), then ``passed/total``
last. ``--dataset PATH`` points at another file in HumanEval-X's format.
"""

from __future__ import annotations

import argparse
import re
import time

from opencook.cli.flags import add_common, add_workers, existing, positive, positive_float

_WHY = re.compile(r"\w*(Error|Exception)\b|error(\[E\d+\])?:|--- FAIL|panicked|Assertion `|Error Trace")
DEFAULT_TIMEOUT_S = 10.0  # the JVM and node start in ~0.2-0.5 s; CodeGeeX's harness allowed 10 s too


def verify_humaneval_x(lang: str, dataset: str | None, limits, workers: int, cache_dir=None):
    """(benchmark, outcomes) of every canonical solution of one HumanEval-X language."""
    from opencook.benchmarks.humaneval_x import load_humaneval_x, program
    from opencook.sandbox import Program, run_programs

    benchmark = load_humaneval_x(lang, dataset)
    programs = [Program(p.task_id, program(p, p.canonical, lang), p.extra["language"]) for p in benchmark.problems]
    return benchmark, run_programs(programs, limits, workers=workers, cache_dir=cache_dir, progress=True)


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


def add_verify_parsers(ver_sub) -> None:
    """``verify humaneval-x`` on the ``opencook eval verify`` subparsers."""
    p = ver_sub.add_parser("humaneval-x", help="HumanEval-X's canonical solutions in one language")
    p.add_argument("--lang", required=True, help="cpp, go, java, js or rust")
    p.add_argument("--dataset", default=None, type=existing, help="a HumanEval-X-format .jsonl(.gz) (default: "
                                                                  "../shared/data/humaneval_x/humaneval_<lang>.jsonl.gz)")
    add_workers(p, "programs built and run at once")
    p.add_argument("--timeout", type=positive_float, default=DEFAULT_TIMEOUT_S, help="seconds per program run")
    p.add_argument("--memory-mb", type=positive, default=1024, help="data-segment limit per program")
    add_common(p)
    p.set_defaults(func=cmd_verify_humaneval_x)


def add_eval_parsers(ev_sub, evaluate_and_print, sandbox_flags) -> None:
    """``opencook eval humaneval-x`` and ``opencook eval multipl-e``: pass@k of a model in one language (or
    every language of a MultiPL-E file), under the benchmark's own harness."""
    from pathlib import Path

    from opencook.cli.eval_generation import add_generation_flags

    def humaneval_x(args: argparse.Namespace) -> int:
        from opencook.benchmarks.humaneval_x import humaneval_x_language, load_humaneval_x

        lang = humaneval_x_language(args.lang)
        out = Path(args.out or f"runs/eval/humaneval-x-{lang}-{args.kind}")
        return evaluate_and_print(args, load_humaneval_x(lang, args.dataset), f"humaneval-x {lang}", out, "codegeex")

    def multipl_e(args: argparse.Namespace) -> int:
        from opencook.benchmarks.multipl_e import load_multipl_e

        benchmark = load_multipl_e(args.dataset, args.lang)
        out = Path(args.out or f"runs/eval/multipl-e-{benchmark.split.replace(',', '+')}-{args.kind}")
        return evaluate_and_print(args, benchmark, f"multipl-e {benchmark.split}", out, "multipl-e")

    p = ev_sub.add_parser("humaneval-x", help="pass@k on HumanEval-X in one language (cpp, go, java, js, rust)")
    p.add_argument("--lang", required=True, help="cpp, go, java, js or rust")
    p.add_argument("--dataset", default=None, type=existing, help="a HumanEval-X-format .jsonl(.gz) (default: "
                                                                  "../shared/data/humaneval_x/humaneval_<lang>.jsonl.gz)")
    p.add_argument("--kind", choices=["base", "chat"], default="base",
                   help="base: the model continues the program (stops per language); chat: one user turn, the "
                        "code from the reply's fenced block")
    add_generation_flags(p, max_new_tokens=512, out_default="runs/eval/humaneval-x-<lang>-<kind>")
    sandbox_flags(p, DEFAULT_TIMEOUT_S)
    p.set_defaults(func=humaneval_x)

    p = ev_sub.add_parser("multipl-e", help="pass@k on a MultiPL-E JSONL file (all its languages, or --lang)")
    p.add_argument("--dataset", required=True, type=existing,
                   help="MultiPL-E rows: name, language, prompt, tests, stop_tokens")
    p.add_argument("--lang", default=None, help="keep one language (MultiPL-E's code: cpp, java, js, ts, go, rs, "
                                                "php, sh, cs, py); default: all in the file")
    p.add_argument("--kind", choices=["base"], default="base", help="MultiPL-E is a completion benchmark")
    add_generation_flags(p, max_new_tokens=512, out_default="runs/eval/multipl-e-<langs>-base")
    sandbox_flags(p, DEFAULT_TIMEOUT_S)
    p.set_defaults(func=multipl_e)
