"""B4: top-1 over all C classes after the same number of steps -- full vs KNN vs random softmax.

    .venv/bin/python benchmarks/xc_accuracy.py recipes/xc/synthetic.yaml
    .venv/bin/python benchmarks/xc_accuracy.py recipes/xc/funcnames.yaml --name xc_accuracy_funcnames

Each mode trains the same recipe (same data, backbone, optimizer, seed, steps) under ``opencook xc
train --nproc N``; ``knn`` and ``random`` get the same active budget (the recipe's, or ``--budget``).
Accuracy is the trainer's final evaluation: the full normaliser over every class on the held-out set.
Goal from the issue: KNN within 0.5 point of full, and above random at equal budget.

Writes ``benchmarks/results/<name>.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).parent))
from _machine import command_line, git_commit, machine_info, write_results  # noqa: E402
from xc.runs import metrics, train  # noqa: E402


def train_and_summarise(recipe: Path, out: Path, nproc: int, sets: list[str]) -> dict:
    train(recipe, out, nproc, sets)
    summary = json.loads((out / "summary.json").read_text())
    records = metrics(out)
    train_rows = [m for m in records if m["kind"] == "train"]
    summary["samples_per_s"] = sum(m["samples_per_s"] for m in train_rows) / max(len(train_rows), 1)
    summary["active_classes"] = train_rows[-1]["active_classes"] if train_rows else None
    summary["evals"] = [(m["step"], m["top1"]) for m in records if m["kind"] == "eval"]
    return summary


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("recipe", type=Path)
    p.add_argument("--modes", default="full,knn,random")
    p.add_argument("--budget", type=int, help="active classes for knn and random (default: the recipe's)")
    p.add_argument("--steps", type=int, help="override the recipe's steps")
    p.add_argument("--nproc", type=int, default=2)
    p.add_argument("--set", action="append", default=[], help="extra config overrides for every mode")
    p.add_argument("--name", default="xc_accuracy")
    p.add_argument("--keep", type=Path, help="keep the run directories here")
    args = p.parse_args()
    recipe = yaml.safe_load(args.recipe.read_text())
    budget = args.budget or recipe.get("head", {}).get("active_budget")
    common = list(args.set) + ([f"steps={args.steps}"] if args.steps else [])
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        base = args.keep or Path(tmp)
        for mode in args.modes.split(","):
            sets = common + [f"head.mode={mode}"]
            sets += [f"head.active_budget={budget if mode != 'full' else 'null'}"]
            rows[mode] = train_and_summarise(args.recipe, base / mode, args.nproc, sets)
            print(f"{mode}: top-1 {100 * rows[mode]['top1']:.2f}%  top-5 {100 * rows[mode]['top5']:.2f}%  "
                  f"({rows[mode]['wall_s']:.0f} s)", flush=True)
    full = rows.get("full")
    commit, dirty = git_commit(ROOT, "src")
    result = {"benchmark": "B4 full-normaliser accuracy", "machine": machine_info(), "load_avg": os.getloadavg(),
              "commit": commit, "dirty": dirty, "command": command_line("xc_accuracy.py"), "recipe": recipe,
              "budget": budget, "nproc": args.nproc, "overrides": common, "modes": rows}
    steps = args.steps or recipe.get("steps")
    lines = [f"# B4: top-1 over all classes after {steps} steps — {args.recipe.name}", "",
             f"`{result['command']}` at commit {commit}; {args.nproc} ranks; {result['machine']['cpu']}; "
             f"active budget {budget:,} for knn and random.", "",
             "| mode | classes | active classes | top-1 | top-5 | top-1 vs full | samples/s | wall |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for mode, r in rows.items():
        delta = f"{100 * (r['top1'] - full['top1']):+.2f} pt" if full else "—"
        lines.append(f"| {mode} | {r['num_classes']:,} | {r['active_classes']:,} | {100 * r['top1']:.2f}% | "
                     f"{100 * r['top5']:.2f}% | {delta} | {r['samples_per_s']:.0f} | {r['wall_s']:.0f} s |")
    steps_seen = sorted({s for r in rows.values() for s, _ in r["evals"]})
    if len(steps_seen) > 1:
        lines += ["", "Top-1 (all classes) during training:", "",
                  "| mode | " + " | ".join(f"step {s}" for s in steps_seen) + " |",
                  "| --- | " + " | ".join("---" for _ in steps_seen) + " |"]
        for mode, r in rows.items():
            by_step = dict(r["evals"])
            lines.append(f"| {mode} | " + " | ".join(f"{100 * by_step[s]:.2f}%" if s in by_step else "—"
                                                    for s in steps_seen) + " |")
    md = "\n".join(lines) + "\n"
    print(md)
    write_results(ROOT / "benchmarks" / "results", args.name, result, md)


if __name__ == "__main__":
    main()
