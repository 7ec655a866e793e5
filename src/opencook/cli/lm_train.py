"""``opencook lm pretrain|anneal|sft CONFIG`` and ``opencook lm plan CONFIG``: one trainer, three phases,
locally or under torchrun. Every config error is found here, in the launcher, before any rank starts."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from opencook.cli.flags import add_common, add_out, add_set, existing, positive, positive_float
from opencook.kit.config import blame_overrides, parse_set_pairs
from opencook.kit.torchrun import relaunch_under_torchrun


def _relaunch(args: argparse.Namespace, out: Path) -> int:
    flags = [*(["--reset-data-position"] if args.reset_data_position else []),
             *(["--until-step", str(args.until_step)] if args.until_step else [])]
    return relaunch_under_torchrun(args.nproc, ["lm", args.phase, args.config, "--out", str(out), *flags], args.set)


def _load(args: argparse.Namespace, phase: str):
    """The typed config; an error that only a ``--set`` causes names that override, not the recipe."""
    from opencook.lm.train.config import load_lm_config

    path = Path(args.config)
    return blame_overrides(lambda o: load_lm_config(path, phase, o), parse_set_pairs(args.set), str(path))


def _world(args: argparse.Namespace) -> int:
    return int(os.environ.get("WORLD_SIZE", args.nproc))


def cmd_train(args: argparse.Namespace) -> int:
    from opencook.lm.train.preflight import dry_run_text, preflight

    cfg = _load(args, args.phase)  # a typo fails here, once
    out = Path(args.out or f"runs/{cfg.name}")
    if args.dry_run:
        print(dry_run_text(cfg, out, args.nproc, args.gpu_memory))
        return 0
    preflight(cfg, out, _world(args))
    if args.nproc > 1 and "WORLD_SIZE" not in os.environ:
        return _relaunch(args, out)
    from opencook.cli.lm_train_evals import training_evaluators
    from opencook.lm.train.trainer import LMTrainer

    summary = LMTrainer(
        cfg, out, reset_data_position=args.reset_data_position, until_step=args.until_step,
        evaluators=training_evaluators(cfg, out),
    ).train()
    if int(os.environ.get("RANK", "0")) == 0:
        done = "finished" if summary["finished"] else "stopped at"
        state = f"{done} step {summary['steps']}"
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


def _guess_phase(path: Path) -> str:
    """The recipe's ``phase``, else sft for SFT data, anneal for a run that starts from another, else pretrain."""
    from opencook.kit.config import read_yaml_config

    values = read_yaml_config(path)
    if "phase" in values:
        return values["phase"]
    if (values.get("data") or {}).get("sft"):
        return "sft"
    return "anneal" if values.get("init_from") else "pretrain"


def cmd_plan(args: argparse.Namespace) -> int:
    from opencook.kit.config import ConfigError
    from opencook.lm.train.preflight import data_paths, model_for_plan, plan_text, read_data_meta

    phase = args.phase or _guess_phase(Path(args.config))
    cfg = _load(args, phase)
    vocabs = []
    for p in data_paths(cfg):
        try:
            vocabs.append(int(read_data_meta(p)["vocab_size"]))
        except ConfigError:
            pass  # planning needs no data: the preset's vocabulary stands in
    mcfg = model_for_plan(cfg, max(vocabs) if vocabs else None)
    print(plan_text(cfg, mcfg, args.gpus, args.gpu_memory))
    return 0


def add_parser(lm_sub) -> None:
    for phase, text in (
        ("pretrain", "pretrain from scratch (WSD: warmup, then constant LR)"),
        ("anneal", "anneal a pretraining checkpoint on a new mixture (exponential LR decay)"),
        ("sft", "supervised fine-tuning on ChatML examples (loss on answers only)"),
    ):
        p = lm_sub.add_parser(phase, help=text)
        p.add_argument("config", type=existing, help="training recipe (YAML)")
        add_out(p, "runs/<recipe name>", "run directory; a rerun resumes its newest checkpoint")
        p.add_argument("--nproc", type=positive, default=1, help="start this many local ranks via torchrun")
        add_set(p)
        p.add_argument(
            "--reset-data-position",
            action="store_true",
            help="resume model and optimizer but restart the data when the data layout changed",
        )
        p.add_argument(
            "--until-step",
            type=positive,
            default=None,
            help="stop (with a checkpoint) after this step; a rerun continues the same schedule (default: the "
                 "recipe's last step)",
        )
        p.add_argument("--dry-run", action="store_true",
                       help="print the resolved config, data sizes, steps, tokens and memory plan; train nothing")
        p.add_argument("--gpu-memory", type=positive_float, default=None, metavar="GIB",
                       help="with --dry-run: say whether the plan fits in this much memory per device (default: "
                            "no fit check)")
        add_common(p)
        p.set_defaults(func=cmd_train, phase=phase)

    plan = lm_sub.add_parser("plan", help="memory per device of a training config, with and without checkpointing")
    plan.add_argument("config", type=existing, help="training recipe (YAML)")
    plan.add_argument("--gpus", type=positive, default=1, help="number of ranks (devices)")
    plan.add_argument("--gpu-memory", type=positive_float, default=80.0, metavar="GIB", help="memory per device")
    plan.add_argument("--phase", choices=("pretrain", "anneal", "sft"), default=None,
                      help="the phase (default: the recipe's own)")
    add_set(plan)
    add_common(plan)
    plan.set_defaults(func=cmd_plan)
