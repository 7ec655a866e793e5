"""``opencook xc ...``: train a class-sharded classifier, locally or under torchrun."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import yaml


def _overrides(pairs: list[str]) -> dict:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"opencook: --set expects KEY=VALUE, got {pair!r}")
        out[key] = yaml.safe_load(value)
    return out


def _relaunch_under_torchrun(args: argparse.Namespace, out: Path) -> int:
    """``--nproc N`` outside torchrun: start N local ranks of this same command (a convenience;
    on a cluster, call ``torchrun --nnodes ... -m opencook xc train`` directly)."""
    cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc-per-node={args.nproc}",
           "--standalone", "-m", "opencook", "xc", "train",
           args.config, "--out", str(out)]
    for pair in args.set or []:
        cmd += ["--set", pair]
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    return subprocess.run(cmd, env=env).returncode


def cmd_train(args: argparse.Namespace) -> int:
    from opencook.xc.train_config import load_train_config

    cfg = load_train_config(Path(args.config), _overrides(args.set or []))  # a typo fails here, once
    out = Path(args.out or f"runs/{cfg.name}")
    if args.nproc > 1 and "WORLD_SIZE" not in os.environ:
        return _relaunch_under_torchrun(args, out)
    from opencook.xc.trainer import Trainer

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
    from opencook.xc.plan import add_plan_parser

    add_plan_parser(xc)
