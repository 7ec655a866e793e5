"""``opencook data recall CONFIG.yaml --out DIR``: run the recall loop from a YAML file of ``RecallConfig`` keys.

Wire it with ``add_parser(data_sub)`` on the ``opencook data`` subparsers; ``python -m
opencook.cli.recall`` runs it standalone.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from opencook.cli.flags import add_common, add_out, add_set, add_workers, existing, positive
from opencook.cli.remote_out import local_out, shown


def load_recall_config(path: str | Path, sets: dict | None = None, **overrides):
    """A ``RecallConfig`` from YAML, type-checked (typos get a hint); ``sets`` are ``--set`` overrides,
    ``None`` keyword overrides are ignored. Relative paths in the file are taken relative to the file's folder
    (a path given with ``--set`` is taken as typed, relative to the working directory; a URL as is)."""
    from opencook.data.recall.loop import RecallConfig
    from opencook.kit.config import ConfigError, build_config, set_override
    from opencook.kit.io import remote

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except OSError as exc:
        raise ConfigError(f"cannot read recall config {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a recall config is a mapping of RecallConfig keys (corpus, seeds, ...)")
    data.update({k: v for k, v in overrides.items() if v is not None})

    def beside(p: str) -> str:  # a URL (s3://...) is taken as is
        return p if remote.is_remote(p) else str(path.parent / p)

    for key in ("corpus", "seeds", "negatives"):
        if key in data:
            items = [data[key]] if isinstance(data[key], str) else data[key]
            data[key] = [beside(p) for p in items]
    for key in ("tokenizer", "out", "heldout"):
        if isinstance(data.get(key), str):
            data[key] = beside(data[key])
    for dotted, value in (sets or {}).items():
        set_override(data, dotted, value)
    try:
        return build_config(RecallConfig, data, str(path))
    except ValueError as exc:
        raise ConfigError(f"{path}: {exc}") from exc


def _run(args: argparse.Namespace) -> int:
    from opencook.data.recall.loop import run_recall
    from opencook.kit.config import blame_overrides, parse_set_pairs

    overrides = parse_set_pairs(args.set)
    config = blame_overrides(lambda o: load_recall_config(args.config, o, rounds=args.rounds,
                                                          threshold=args.threshold),
                             overrides, str(args.config))
    out = args.out
    if out is None and config.out is not None:
        print(f"opencook data recall: the config key 'out' is deprecated and will be removed; "
              f"pass --out {config.out} instead", file=sys.stderr)
        out = config.out
    if out is None:
        out = f"runs/{Path(args.config).stem}"
    from opencook.kit.executors import make_executor

    with make_executor("local" if args.workers > 1 else "inprocess", args.workers) as executor, \
            local_out(out) as folder:  # a remote --out: its local copy, uploaded after
        result = run_recall(config, out=folder, executor=executor, progress=not args.quiet)
    print(f"recalled {len(result.recalled_ids)} pages ({len(result.added_ids)} by URL pattern) -> "
          f"{shown(out, 'dataset')}; report: {shown(out, 'report.html')}")
    return 0


def add_parser(data_sub) -> None:
    p = data_sub.add_parser("recall", help="code-related web text recall: fastText + domains + URL patterns, N rounds")
    p.add_argument("config", type=existing, help="YAML file of RecallConfig keys (corpus, seeds, tokenizer, ...); "
                                                 "relative paths in it are relative to the file")
    add_out(p, "runs/<config file name>; replaces the deprecated config key 'out'")
    add_set(p)
    p.add_argument("--rounds", type=positive, help="number of rounds (default: the config's, else 3)")
    add_workers(p, "processes that score the corpus each round")
    p.add_argument("--threshold", type=float, help="P(code) at or above which a page is recalled "
                                                   "(default: the config's, else 0.5)")
    add_common(p)
    p.set_defaults(func=_run, remote_out=True)


def main(argv: list[str] | None = None) -> int:
    """``opencook data recall ARGV`` with the same flags and error policy (exit 2, one line)."""
    from opencook.cli.errors import run_argv
    from opencook.cli.flags import Parser

    parser = Parser(prog="opencook data")
    add_parser(parser.add_subparsers(dest="data_command", required=True))
    return run_argv(parser, ["recall", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
