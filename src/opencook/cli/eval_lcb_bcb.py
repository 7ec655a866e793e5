"""``opencook eval livecodebench|bigcodebench`` and their ``verify`` forms: the two benchmarks read from their
released files at a path (``--dataset``), graded by their own harnesses' rules in the sandbox."""

from __future__ import annotations

import argparse
import time
from datetime import date
from pathlib import Path

from opencook.cli.eval_generation import add_generation_flags, sampling_from
from opencook.cli.flags import add_common, add_workers, existing, positive, positive_float


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date such as 2023-05-01") from None


def _print_scores(results, paths: dict) -> None:
    s, t = results.record["scores"], results.record["wall_time_s"]
    print(f"  verdicts: {', '.join(f'{k} {v}' for k, v in s['kinds'].items())}")
    print(f"  wall time: {t['total']:.1f} s (generation {t['generation']:.1f} s, execution {t['execution']:.1f} s)")
    print(f"results: {paths['results']}\nsamples: {paths['samples']}\nproblems: {paths['problems']}\nsummary: {paths['summary']}")
    for k, v in s["pass_at_k"].items():
        print(f"  {k}: {100 * v:.2f}  ({s['problems_solved']}/{s['problems']} problems solved)")


def _print_skips(bench) -> None:
    if bench.skipped:
        total = len(bench.tasks) + len(bench.skipped)
        libs = ", ".join(f"{lib}: {n}" for lib, n in bench.skipped_by_library.items())
        print(f"skipped {len(bench.skipped)} of {total} tasks whose libraries are not installed (tasks per missing "
              f"library: {libs}); install them to score those tasks")


def cmd_livecodebench(args: argparse.Namespace, backend_of) -> int:
    from opencook.benchmarks.livecodebench import load_livecodebench
    from opencook.evals.livecodebench import evaluate
    from opencook.evals.passk import parse_ks
    from opencook.evals.report import write_results

    sampling, ks = sampling_from(args), parse_ks(args.k)
    bench = load_livecodebench(args.dataset, args.start, args.end)
    print(f"livecodebench ({len(bench.problems)} problems from {bench.start} to {bench.end}, {bench.outside_window} "
          f"outside; sha256 {bench.sha256[:12]}), n={sampling.n}", flush=True)
    results = evaluate(bench, backend_of(args), sampling, ks=ks, batch_size=args.batch_size, workers=args.workers,
                       memory_mb=args.memory_mb, test_timeout_s=args.test_timeout, limit=args.limit,
                       progress=not args.quiet)
    _print_scores(results, write_results(results, Path(args.out or "runs/eval/livecodebench")))
    return 0


def cmd_bigcodebench(args: argparse.Namespace, backend_of) -> int:
    from opencook.benchmarks.bigcodebench import load_bigcodebench
    from opencook.evals.bigcodebench import evaluate
    from opencook.evals.passk import parse_ks
    from opencook.evals.report import write_results

    sampling, ks = sampling_from(args), parse_ks(args.k)
    bench = load_bigcodebench(args.dataset, args.subset)
    print(f"bigcodebench-{args.split} {args.subset} ({len(bench.tasks)} runnable tasks, sha256 {bench.sha256[:12]}), "
          f"{args.kind} model, n={sampling.n}", flush=True)
    _print_skips(bench)
    results = evaluate(bench, args.split, args.kind, backend_of(args), sampling, ks=ks, batch_size=args.batch_size,
                       workers=args.workers, memory_mb=args.memory_mb, timeout_s=args.timeout, limit=args.limit,
                       progress=not args.quiet)
    out = Path(args.out or f"runs/eval/bigcodebench-{args.split}-{args.subset}-{args.kind}")
    _print_scores(results, write_results(results, out))
    return 0


def cmd_verify_livecodebench(args: argparse.Namespace) -> int:
    from opencook.benchmarks.livecodebench import load_livecodebench
    from opencook.evals.livecodebench import judge, read_solutions

    bench = load_livecodebench(args.dataset, args.start, args.end)
    solutions = read_solutions(args.solutions)
    lacking = [p.question_id for p in bench.problems if p.question_id not in solutions]
    if lacking:
        raise ValueError(f"--solutions {args.solutions} has no solution for {len(lacking)} problem(s) in "
                         f"{bench.start}..{bench.end} (e.g. {lacking[:3]}): add them, or narrow --start/--end")
    start = time.perf_counter()
    verdicts = judge(bench.problems, [solutions[p.question_id] for p in bench.problems], memory_mb=args.memory_mb,
                     workers=args.workers, test_timeout_s=args.test_timeout, progress=True)
    for p, row in zip(bench.problems, verdicts, strict=True):
        for j, v in enumerate(row):
            if v["kind"] != "passed":
                print(f"  {p.question_id}#{j}: {v['kind']} at test {v['test']}  {v['message'][:160]}")
    passed = sum(v["kind"] == "passed" for row in verdicts for v in row)
    total = sum(len(row) for row in verdicts)
    print(f"{passed}/{total} livecodebench solutions pass ({len(bench.problems)} problems from {bench.start} to "
          f"{bench.end}; {time.perf_counter() - start:.1f} s, {args.test_timeout} s per test)")
    return 0


