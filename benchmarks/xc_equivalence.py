"""B1: the sharded head against single-process ``F.cross_entropy`` on the full matrix, 1/2/4 gloo ranks.

    .venv/bin/python benchmarks/xc_equivalence.py [--classes 37] [--ranks 1 2 4]

Runs the test suite's worker (tests/xc/workers/head_equivalence.py) under torchrun at each world
size: DDP backbone + sharded head vs one process with the whole batch and classifier, for full
softmax (linear, CosFace, ArcFace logits), random sampling at rate 1.0 and KNN with k >= C. Prints the
largest difference over ranks (scaled by the reference's largest entry where that exceeds 1) of the loss, the backbone's gradients (after DDP), the head rows'
gradients and the embedding gradient. Pass: every difference below 1e-5.

Writes ``benchmarks/results/xc_equivalence.{json,md}``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(ROOT / "tests"))
from _machine import command_line, git_commit, machine_info, write_results  # noqa: E402
from xc_launch import torchrun  # noqa: E402

QUANTITIES = ("loss", "weight_grad", "backbone_grad", "embedding_grad")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--classes", type=int, default=37)
    p.add_argument("--ranks", type=int, nargs="+", default=[1, 2, 4])
    args = p.parse_args()
    table = {}
    for world in args.ranks:
        with tempfile.TemporaryDirectory() as tmp:
            reports = torchrun("head_equivalence.py", world, Path(tmp), str(args.classes), timeout=600)
        table[world] = {case: {q: max(r[case][q] for r in reports) for q in QUANTITIES} for case in reports[0]}
    worst = max(v for w in table.values() for case in w.values() for v in case.values())
    commit, dirty = git_commit(ROOT, "src")
    result = {"benchmark": "B1 sharded CE equivalence", "machine": machine_info(), "load_avg": os.getloadavg(),
              "commit": commit, "dirty": dirty, "command": command_line("xc_equivalence.py"),
              "classes": args.classes, "max_abs_diff": table, "worst": worst, "pass": worst < 1e-5}
    lines = [f"# B1: sharded head vs single-process F.cross_entropy, C={args.classes}", "",
             f"`{result['command']}` at commit {commit}; gloo on {result['machine']['cpu']}. "
             f"Largest difference over ranks, relative to the reference's largest entry where that exceeds 1; worst {worst:.1e} ({'pass' if worst < 1e-5 else 'FAIL'} at 1e-5).", "",
             "| ranks | case | loss | backbone grad | head rows' grad | embedding grad |", "| --- | --- | --- | --- | --- | --- |"]
    for world, cases in table.items():
        for case, d in cases.items():
            lines.append(f"| {world} | {case} | {d['loss']:.1e} | {d['backbone_grad']:.1e} | {d['weight_grad']:.1e} | "
                         f"{d['embedding_grad']:.1e} |")
    md = "\n".join(lines) + "\n"
    print(md)
    write_results(ROOT / "benchmarks" / "results", "xc_equivalence", result, md)


if __name__ == "__main__":
    main()
