"""``opencook xc ...``: train a class-sharded classifier, locally or under torchrun."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from opencook.cli.flags import add_common, add_out, add_set, existing
from opencook.kit.config import blame_overrides, parse_set_pairs
from opencook.kit.torchrun import relaunch_under_torchrun


def cmd_train(args: argparse.Namespace) -> int:
    overrides = parse_set_pairs(args.set)  # a malformed --set fails before torch is imported
    from opencook.xc.train.config import load_train_config
    from opencook.xc.train.preflight import check_before_launch

    path = Path(args.config)  # a typo fails here, once; one only a --set causes names that override
    cfg = blame_overrides(lambda o: load_train_config(path, o), overrides, str(path))
    out = Path(args.out or f"runs/{cfg.name}")
    launched = "WORLD_SIZE" in os.environ
    check_before_launch(cfg, int(os.environ["WORLD_SIZE"]) if launched else args.nproc, out)  # before any rank
    if args.nproc > 1 and not launched:
        return relaunch_under_torchrun(args.nproc, ["xc", "train", args.config, "--out", str(out)], args.set)
    from opencook.xc.train.trainer import Trainer

    summary = Trainer(cfg, out).train()
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"xc run '{cfg.name}': {summary['steps']} steps on {summary['world_size']} rank(s), "
              f"mode {summary['mode']}, {summary['num_classes']} classes")
        print(f"  top-1 {100 * summary['top1']:.2f}%  top-5 {100 * summary['top5']:.2f}% (all classes)  "
              f"wall {summary['wall_s']:.1f} s")
        print(f"run directory: {out}")
        if "report" in summary:
            print(f"report:        {summary['report']}")
    return 0


def add_parser(sub) -> None:
    xc = sub.add_parser("xc", help="extreme classification").add_subparsers(dest="xc_command", required=True)
    train = xc.add_parser("train", help="train a backbone + class-sharded head (run under torchrun for N ranks)")
    train.add_argument("config", type=existing, help="training config (YAML)")
    add_out(train, "runs/<recipe name>", "run directory; a rerun resumes its newest checkpoint")
    train.add_argument("--nproc", type=int, default=1, help="start this many local ranks via torchrun (checked with the config)")
    add_set(train)
    add_common(train)
    train.set_defaults(func=cmd_train)
    from opencook.xc.plan.printout import add_plan_parser

    add_plan_parser(xc)
    add_common(xc.choices["plan"])
