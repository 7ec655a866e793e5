"""``opencook synth algorithmic|edu-instruct|package-instruct|snippets``: the synthetic-data stages, each
ending with a table of what happened to every sample."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from opencook.cli.flags import (
    add_alias,
    add_common,
    add_out,
    add_set,
    add_workers,
    dataset_input,
    existing,
    input_name,
    out_dir,
    positive,
    positive_float,
)
from opencook.cli.remote_out import local_out, shown
from opencook.kit.config import ConfigError


def _load_algorithmic_config(path: str | None, sets: list[str] | None = None):
    """The rule set: ``--config`` (its ``algorithmic`` section, or the whole file) with ``--set`` on top."""
    from opencook.kit.config import (
        blame_overrides,
        build_config,
        parse_set_pairs,
        read_yaml_config,
        set_override,
    )
    from opencook.synth.algorithmic import AlgorithmicConfig

    def load(overrides: dict) -> AlgorithmicConfig:
        values = read_yaml_config(Path(path)) if path else {}
        values = values.get("algorithmic", values)
        for dotted, value in overrides.items():
            set_override(values, dotted, value)
        return build_config(AlgorithmicConfig, values, f"{path}: algorithmic" if path else "algorithmic")

    return blame_overrides(load, parse_set_pairs(sets), f"{path}: algorithmic")


def cmd_algorithmic(args: argparse.Namespace) -> int:
    from opencook.synth.algorithmic import select_algorithmic

    config = _load_algorithmic_config(args.config, args.set)
    out = out_dir(args, "synth", "algorithmic", input_name(args.dataset))
    with local_out(out) as folder:  # a remote --out: its local copy, uploaded after
        counts = select_algorithmic(args.dataset, folder, config)
        Path(folder, "counts.json").write_text(json.dumps(counts, indent=2))
    print(f"algorithmic corpus: {counts['kept']} of {counts['in']} files kept")
    for reason, n in counts["reasons"].items():
        print(f"  {reason:<22}{n:>8}")
    print(f"dataset: {shown(out, 'dataset')}")
    return 0


def _with_teacher(run, verb: str, name_of):
    """Run ``run(args)`` against ``--endpoint``, or against a server started for ``--model DIR`` and stopped
    after. The old ``--endpoint URL --model NAME`` (``--model`` was the served name) still works, with a note."""

    def cmd(args: argparse.Namespace) -> int:
        if args.endpoint and args.model:
            print("opencook: --model with --endpoint is the old spelling of --endpoint-model (--model is now a "
                  "model directory to serve); it goes away in the next release", file=sys.stderr)
            args.endpoint_model, args.model = args.endpoint_model or args.model, None
        if not args.endpoint and not args.model:
            raise ConfigError("no teacher: pass --endpoint URL (an OpenAI-compatible server) or --model DIR "
                              "(a model directory served locally for this command)")
        if args.model and not Path(args.model).is_dir():
            raise ConfigError(f"--model {args.model}: no such model directory (a Hugging Face LLaMA folder, e.g. "
                              "from `opencook lm import-hf`)")
        args.out = str(out_dir(args, "synth", verb, name_of(args)))
        if args.model is None:
            return run(args)
        from opencook.synth.local_teacher import local_endpoint

        with local_endpoint(args.model) as url:
            args.endpoint = url
            return run(args)

    return cmd


def _teacher(args: argparse.Namespace):
    from opencook.completions.sampling import Sampling
    from opencook.synth.teacher import Teacher, TeacherConfig

    sampling = Sampling(max_new_tokens=args.max_new_tokens, temperature=args.temperature)
    config = TeacherConfig(endpoint=args.endpoint, model=args.endpoint_model, sampling=sampling,
                           concurrency=args.concurrency, rps=args.rps, retries=args.retries,
                           timeout_s=args.request_timeout, tokens_per_minute=args.tpm, stream=args.stream)
    return Teacher(config, cache_dir=args.cache or Path(args.out) / "cache")


def _run_config(args: argparse.Namespace):
    from opencook.synth.stage import RunConfig

    return RunConfig(timeout_s=args.timeout, sandbox_workers=args.workers,
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


def _teacher_args(p: argparse.ArgumentParser, out_default: str) -> None:
    p.add_argument("--endpoint", help="OpenAI-compatible base URL ending in /v1 (vLLM, a hosted API, `opencook lm "
                                      "serve`); default: none, give this or --model")
    model = p.add_argument("--model", metavar="DIR", help="a model directory served locally (`opencook lm serve`) "
                                                          "on a free port for this command, e.g. an imported SmolLM2; "
                                                          "default: none, give this or --endpoint")
    add_alias(p, "--serve", model)
    add_out(p, out_default, "output folder (journal, cache, counts.json and the data)")
    p.add_argument("--endpoint-model", metavar="NAME",
                   help="the served model name sent to the endpoint (default: the server's first model)")
    tokens = p.add_argument("--max-new-tokens", type=positive, default=768,
                            help="reply length bound (ends endless replies)")
    add_alias(p, "--max-tokens", tokens)
    p.add_argument("--temperature", type=float, default=0.0, help="teacher sampling temperature (0: greedy)")
    p.add_argument("--concurrency", type=positive, default=4, help="requests in flight at once")
    p.add_argument("--rps", type=float, default=0.0, help="at most this many requests per second (0: no limit)")
    p.add_argument("--tpm", type=float, default=0.0, help="at most this many tokens per minute, as hosted APIs "
                                                          "meter them (0: no limit)")
    p.add_argument("--stream", action="store_true", help="read replies as server-sent events")
    p.add_argument("--retries", type=int, default=3, help="retries on 5xx/timeouts/connection errors")
    p.add_argument("--request-timeout", type=positive_float, default=300.0, help="seconds per request")
    p.add_argument("--cache", help="reply cache folder, shareable between runs (default: OUT/cache)")
    p.add_argument("--timeout", type=positive_float, default=5.0, help="sandbox seconds per program")
    workers = add_workers(p, "programs run at once in the sandbox")
    add_alias(p, "--sandbox-workers", workers)
    p.add_argument("--no-decontam", action="store_true", help="skip decontamination against HumanEval/MBPP")
    add_common(p)


def _seed_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("seeds", type=dataset_input,
                   help="seed dataset: a folder of Parquet/JSONL (e.g. the algorithmic corpus) or a file")
    p.add_argument("--limit", type=positive, help="use at most this many seeds (default: all)")
    p.add_argument("--max-seed-chars", type=positive, default=2000, help="cut longer seeds at a line boundary")


def add_parser(sub) -> None:
    synth = sub.add_parser("synth", help="synthetic data: algorithmic corpus, teacher-written SFT and annealing sets")
    ss = synth.add_subparsers(dest="synth_command", required=True)

    alg = ss.add_parser("algorithmic", help="select self-contained, logic-heavy files from a dataset")
    alg.add_argument("dataset", type=dataset_input,
                     help="a dataset folder of Parquet/JSONL with a 'text' column (e.g. runs/demo/dataset)")
    add_out(alg, "runs/synth/algorithmic-<input name>", "output folder (dataset/ and counts.json)")
    alg.add_argument("--config", type=existing, help="YAML with the rule set (see recipes/synth/algorithmic.yaml; "
                                                     "default: the built-in rules)")
    add_set(alg)
    add_common(alg)
    alg.set_defaults(func=cmd_algorithmic, remote_out=True)

    edu = ss.add_parser("edu-instruct", help="seed code -> problem, solution, tests; keep those that pass")
    _seed_args(edu)
    _teacher_args(edu, "runs/synth/edu-instruct-<seeds name>")
    edu.set_defaults(func=_with_teacher(cmd_edu, "edu-instruct", lambda a: input_name(a.seeds)))

    pkg = ss.add_parser("package-instruct", help="API docs of installed modules -> QA; keep answers whose code runs")
    pkg.add_argument("--modules", required=True, help="comma-separated importable modules, e.g. json,re")
    pkg.add_argument("--per-module", type=positive, default=10, help="APIs per module")
    pkg.add_argument("--allow-no-code", action="store_true", help="keep answers without a code block")
    _teacher_args(pkg, "runs/synth/package-instruct-<modules joined by +>")
    pkg.set_defaults(func=_with_teacher(cmd_package, "package-instruct",
                                        lambda a: "+".join(m.strip() for m in a.modules.split(",") if m.strip())))

    snip = ss.add_parser("snippets", help="annealing data: tested snippets or textbook sections from seeds")
    _seed_args(snip)
    snip.add_argument("--kind", default="snippets", choices=["snippets", "textbook"], help="what to write")
    _teacher_args(snip, "runs/synth/snippets-<seeds name>")
    snip.set_defaults(func=_with_teacher(cmd_snippets, "snippets", lambda a: input_name(a.seeds)))
