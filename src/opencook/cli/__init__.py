"""The single ``opencook`` command; subcommands map onto capabilities."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _run_pipeline(recipe, out: Path, executor_name: str, workers: int, address: str | None = None) -> list:
    """Run a recipe, then release the executor's workers (or the Ray instance it started)."""
    from opencook.data.runner import PipelineRunner
    from opencook.kit.executors import make_executor

    with make_executor(executor_name, workers, address=address) as executor:
        return PipelineRunner(recipe, out, executor).run()


def _cmd_run(args: argparse.Namespace) -> int:
    from opencook.data.recipe import load_recipe

    recipe = load_recipe(Path(args.recipe))
    out = Path(args.out or f"runs/{recipe.name}")
    if args.address and args.executor != "ray":
        print("opencook: --address is for --executor ray", file=sys.stderr)
        return 2
    results = _run_pipeline(recipe, out, args.executor, args.workers, address=args.address)
    report = None
    if not args.no_report:
        from opencook.data.report import write_data_report

        report = write_data_report(out)
    first, last = results[0].stats, results[-1].stats
    print(f"run '{recipe.name}' finished in {sum(r.seconds for r in results):.1f} s")
    for r in results:
        c = r.stats.counters
        skipped = f" ({r.skipped} shard(s) already done)" if r.skipped else ""
        print(f"  {r.index:02d} {r.name:<12} in={c.get('in', 0):>8} out={c.get('out', 0):>8}{skipped}")
    kept_bytes = sum(v.get("bytes", 0) for v in last.by_language.values())
    print(f"  files kept: {last.counters.get('out', 0)} of {first.counters.get('out', 0)} ingested; "
          f"{kept_bytes / 1e6:.1f} MB of text")
    print(f"dataset:  {out / 'dataset'}")
    print(f"manifest: {out / 'manifest.json'}")
    if report:
        print(f"report:   {report}")
    return 0


def _cmd_data_filter(args: argparse.Namespace) -> int:
    from opencook.data.filter.filter_path import filter_path

    result = filter_path(Path(args.path), Path(args.out), fmt=args.format, seed=args.seed, workers=args.workers,
                         compat=args.compat)
    print(f"filter results: {result}")
    return 0


def _dedup_inputs(path: Path) -> list[str]:
    """The files of a dataset folder (e.g. a run's ``dataset/``) or file, any ``kit.io.Dataset`` format."""
    from opencook.kit.io import Dataset

    return [str(p) for p in Dataset(path).files()]


def _cmd_data_dedup(args: argparse.Namespace) -> int:
    from opencook.data.recipe import parse_recipe

    fuzzy = {k: v for k, v in (("preset", args.preset), ("threshold", args.threshold),
                                ("num_perm", args.num_perm), ("bands", args.bands), ("rows", args.rows))
             if v is not None}
    if args.no_verify:
        fuzzy["verify"] = False
    out = Path(args.out)
    recipe = parse_recipe({"name": "dedup", "seed": 0, "stages": [
        {"ingest": {"paths": _dedup_inputs(Path(args.path)), "max_file_bytes": 1 << 62}},
        {"fuzzy_dedup": fuzzy},
        {"write": {}},
    ]})  # settings are checked here, before any work: a bad one is a ConfigError (exit 2)
    config = recipe.stages[1][1]
    results = _run_pipeline(recipe, out, "local", args.workers)
    stats = {r.name: r for r in results}["fuzzy_dedup"].stats.counters
    print(f"fuzzy dedup: {config.ngram}-grams, {config.num_perm} permutations, {config.bands} bands x "
          f"{config.rows} rows; implied threshold {config.implied_threshold:.3f}; "
          + (f"verified at Jaccard >= {config.jaccard_threshold:.3f}" if config.verify else "no verification"))
    print(f"  files: {stats.get('in', 0)} in, {stats.get('out', 0)} kept, "
          f"{stats.get('fuzzy_files_removed', 0)} removed in {stats.get('fuzzy_clusters', 0)} cluster(s)")
    print(f"dataset:       {out / 'dataset'}")
    print(f"removed files: {out / 'stages' / '01_fuzzy_dedup' / 'decision.parquet'}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="opencook", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run a data recipe (YAML) into an output directory")
    run.add_argument("recipe", help="path to the recipe YAML")
    run.add_argument("--out", help="output directory (default: runs/<recipe name>)")
    run.add_argument("--workers", type=int, default=2,
                     help="worker processes for the local executor; CPUs of a local Ray instance")
    run.add_argument("--executor", default="local", choices=["local", "inprocess", "ray"],
                     help="local: a process pool; inprocess: one process (debugging); ray: Ray tasks")
    run.add_argument("--address", help="with --executor ray: an existing Ray cluster (e.g. ray://host:10001 "
                                       "or host:6379); without it a local Ray instance is started")
    run.add_argument("--no-report", action="store_true", help="skip report.html")
    run.set_defaults(func=_cmd_run)

    data = sub.add_parser("data", help="data tools").add_subparsers(dest="data_command", required=True)
    flt = data.add_parser("filter", help="run the quality filter alone: one row per file with its verdict")
    flt.add_argument("path", help="a folder of source files, or a Parquet/JSONL dataset")
    flt.add_argument("--out", required=True, help="output directory")
    flt.add_argument("--format", default="parquet", choices=["parquet", "jsonl"])
    flt.add_argument("--seed", type=int, default=0)
    flt.add_argument("--workers", type=int, default=1)
    flt.add_argument("--compat", default="fixed", choices=["fixed", "reference"],
                     help="reference: the reference's verdicts, faults included; fixed: its faults repaired (docs/filter.md)")
    flt.set_defaults(func=_cmd_data_filter)

    ddp = data.add_parser("dedup", help="fuzzy (MinHash-LSH) dedup of a dataset the pipeline wrote")
    ddp.add_argument("path", help="a dataset/ folder or file: Parquet, JSONL (plain, .gz, .zst)")
    ddp.add_argument("--out", required=True, help="output directory (a run directory)")
    ddp.add_argument("--preset", choices=["opencoder", "datatrove", "bigcode"])
    ddp.add_argument("--threshold", type=float, help="target Jaccard; chooses bands x rows")
    ddp.add_argument("--num-perm", type=int, dest="num_perm")
    ddp.add_argument("--bands", type=int)
    ddp.add_argument("--rows", type=int)
    ddp.add_argument("--no-verify", action="store_true", help="skip exact-Jaccard verification of candidates")
    ddp.add_argument("--workers", type=int, default=2)
    ddp.set_defaults(func=_cmd_data_dedup)

    from opencook.cli.recall import add_parser as add_recall_parser

    add_recall_parser(data)
    from opencook.cli.evals import add_parser as add_eval_parser
    from opencook.cli.lm import add_parser as add_lm_parser
    from opencook.cli.synth import add_parser as add_synth_parser
    from opencook.cli.xc import add_parser as add_xc_parser

    add_lm_parser(sub)
    add_xc_parser(sub)
    add_eval_parser(sub)
    add_synth_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from opencook.kit.config import ConfigError

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as exc:
        print(f"opencook: config error: {exc}", file=sys.stderr)
        return 2
    except (FileNotFoundError, PermissionError) as exc:
        print(f"opencook: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # a named, user-facing error from a stage; anything else keeps its traceback
        if type(exc).__name__.endswith("Error") and type(exc).__module__.startswith("opencook"):
            print(f"opencook: {exc}", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())
