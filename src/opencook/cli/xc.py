"""``opencook xc ...``: train a class-sharded classifier, locally or under torchrun."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from opencook.kit.config import parse_set_pairs
from opencook.kit.torchrun import relaunch_under_torchrun


def cmd_train(args: argparse.Namespace) -> int:
    from opencook.xc.train.config import load_train_config
    from opencook.xc.train.preflight import check_before_launch

    cfg = load_train_config(Path(args.config), parse_set_pairs(args.set))  # a typo fails here, once
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
    train.add_argument("config", help="training config (YAML)")
    train.add_argument("--out", help="run directory (default runs/<name>); a rerun resumes its newest checkpoint")
    train.add_argument("--nproc", type=int, default=1, help="start this many local ranks via torchrun")
    train.add_argument("--set", action="append", metavar="KEY=VALUE",
                       help="override a config value by dotted key, e.g. --set head.mode=full")
    train.set_defaults(func=cmd_train)
    from opencook.xc.plan.printout import add_plan_parser

    add_plan_parser(xc)
