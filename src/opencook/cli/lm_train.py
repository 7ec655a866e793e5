"""``opencook lm pretrain|anneal|sft CONFIG``: one trainer, three phases, locally or under torchrun."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from opencook.kit.config import parse_set_pairs
from opencook.kit.torchrun import relaunch_under_torchrun


def _relaunch(args: argparse.Namespace, out: Path) -> int:
    flags = [*(["--reset-data-position"] if args.reset_data_position else []),
             *(["--until-step", str(args.until_step)] if args.until_step else [])]
    return relaunch_under_torchrun(args.nproc, ["lm", args.phase, args.config, "--out", str(out), *flags], args.set)


def cmd_train(args: argparse.Namespace) -> int:
    from opencook.lm.train.config import load_lm_config

    cfg = load_lm_config(Path(args.config), args.phase, parse_set_pairs(args.set))  # a typo fails here, once
    out = Path(args.out or f"runs/{cfg.name}")
    if args.nproc > 1 and "WORLD_SIZE" not in os.environ:
        return _relaunch(args, out)
    from opencook.lm.train.trainer import LMTrainer

    summary = LMTrainer(
        cfg, out, reset_data_position=args.reset_data_position, until_step=args.until_step
    ).train()
    if int(os.environ.get("RANK", "0")) == 0:
        state = "finished" if summary["finished"] else f"stopped at step {summary['steps']}"
        tps = summary["tokens_per_s_per_device"]
        print(
            f"lm {cfg.phase} '{cfg.name}': {state} of {summary['total_steps']} on {summary['world_size']} "
            f"rank(s) ({summary['parallel']}, grad accum {summary['grad_accum']}), {summary['params']:,} params"
        )
        print(
            f"  final loss {summary['final_loss']:.4f}, {summary['tokens_seen']:,} target tokens"
            + (f", {tps:,.0f} tokens/s per device" if tps else "")
            + f", wall {summary['wall_s']:.1f} s"
        )
        print(f"run directory: {out}")
        if "report" in summary:
            print(f"report:        {summary['report']}")
    return 0


def add_parser(lm_sub) -> None:
    for phase, text in (
        ("pretrain", "pretrain from scratch (WSD: warmup, then constant LR)"),
        ("anneal", "anneal a pretraining checkpoint on a new mixture (exponential LR decay)"),
        ("sft", "supervised fine-tuning on ChatML examples (loss on answers only)"),
    ):
        p = lm_sub.add_parser(phase, help=text)
        p.add_argument("config", help="training recipe (YAML)")
        p.add_argument(
            "--out", help="run directory (default runs/<name>); a rerun resumes its newest checkpoint"
        )
        p.add_argument("--nproc", type=int, default=1, help="start this many local ranks via torchrun")
        p.add_argument(
            "--set",
            action="append",
            metavar="KEY=VALUE",
            help="override a config value by dotted key, e.g. --set optim.lr=1e-3",
        )
        p.add_argument(
            "--reset-data-position",
            action="store_true",
            help="resume model and optimizer but restart the data when the data layout changed",
        )
        p.add_argument(
            "--until-step",
            type=int,
            default=None,
            help="stop (with a checkpoint) after this step; a rerun continues the same schedule",
        )
        p.set_defaults(func=cmd_train, phase=phase)
