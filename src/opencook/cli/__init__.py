"""The single ``opencook`` command; subcommands map onto capabilities."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from opencook.cli.errors import run_argv
from opencook.cli.flags import (
    Parser,
    add_common,
    add_out,
    add_set,
    add_workers,
    dataset_input,
    existing,
    input_name,
    out_dir,
    positive,
)
from opencook.cli.remote_out import local_out, shown
from opencook.kit.config import ConfigError


def _run_pipeline(recipe, out: Path, executor_name: str, workers: int, address: str | None = None) -> list:
    """Run a recipe, then release the executor's workers (or the Ray instance it started)."""
    from opencook.data.runner import PipelineRunner
    from opencook.kit.executors import make_executor

    with make_executor(executor_name, workers, address=address) as executor:
        return PipelineRunner(recipe, out, executor).run()


def _cmd_run(args: argparse.Namespace) -> int:
    from opencook.data.recipe import PATH_KEYS, parse_recipe
    from opencook.kit.config import blame_overrides, parse_set_pairs, read_yaml_config

    if args.address and args.executor != "ray":
        raise ConfigError("--address is for --executor ray: add --executor ray, or drop --address")
    path = Path(args.recipe)  # relative paths in it are relative to it; a --set path is taken as typed
    recipe = blame_overrides(lambda o: parse_recipe(read_yaml_config(path, o, PATH_KEYS), str(path)),
                             parse_set_pairs(args.set), str(path))
    out = args.out or f"runs/{recipe.name}"  # a folder, or an fsspec URL (s3://bucket/run): docs/run_directory.md
    results = _run_pipeline(recipe, out, args.executor, args.workers, address=args.address)
    report = None
    if not args.no_report:
        from opencook.data.report import write_data_report
        from opencook.data.runner import local_dir, publish

        report = write_data_report(local_dir(out))  # a remote run's report is rendered in its local copy
        publish(out, report)
    first, last = results[0].stats, results[-1].stats
    print(f"run '{recipe.name}' finished in {sum(r.seconds for r in results):.1f} s")
    for r in results:
        c = r.stats.counters
        skipped = f" ({r.skipped} shard(s) already done)" if r.skipped else ""
        print(f"  {r.index:02d} {r.name:<12} in={c.get('in', 0):>8} out={c.get('out', 0):>8}{skipped}")
    kept_bytes = sum(v.get("bytes", 0) for v in last.by_language.values())
    print(f"  files kept: {last.counters.get('out', 0)} of {first.counters.get('out', 0)} ingested; "
          f"{kept_bytes / 1e6:.1f} MB of text")
    print(f"dataset:  {shown(out, 'dataset')}")
    print(f"manifest: {shown(out, 'manifest.json')}")
    if report:
        print(f"report:   {report}")
    return 0


def _cmd_data_filter(args: argparse.Namespace) -> int:
    from opencook.data.filter.filter_path import filter_path

    out = out_dir(args, "data", "filter", input_name(args.path))
    with local_out(out) as folder:  # a remote --out: its local copy, uploaded after
        result = filter_path(args.path, folder, fmt=args.format, seed=args.seed, workers=args.workers,
                             compat=args.compat)
    print(f"filter results: {shown(out, result.name)}")
    return 0


def _dedup_inputs(path: str) -> list[str]:
    """The files of a dataset folder (e.g. a run's ``dataset/``) or file, any ``kit.io.Dataset`` format."""
    from opencook.kit.io import Dataset

    return [str(p) for p in Dataset(path).files()]


def _cmd_data_dedup(args: argparse.Namespace) -> int:
    from opencook.data.recipe import parse_recipe

    fuzzy = {k: v for k, v in (("preset", args.preset), ("threshold", args.threshold),
                                ("num_perm", args.num_perm), ("bands", args.bands), ("rows", args.rows),
                                ("backend", args.backend))
             if v is not None}
    if args.no_verify:
        fuzzy["verify"] = False
    out = str(out_dir(args, "data", "dedup", input_name(args.path)))  # a folder or a URL (the runner's)
    recipe = parse_recipe({"name": "dedup", "seed": 0, "stages": [
        {"ingest": {"paths": _dedup_inputs(args.path), "max_file_bytes": 1 << 62}},
        {"fuzzy_dedup": fuzzy},
        {"write": {}},
    ]})  # settings are checked here, before any work: a bad one is a ConfigError (exit 2)
    config = recipe.stages[1][1]
    results = _run_pipeline(recipe, out, "local", args.workers)
    stats = {r.name: r for r in results}["fuzzy_dedup"].stats.counters
    print(f"fuzzy dedup: {config.ngram}-grams, {config.num_perm} permutations ({config.backend}), {config.bands} bands x "
          f"{config.rows} rows; implied threshold {config.implied_threshold:.3f}; "
          + (f"verified at Jaccard >= {config.jaccard_threshold:.3f}" if config.verify else "no verification"))
    print(f"  files: {stats.get('in', 0)} in, {stats.get('out', 0)} kept, "
          f"{stats.get('fuzzy_files_removed', 0)} removed in {stats.get('fuzzy_clusters', 0)} cluster(s)")
    print(f"dataset:       {shown(out, 'dataset')}")
    print(f"removed files: {shown(out, 'stages', '01_fuzzy_dedup', 'decision.parquet')}")
    return 0


