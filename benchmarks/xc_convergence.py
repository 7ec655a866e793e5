"""Fast convergence: steps to a target top-1 with LARS/LAMB + warm-up + plateau rule vs a fixed baseline schedule.

    .venv/bin/python benchmarks/xc_convergence.py recipes/xc/synthetic.yaml

Every arm trains the same recipe (shrunk by the defaults below, or ``--set``) at the same large
batch, same data, seed and head learning rate, evaluating top-1 over all classes every
``--eval-every`` steps; "steps to target" is the first eval at or above ``--target``. Arms:

- ``sgd``: the baseline -- momentum SGD, LR scaled linearly with the batch, the recipe's warm-up, constant after.
- ``lars``: LARS on the backbone (head: the same row-sparse SGD) + warm-up + decay on plateau.
- ``adamw``: AdamW on both, warm-up, constant -- the baseline for ``lamb``, whose head is AdamW too.
- ``lamb``: LAMB on the backbone (head: row-sparse AdamW) + warm-up + decay on plateau.
- ``sgd_x4``/``lars_x4``: the backbone step of ``sgd``/``lars`` times 4 (LR 0.32; eta 0.8), head unchanged.

Runs in-process, one thread. Writes ``benchmarks/results/<name>.{json,md}``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import torch
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).parent))
from _machine import command_line, git_commit, machine_info, write_results  # noqa: E402
from opencook.kit.config import to_plain  # noqa: E402
from opencook.xc.train.config import load_train_config  # noqa: E402
from opencook.xc.train.trainer import Trainer  # noqa: E402

SHRINK = {"data.num_classes": 2000, "data.eval_size": 2000, "data.noise": 1.0, "head.mode": "full",
          "head.active_budget": None, "global_batch": 4096, "steps": 60, "eval_batch": 2000, "log_every": 5,
          "checkpoint_every": 0, "threads": 1}
PLATEAU = {"optim.plateau.enabled": True, "optim.plateau.patience": 2, "optim.plateau.factor": 0.5}
HEAD_LR = 0.08  # the recipe's 0.01 at batch 512, scaled linearly to 4096; the same head LR in every arm
ARMS = {
    "sgd": {"optim.name": "sgd", "optim.lr": HEAD_LR},
    "lars": {"optim.name": "lars", "optim.lr": 0.2, "optim.trust_coefficient": 0.2, **PLATEAU},
    "adamw": {"optim.name": "adamw", "optim.lr": 0.01},
    "lamb": {"optim.name": "lamb", "optim.lr": 0.01, **PLATEAU},
    # the same two backbone schedules with 4x the step: how much LR mis-tuning each tolerates at this batch
    "sgd_x4": {"optim.name": "sgd", "optim.lr": 4 * HEAD_LR},
    "lars_x4": {"optim.name": "lars", "optim.lr": 0.2, "optim.trust_coefficient": 0.8, **PLATEAU},
}


def _value(text: str):
    return yaml.safe_load(text)


def run_arm(recipe: Path, overrides: dict, out: Path) -> dict:
    cfg = load_train_config(recipe, overrides)
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        summary = Trainer(cfg, out).train()
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines() if line.strip()]
    return {"optim": to_plain(cfg.optim),
            "evals": [(r["step"], r["top1"]) for r in records if r["kind"] == "eval"],
            "lr_decays": [(r["step"], r["lr"]) for r in records if r["kind"] == "lr_decay"],
            "final_top1": summary["top1"], "wall_s": time.perf_counter() - t0}


def steps_to(evals: list[tuple[int, float]], target: float) -> int | None:
    return next((step for step, top1 in evals if top1 >= target), None)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("recipe", type=Path)
    p.add_argument("--arms", default=",".join(ARMS))
    p.add_argument("--target", type=float, default=0.90, help="top-1 over all classes")
    p.add_argument("--eval-every", type=int, default=5)
    p.add_argument("--set", action="append", default=[], help="extra KEY=VALUE overrides for every arm")
    p.add_argument("--name", default="xc_convergence")
    args = p.parse_args()
    torch.set_num_threads(1)
    common = {**SHRINK, "eval_every": args.eval_every, "optim.head_lr": HEAD_LR}
    for item in args.set:
        key, _, value = item.partition("=")
        common[key] = _value(value)
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for arm in args.arms.split(","):
            rows[arm] = run_arm(args.recipe, {**common, **ARMS[arm]}, Path(tmp) / arm)
            rows[arm]["steps_to_target"] = steps_to(rows[arm]["evals"], args.target)
            print(f"{arm}: steps to {args.target:.0%} = {rows[arm]['steps_to_target']}, final top-1 "
                  f"{rows[arm]['final_top1']:.3f} ({rows[arm]['wall_s']:.0f} s)", flush=True)
    commit, dirty = git_commit(ROOT, "src")
    result = {"benchmark": "xc fast convergence: steps to target top-1", "machine": machine_info(),
              "load_avg": os.getloadavg(), "commit": commit, "dirty": dirty, "command": command_line("xc_convergence.py"),
              "recipe": str(args.recipe), "overrides": common, "target": args.target, "arms": rows}
    md = _markdown(result, args)
    print(md)
    write_results(ROOT / "benchmarks" / "results", args.name, result, md)


def _markdown(result: dict, args: argparse.Namespace) -> str:
    rows, common = result["arms"], result["overrides"]
    lines = [f"# xc fast convergence: steps to {args.target:.0%} top-1 (all classes)", "",
             f"`{result['command']}` at commit {result['commit']}; one process, one thread; "
             f"{result['machine']['cpu']}. {args.recipe.name} shrunk to {common['data.num_classes']:,} classes, "
             f"noise {common['data.noise']}, batch {common['global_batch']:,}, {common['steps']} steps, eval every "
             f"{common['eval_every']} steps on {common['data.eval_size']:,} held-out samples; head LR {HEAD_LR} "
             "in every arm.", "",
             "| arm | backbone optimizer | steps to target | vs its baseline | final top-1 | LR decays (step) | wall |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    baseline = {"sgd": "sgd", "lars": "sgd", "adamw": "adamw", "lamb": "adamw", "sgd_x4": "sgd_x4",
                "lars_x4": "sgd_x4"}
    for arm, r in rows.items():
        o = r["optim"]
        desc = f"{o['name']} lr {o['lr']}" + (f", eta {o['trust_coefficient']}" if o["trust_coefficient"] else "")
        desc += f", warm-up {o['warmup_steps']}" + (", plateau" if o["plateau"]["enabled"] else "")
        base = rows.get(baseline[arm])
        vs = "—"
        if base is not None and arm != baseline[arm] and r["steps_to_target"] and base["steps_to_target"]:
            saved = 1 - r["steps_to_target"] / base["steps_to_target"]
            vs = f"{100 * abs(saved):.0f}% {'fewer' if saved >= 0 else 'more'} steps than {baseline[arm]}"
        reached = r["steps_to_target"] if r["steps_to_target"] is not None else f"not in {common['steps']}"
        decays = ", ".join(str(s) for s, _ in r["lr_decays"]) or "none"
        lines.append(f"| {arm} | {desc} | {reached} | {vs} | {100 * r['final_top1']:.1f}% | {decays} | "
                     f"{r['wall_s']:.0f} s |")
    steps = sorted({s for r in rows.values() for s, _ in r["evals"]})
    lines += ["", "Top-1 during training:", "", "| arm | " + " | ".join(str(s) for s in steps) + " |",
              "| --- |" + " --- |" * len(steps)]
    for arm, r in rows.items():
        by = dict(r["evals"])
        lines.append(f"| {arm} | " + " | ".join(f"{100 * by[s]:.1f}" if s in by else "—" for s in steps) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
