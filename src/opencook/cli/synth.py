"""``opencook synth algorithmic|edu-instruct|package-instruct|snippets``: the synthetic-data stages, each
ending with a table of what happened to every sample."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def _load_algorithmic_config(path: str | None):
    from opencook.kit.config import build_config
    from opencook.synth.algorithmic import AlgorithmicConfig

    if not path:
        return AlgorithmicConfig()
    import yaml

    values = yaml.safe_load(Path(path).read_text()) or {}
    return build_config(AlgorithmicConfig, values.get("algorithmic", values), f"{path}: algorithmic")


def cmd_algorithmic(args: argparse.Namespace) -> int:
    from opencook.synth.algorithmic import select_algorithmic

    counts = select_algorithmic(args.dataset, args.out, _load_algorithmic_config(args.config))
    Path(args.out, "counts.json").write_text(json.dumps(counts, indent=2))
    print(f"algorithmic corpus: {counts['kept']} of {counts['in']} files kept")
    for reason, n in counts["reasons"].items():
        print(f"  {reason:<22}{n:>8}")
    print(f"dataset: {Path(args.out) / 'dataset'}")
    return 0


def _with_teacher(run):
    """Run ``run(args)`` against ``--endpoint``, or against a server started for ``--serve`` and stopped after."""

    def cmd(args: argparse.Namespace) -> int:
        if args.serve is None:
            return run(args)
        from opencook.synth.local_teacher import local_endpoint

        with local_endpoint(args.serve) as url:
            args.endpoint = url
            return run(args)

    return cmd


def _teacher(args: argparse.Namespace):
    from opencook.completions.sampling import Sampling
    from opencook.synth.teacher import Teacher, TeacherConfig

    sampling = Sampling(max_new_tokens=args.max_tokens, temperature=args.temperature)
    config = TeacherConfig(endpoint=args.endpoint, model=args.model, sampling=sampling,
                           concurrency=args.concurrency, rps=args.rps, retries=args.retries,
                           timeout_s=args.request_timeout)
    return Teacher(config, cache_dir=args.cache or Path(args.out) / "cache")


def _run_config(args: argparse.Namespace):
    from opencook.synth.stage import RunConfig

    return RunConfig(timeout_s=args.timeout, sandbox_workers=args.sandbox_workers,
                     decontaminate=not args.no_decontam)


def _report(teacher, counts, output: Path) -> int:
    from opencook.synth.counts import summary_table

    print(summary_table([counts]))
    s = teacher.stats
    print(f"teacher: {s.requests} request(s), {s.cache_hits} cache hit(s), {s.resumed} resumed from the journal, "
          f"{s.retries} retries, {s.timeouts} timeout(s), {s.completion_tokens} tokens in {s.seconds:.1f} s")
    if counts.reasons:
        print("drops: " + ", ".join(f"{k}={v}" for k, v in sorted(counts.reasons.items())))
    print(f"output: {output}")
    return 0


def cmd_edu(args: argparse.Namespace) -> int:
    from opencook.synth.edu_instruct import edu_instruct
    from opencook.synth.seeds import load_seeds

    teacher = _teacher(args)
    path, counts = edu_instruct(load_seeds(args.seeds, args.limit, args.max_seed_chars), teacher, args.out,
                                _run_config(args))
    return _report(teacher, counts, path)


def cmd_package(args: argparse.Namespace) -> int:
    from opencook.synth.package_instruct import package_instruct

    modules = [m.strip() for m in args.modules.split(",") if m.strip()]
    teacher = _teacher(args)
    path, counts = package_instruct(modules, teacher, args.out, _run_config(args), per_module=args.per_module,
                                    need_code=not args.allow_no_code)
    return _report(teacher, counts, path)


def cmd_snippets(args: argparse.Namespace) -> int:
    from opencook.synth.seeds import load_seeds
    from opencook.synth.snippets import snippets

    teacher = _teacher(args)
    path, counts = snippets(load_seeds(args.seeds, args.limit, args.max_seed_chars), teacher, args.out,
                            _run_config(args), kind=args.kind)
    return _report(teacher, counts, path)


def _teacher_args(p: argparse.ArgumentParser) -> None:
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--endpoint", help="OpenAI-compatible base URL ending in /v1 (vLLM, a hosted API, "
                                          "opencook lm serve)")
    where.add_argument("--serve", metavar="MODEL_DIR", help="start `opencook lm serve MODEL_DIR` on a free "
                                                            "local port for this command (e.g. an imported SmolLM2)")
    p.add_argument("--out", required=True, help="output folder (journal, cache, counts.json and the data)")
    p.add_argument("--model", help="model name sent to the endpoint (default: the server's first model)")
    p.add_argument("--max-tokens", type=int, default=768, help="reply length bound (ends endless replies)")
    p.add_argument("--temperature", type=float, default=0.0)
    p.add_argument("--concurrency", type=int, default=4, help="requests in flight at once")
    p.add_argument("--rps", type=float, default=0.0, help="at most this many requests per second (0: no limit)")
    p.add_argument("--retries", type=int, default=3, help="retries on 5xx/timeouts/connection errors")
    p.add_argument("--request-timeout", type=float, default=300.0, help="seconds per request")
    p.add_argument("--cache", help="reply cache folder, shareable between runs (default: OUT/cache)")
    p.add_argument("--timeout", type=float, default=5.0, help="sandbox seconds per program")
    p.add_argument("--sandbox-workers", type=int, default=2)
    p.add_argument("--no-decontam", action="store_true", help="skip decontamination against HumanEval/MBPP")


def _seed_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("seeds", help="seed dataset: a folder of Parquet/JSONL (e.g. the algorithmic corpus) or a file")
    p.add_argument("--limit", type=int, help="use at most this many seeds")
    p.add_argument("--max-seed-chars", type=int, default=2000, help="cut longer seeds at a line boundary")


def add_parser(sub) -> None:
    synth = sub.add_parser("synth", help="synthetic data: algorithmic corpus, teacher-written SFT and annealing sets")
    ss = synth.add_subparsers(dest="synth_command", required=True)

    alg = ss.add_parser("algorithmic", help="select self-contained, logic-heavy files from a dataset")
    alg.add_argument("dataset", help="a dataset folder of Parquet/JSONL with a 'text' column (e.g. runs/demo/dataset)")
    alg.add_argument("--out", required=True, help="output folder (dataset/ and counts.json)")
    alg.add_argument("--config", help="YAML with the rule set (see recipes/synth/algorithmic.yaml)")
    alg.set_defaults(func=cmd_algorithmic)

    edu = ss.add_parser("edu-instruct", help="seed code -> problem, solution, tests; keep those that pass")
    _seed_args(edu)
    _teacher_args(edu)
    edu.set_defaults(func=_with_teacher(cmd_edu))

    pkg = ss.add_parser("package-instruct", help="API docs of installed modules -> QA; keep answers whose code runs")
    pkg.add_argument("--modules", required=True, help="comma-separated importable modules, e.g. json,re")
    pkg.add_argument("--per-module", type=int, default=10, help="APIs per module")
    pkg.add_argument("--allow-no-code", action="store_true", help="keep answers without a code block")
    _teacher_args(pkg)
    pkg.set_defaults(func=_with_teacher(cmd_package))

    snip = ss.add_parser("snippets", help="annealing data: tested snippets or textbook sections from seeds")
    _seed_args(snip)
    snip.add_argument("--kind", default="snippets", choices=["snippets", "textbook"])
    _teacher_args(snip)
    snip.set_defaults(func=_with_teacher(cmd_snippets))