class _Version(argparse._VersionAction):
    """``--version``: the installed version, looked up only when asked (importlib.metadata costs start-up)."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            self.version = f"opencook {version('opencook')}"
        except PackageNotFoundError:
            self.version = "opencook unknown (not installed)"
        super().__call__(parser, namespace, values, option_string)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="opencook", description=__doc__)
    parser.add_argument("--version", action=_Version)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run a data recipe (YAML) into an output directory")
    run.add_argument("recipe", type=existing, help="path to the recipe YAML")
    add_out(run, "runs/<recipe name>", "run directory; a rerun skips finished shards")
    add_set(run)
    add_workers(run, "worker processes for the local executor; CPUs of a local Ray instance")
    run.add_argument("--executor", default="local", choices=["local", "inprocess", "ray"],
                     help="local: a process pool; inprocess: one process (debugging); ray: Ray tasks")
    run.add_argument("--address", help="with --executor ray: an existing Ray cluster (e.g. ray://host:10001 "
                                       "or host:6379); default: start a local Ray instance")
    run.add_argument("--no-report", action="store_true", help="skip report.html")
    add_common(run)
    run.set_defaults(func=_cmd_run, remote_out=True)

    data = sub.add_parser("data", help="data tools").add_subparsers(dest="data_command", required=True)
    flt = data.add_parser("filter", help="run the quality filter alone: one row per file with its verdict")
    flt.add_argument("path", type=dataset_input, help="a folder of source files, or a Parquet/JSONL dataset "
                                                      "(a local path or an fsspec URL: s3://bucket/dataset)")
    add_out(flt, "runs/data/filter-<input name>")
    flt.add_argument("--format", default="parquet", choices=["parquet", "jsonl"], help="output format")
    flt.add_argument("--seed", type=int, default=0, help="seed of the rules that sample")
    add_workers(flt, "worker processes")
    flt.add_argument("--compat", default="fixed", choices=["fixed", "reference"],
                     help="reference: the reference's verdicts, faults included; fixed: its faults repaired (docs/filter.md)")
    add_common(flt)
    flt.set_defaults(func=_cmd_data_filter, remote_out=True)

    ddp = data.add_parser("dedup", help="fuzzy (MinHash-LSH) dedup of a dataset the pipeline wrote")
    ddp.add_argument("path", type=dataset_input,
                     help="a dataset/ folder or file: Parquet, JSONL (plain, .gz, .zst); local or an fsspec URL")
    add_out(ddp, "runs/data/dedup-<input name>", "output directory (a run directory)")
    ddp.add_argument("--preset", choices=["opencoder", "datatrove", "bigcode"],
                     help="a published setting (default: the fuzzy_dedup stage's defaults, docs/dedup.md)")
    ddp.add_argument("--threshold", type=float, help="target Jaccard; chooses bands x rows (default: the preset's)")
    ddp.add_argument("--num-perm", type=positive, dest="num_perm", help="MinHash permutations (default: the preset's)")
    ddp.add_argument("--bands", type=positive, help="LSH bands (default: the preset's)")
    ddp.add_argument("--rows", type=positive, help="rows per band (default: the preset's)")
    ddp.add_argument("--backend", choices=["numpy", "rensa"],
                     help="who computes the signatures: numpy, or rensa's Rust MinHash (faster at 2048 permutations, "
                          "docs/dedup.md) (default: numpy)")
    ddp.add_argument("--no-verify", action="store_true", help="skip exact-Jaccard verification of candidates")
    add_workers(ddp, "worker processes")
    add_common(ddp)
    ddp.set_defaults(func=_cmd_data_dedup, remote_out=True)

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
    """Parse ``argv`` and run the verb; a user error (bad path, bad value, missing tool) is exit 2 with one
    line naming the input and the fix, never a traceback (``cli/errors.py``)."""
    return run_argv(build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
