"""Issue 15's ablation: every active-set selection strategy against full softmax and random sampling, one run.

    nice -n 10 .venv/bin/python benchmarks/xc_selection.py                    # all tasks, default (scaled) steps
    .venv/bin/python benchmarks/xc_selection.py --tasks synthetic --arms full,random,label --steps-scale 0.25

Tasks: ``synthetic`` (recipes/xc/b4_synthetic.yaml: 5,000 classes, budget 1,024), ``funcnames``
(recipes/xc/funcnames.yaml: 12,253 classes, budget 2,048), ``large`` (recipes/xc/synthetic.yaml: 100,000
classes at a 1% budget, 1,000) and ``other`` (a second synthetic setting -- 20,000 classes, groups of 8,
noise 0.8, data and model seed 1, budget 1,000 = 5%) to show a win is not tuned to the recipes; ``other2``
(10,000 classes, groups of 4, noise 1.2, seed 2, budget 500 = 5%; not in the default list: run it with
``--tasks other2 --name xc_selection_other2``) is a third setting.
Every arm of a task trains the same recipe (data, backbone, optimizer, seed, steps) in this process (one
rank: the active set does not depend on the world size) and is scored by the trainer's final evaluation
over all classes. Sampled arms log the coverage gauge (mass of the full softmax and top-10 recall of the
active set vs uniform classes of the same number) every quarter of the run; the table shows the last.
``gap closed`` = (arm - random) / (full - random) in top-1. Goal: within 0.5 pt of full and >= 80%.

Arms: ``*_imprint`` turn a class's W row to its first feature centre (``selection.imprint``); the
``large`` task compares against ``full_imprint`` (plain full softmax learns nothing there in the steps this
machine allows: 0.18% top-1 after 60 steps). Steps are the recipes' times ``--steps-scale`` (default per
task: 1/3 synthetic, funcnames and large, all 300 of other; large evaluates on 5,000 held-out samples) so
the whole ablation fits ~25 minutes on a shared 2-core machine; the table says so.

Writes ``benchmarks/results/xc_selection.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(ROOT / "src"))
from _machine import command_line, git_commit, machine_info, write_results  # noqa: E402

CORE = "full,random,label,feature,feature_centres,random_imprint,label_centres_imprint,feature_imprint"
TASKS = {  # recipe, changes, steps scale, budget (None: the recipe's), arms
    "synthetic": ("recipes/xc/b4_synthetic.yaml", {}, 1 / 3, None, CORE),
    "funcnames": ("recipes/xc/funcnames.yaml", {}, 1 / 3, None, CORE),
    "large": ("recipes/xc/synthetic.yaml", {"data": {"eval_size": 5000}}, 1 / 3, 1000,
              "full_imprint,random,random_imprint,label,feature,feature_imprint"),
    "other": ("recipes/xc/synthetic.yaml", {"data": {"num_classes": 20_000, "group_size": 8, "noise": 0.8, "seed": 1},
                                            "seed": 1}, 1.0, 1000, CORE),
    "other2": ("recipes/xc/synthetic.yaml", {"data": {"num_classes": 10_000, "group_size": 4, "noise": 1.2, "seed": 2},
                                             "seed": 2}, 1.0, 500, "full,random,feature,random_imprint,feature_imprint"),
}

LABEL = {"anchor": "label", "centres": "weights"}
ARMS = {  # every arm spells its strategy out: the head's defaults are the winner (feature_imprint)
    "full": {"mode": "full"},
    "random": {"mode": "random"},
    "label": {"mode": "knn", "selection": LABEL},  # the original KNN softmax: label-anchored graph over W's rows
    "label_centres_incremental": {"mode": "knn", "selection": {"anchor": "label", "centres": "features",
                                                               "upkeep": "incremental", "imprint": False}},
    "feature": {"mode": "knn", "selection": {"anchor": "feature", "centres": "weights"}},
    "feature_centres": {"mode": "knn", "selection": {"anchor": "feature", "centres": "features", "imprint": False}},
    "random_imprint": {"mode": "random", "selection": {"centres": "features", "imprint": True}},
    "label_centres_imprint": {"mode": "knn", "selection": {"anchor": "label", "centres": "features", "imprint": True}},
    "feature_imprint": {"mode": "knn", "selection": {"anchor": "feature", "centres": "features", "imprint": True}},
    "full_imprint": {"mode": "full", "selection": {"centres": "features", "imprint": True}},
}


def _merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for k, v in extra.items():
        out[k] = _merge(out.get(k, {}), v) if isinstance(v, dict) else v
    return out


def run_arm(recipe: dict, arm: str, budget: int, steps: int, out: Path) -> dict:
    from opencook.xc.train.config import parse_train_config
    from opencook.xc.train.trainer import Trainer

    base = {k: v for k, v in recipe["head"].items() if k != "selection"}  # an arm's strategy replaces the recipe's
    head = _merge(base, ARMS[arm])
    full = ARMS[arm]["mode"] == "full"
    head["active_budget"] = None if full else budget
    if not full:
        head.update({"coverage_every": max(1, steps // 4), "coverage_rows": 64})
    values = _merge({**recipe, "head": head}, {"steps": steps, "eval_every": steps, "log_every": max(1, steps // 10),
                             "checkpoint_every": 0, "threads": 1})
    cfg = parse_train_config(values, f"xc_selection.{arm}")
    summary = Trainer(cfg, out).train()
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines() if line.strip()]
    train = [r for r in records if r["kind"] == "train"]
    gauges = [r for r in records if r["kind"] == "coverage"]
    graphs = [r for r in records if r["kind"] == "graph"]
    row = {"top1": summary["top1"], "top5": summary["top5"], "wall_s": summary["wall_s"],
           "samples_per_s": sum(r["samples_per_s"] for r in train) / max(len(train), 1),
           "active_classes": train[-1]["active_classes"] if train else None,
           "graph_s_per_step": sum(g["build_s"] for g in graphs) / steps,
           "coverage": gauges[-1] if gauges else None, "coverage_all": gauges}
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tasks", default="synthetic,other,funcnames,large")
    p.add_argument("--arms", help="comma-separated (default: each task's own list, see TASKS)")
    p.add_argument("--steps-scale", type=float, help="recipe steps times this (default: per task, see above)")
    p.add_argument("--name", default="xc_selection")
    args = p.parse_args()
    results: dict[str, dict] = {}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for task in args.tasks.split(","):
            path, change, scale, budget, arms = TASKS[task]
            recipe = _merge(yaml.safe_load((ROOT / path).read_text()), change)
            steps = max(4, round(recipe["steps"] * (args.steps_scale or scale)))
            budget = budget or recipe["head"]["active_budget"]
            rows = {}
            for arm in (args.arms or arms).split(","):
                rows[arm] = run_arm(recipe, arm, budget, steps, Path(tmp) / task / arm)
                r = rows[arm]
                cov = r["coverage"] or {}
                print(f"{task} {arm}: top-1 {100 * r['top1']:.2f}% top-5 {100 * r['top5']:.2f}% "
                      f"mass {cov.get('selected_mass', 1.0):.3f} {r['samples_per_s']:.0f} samples/s "
                      f"({r['wall_s']:.0f} s)", flush=True)
            results[task] = {"recipe": path, "changes": change, "steps": steps, "recipe_steps": recipe["steps"],
                             "budget": budget, "num_classes": recipe["data"].get("num_classes"), "arms": rows}
            commit, dirty = git_commit(ROOT, "src")  # written after every task: a long run keeps what it measured
            result = {"benchmark": "issue 15 selection ablation", "machine": machine_info(),
                      "load_avg": os.getloadavg(), "commit": commit, "dirty": dirty,
                      "command": command_line("xc_selection.py"), "wall_s": time.perf_counter() - started,
                      "tasks": results}
            write_results(ROOT / "benchmarks" / "results", args.name, result, markdown(result))
    print(markdown(result))


def markdown(result: dict) -> str:
    lines = ["# Active-set selection: every strategy vs full softmax and random sampling, same budget", "",
             f"`{result['command']}` at commit {result['commit']}{' (dirty)' if result['dirty'] else ''}; one rank, "
             f"one thread; {result['machine']['cpu']}, shared: load average {result['load_avg'][0]:.1f} at the end "
             f"(samples/s are indicative only); whole run {result.get('wall_s', 0) / 60:.0f} min. Top-1/top-5 over "
             "all classes on the held-out set; coverage = the gauge's last reading (64 gathered rows): share of "
             "the full softmax's probability mass on the active set, and recall of its top-10 classes, for the "
             "arm and for uniform classes of the same number. Gap closed = (arm - random) / (full - random).", "",
             *result.get("notes", [])]
    for task, t in result["tasks"].items():
        arms = t["arms"]
        full, rand = arms.get("full") or arms.get("full_imprint"), arms.get("random")
        full_i, rand_i = arms.get("full_imprint") or arms.get("full"), arms.get("random_imprint")
        classes = f"{t['num_classes']:,} classes" if t["num_classes"] else "function names"
        lines += [f"## {task}: {t['recipe']} {json.dumps(t['changes']) if t['changes'] else ''}".rstrip(), "",
                  f"{classes}, budget {t['budget']:,}, {t['steps']} steps (recipe: {t['recipe_steps']}).", "",
                  f"vs full and gap closed: against `{'full' if 'full' in arms else 'full_imprint'}` and `random`; "
                  "gap (imprint): (arm - random_imprint) / (full - random_imprint), for arms with imprinting, where full is "
                  "ahead of random_imprint.", "",
                  "| arm | top-1 | top-5 | vs full | gap closed | gap (imprint) | mass (arm / uniform) "
                  "| top-10 recall (arm / uniform) | samples/s | graph s/step |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        for arm, r in arms.items():
            vs = f"{100 * (r['top1'] - full['top1']):+.2f} pt" if full else "—"
            gap = "—"
            if full and rand and arm not in ("full", "random", "full_imprint") and full["top1"] != rand["top1"]:
                gap = f"{100 * (r['top1'] - rand['top1']) / (full['top1'] - rand['top1']):.0f}%"
            gap_i = "—"
            if full_i and rand_i and "imprint" in arm and arm not in ("random_imprint", "full_imprint") \
                    and full_i["top1"] > rand_i["top1"]:
                gap_i = f"{100 * (r['top1'] - rand_i['top1']) / (full_i['top1'] - rand_i['top1']):.0f}%"
            c = r["coverage"]
            mass = f"{c['selected_mass']:.3f} / {c['uniform_mass']:.3f}" if c else "1 (all classes)"
            rec = f"{c['selected_top10_recall']:.3f} / {c['uniform_top10_recall']:.3f}" if c else "1"
            lines.append(f"| {arm} | {100 * r['top1']:.2f}% | {100 * r['top5']:.2f}% | {vs} | {gap} | {gap_i} | {mass} "
                         f"| {rec} "
                         f"| {r['samples_per_s']:.0f} | {r['graph_s_per_step']:.3f} |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