def cmd_verify_bigcodebench(args: argparse.Namespace) -> int:
    from opencook.benchmarks.bigcodebench import load_bigcodebench
    from opencook.evals.bigcodebench import judge

    bench = load_bigcodebench(args.dataset, args.subset)
    _print_skips(bench)
    start = time.perf_counter()
    codes = [[t.complete_prompt + "\n" + t.canonical_solution] for t in bench.tasks]  # as their ground-truth check
    verdicts = [row[0] for row in judge(bench.tasks, codes, timeout_s=args.timeout, memory_mb=args.memory_mb,
                                        workers=args.workers, progress=True)]
    for t, v in zip(bench.tasks, verdicts, strict=True):
        if v["kind"] != "passed":
            first = next(iter(v["details"].items()), ("", ""))
            print(f"  {t.task_id}: {v['kind']}  {first[0]}: {str(first[1]).strip().splitlines()[-1:] or ['']}")
    passed = sum(v["kind"] == "passed" for v in verdicts)
    print(f"{passed}/{len(verdicts)} bigcodebench {args.subset} canonical solutions pass ({len(bench.skipped)} tasks "
          f"skipped for missing libraries; {time.perf_counter() - start:.1f} s, {args.timeout} s per task)")
    return 0


def _lcb_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", required=True, type=existing,
                   help="livecodebench/code_generation_lite release JSONL (or the folder of test*.jsonl)")
    p.add_argument("--start", type=_day, default=date(2023, 5, 1), help="first contest date (the paper's: 2023-05-01)")
    p.add_argument("--end", type=_day, default=date(2024, 9, 30), help="last contest date (the paper's: 2024-09-30)")
    p.add_argument("--test-timeout", type=positive_float, default=6.0, help="seconds per test (LiveCodeBench's 6)")
    add_workers(p, "programs run at once in the sandbox")
    p.add_argument("--memory-mb", type=positive, default=4096, help="data-segment limit per program")


def _bcb_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", required=True, type=existing,
                   help="a BigCodeBench release JSONL (full, or the hard subset's)")
    p.add_argument("--subset", choices=["full", "hard"], default="full", help="which release --dataset is")
    p.add_argument("--timeout", type=positive_float, default=240.0,
                   help="seconds per task, all its tests (BigCodeBench's 240)")
    add_workers(p, "programs run at once in the sandbox")
    p.add_argument("--memory-mb", type=positive, default=8192, help="data-segment limit per program")


def add_eval_parsers(ev_sub, backend_of) -> None:
    """``eval livecodebench`` and ``eval bigcodebench`` on ``ev_sub``; ``backend_of(args)`` builds the backend."""
    p = ev_sub.add_parser("livecodebench", help="pass@k on LiveCodeBench code generation (a chat model)")
    add_generation_flags(p, max_new_tokens=1024, out_default="runs/eval/livecodebench")
    _lcb_flags(p)
    p.set_defaults(func=lambda a: cmd_livecodebench(a, backend_of))
    p = ev_sub.add_parser("bigcodebench", help="pass@k on BigCodeBench complete/instruct, full/hard")
    add_generation_flags(p, max_new_tokens=1024, out_default="runs/eval/bigcodebench-<split>-<subset>-<kind>")
    _bcb_flags(p)
    p.add_argument("--split", choices=["complete", "instruct"], default="complete", help="BigCodeBench's split")
    p.add_argument("--kind", choices=["base", "chat"], default="base",
                   help="base: complete complete_prompt; chat: one user turn (instruct needs chat)")
    p.set_defaults(func=lambda a: cmd_bigcodebench(a, backend_of))


def add_verify_parsers(ver_sub) -> None:
    p = ver_sub.add_parser("livecodebench", help="grade given solutions (LiveCodeBench ships none)")
    _lcb_flags(p)
    p.add_argument("--solutions", required=True, type=existing, help="JSONL of {question_id, code} (or code_list) rows")
    add_common(p)
    p.set_defaults(func=cmd_verify_livecodebench)
    p = ver_sub.add_parser("bigcodebench", help="run the canonical solutions' TestCases")
    _bcb_flags(p)
    add_common(p)
    p.set_defaults(func=cmd_verify_bigcodebench)
