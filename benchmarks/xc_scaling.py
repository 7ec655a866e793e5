"""B8: 1 -> 2 rank scaling of the trainer, and an N-rank checkpoint resumed on M ranks.

    .venv/bin/python benchmarks/xc_scaling.py recipes/xc/synthetic.yaml [--steps 60]

(a) Scaling: the same recipe at a fixed global batch on 1 and on 2 ranks, one thread per rank; samples/s from the
trainer's metrics (the first logging window, which holds the first graph build, is excluded);
efficiency = samples/s(2) / (2 * samples/s(1)). (b) Resume: a run on N ranks checkpoints half way;
its checkpoint is resumed on M ranks (2->2, 2->1, 1->2) and the losses of the second half are
compared step by step with the uninterrupted N-rank run.

Writes ``benchmarks/results/xc_scaling.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).parent))
from _machine import command_line, git_commit, machine_info, write_results  # noqa: E402
from xc.runs import losses, metrics, train  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("recipe", type=Path)
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--set", action="append", default=[])
    args = p.parse_args()
    half = args.steps // 2
    sets = list(args.set) + ["threads=1", f"steps={args.steps}", "log_every=1", "eval_every=0", f"checkpoint_every={half}",
                             "keep_checkpoints=5"]
    scaling, resume = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for n in (1, 2):
            train(args.recipe, tmp / f"w{n}", n, sets)
            rows = [m for m in metrics(tmp / f"w{n}") if m["kind"] == "train"][1:]
            scaling[n] = sum(m["samples_per_s"] for m in rows) / len(rows)
        for n, m in ((2, 2), (2, 1), (1, 2)):
            run = tmp / f"resume_{n}_{m}"
            shutil.copytree(tmp / f"w{n}", run)
            for ckpt in (run / "checkpoints").glob("step_*"):
                if int(ckpt.name.split("_")[1]) > half:
                    shutil.rmtree(ckpt)
            kept = [line for line in (run / "metrics.jsonl").read_text().splitlines() if json.loads(line)["step"] <= half]
            (run / "metrics.jsonl").write_text("".join(f"{line}\n" for line in kept))
            train(args.recipe, run, m, sets)
            ref, got = losses(tmp / f"w{n}"), losses(run)
            diffs = [abs(got[s] - ref[s]) for s in range(half + 1, args.steps + 1)]
            resume[f"{n}->{m}"] = {"max_abs_loss_diff": max(diffs), "steps_compared": len(diffs),
                                   "bit_identical": max(diffs) == 0.0}
        world_diff = max(abs(a - b) for a, b in zip(losses(tmp / "w1").values(), losses(tmp / "w2").values(), strict=True))
    efficiency = scaling[2] / (2 * scaling[1])
    commit, dirty = git_commit(ROOT, "src")
    result = {"benchmark": "B8 scaling and resharded resume", "machine": machine_info(), "load_avg": os.getloadavg(),
              "commit": commit, "dirty": dirty, "command": command_line("xc_scaling.py"), "overrides": sets,
              "samples_per_s": scaling, "efficiency": efficiency, "resume": resume,
              "max_loss_diff_1_vs_2_ranks": world_diff}
    lines = [f"# B8: scaling and resharded resume — {args.recipe.name}, {args.steps} steps", "",
             f"`{result['command']}` at commit {commit}; {result['machine']['cpu']} ({result['machine']['cores']} cores).", "",
             "| ranks | samples/s | efficiency |", "| --- | --- | --- |",
             f"| 1 | {scaling[1]:.0f} | — |", f"| 2 | {scaling[2]:.0f} | {100 * efficiency:.0f}% |", "",
             f"Same recipe on 1 vs 2 ranks from scratch: largest loss difference over {args.steps} steps "
             f"{world_diff:.1e}.", "",
             "| checkpoint written by -> resumed on | steps compared | largest loss difference | bit-identical |",
             "| --- | --- | --- | --- |"]
    for k, r in resume.items():
        lines.append(f"| {k} | {r['steps_compared']} | {r['max_abs_loss_diff']:.1e} | {'yes' if r['bit_identical'] else 'no'} |")
    md = "\n".join(lines) + "\n"
    print(md)
    write_results(ROOT / "benchmarks" / "results", "xc_scaling", result, md)


if __name__ == "__main__":
    main()
