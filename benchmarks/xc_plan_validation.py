"""B9: ``opencook xc plan``'s step-time predictions against measured training steps at C = 100K, 1M, 10M.

    .venv/bin/python benchmarks/xc_plan_validation.py                 # knn at 100K/1M/10M, full at 100K/1M
    .venv/bin/python benchmarks/xc_plan_validation.py --classes 100000 --steps 10 --rebuild-classes 0

One run: (1) ``calibrate()`` measures this machine's rates (at the runs' D and thread count); the host
compute rates (``plan_calibrate.step_rates``) are measured again in each point's process right before and
right after its steps, and their mean is what that point is predicted with -- the machine is shared, and
contention then hits rates and steps alike; (2) each
(mode, C) runs in a fresh process that builds the project's own ``Trainer`` (synthetic data, MLP backbone,
class-sharded head, row-sparse momentum SGD) and times whole ``Trainer.train_step`` calls (zero_grad,
forward, backward, both optimizer steps), with the synthetic batches drawn before the clock starts;
(3) ``plan_model.step_time`` predicts each step from the sizes and the calibration. One process, so every
communication term is zero. KNN at every C gets a random [C, k] int64 graph injected (``head.graph``, with
``refresh_every`` out of reach) instead of a faiss build: a step's cost depends on the graph's shape, not
its quality. The formula has no per-point freedom; ONE constant, the fixed per-step overhead (Python and
operator dispatch), is fitted over all points by least squares on the relative error.

Optionally (``--rebuild-classes``) one real IVF graph rebuild (``head.refresh_graph``) is timed against
``plan_model.rebuild_time``. Writes ``benchmarks/results/xc_plan_validation.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).parent))
from _machine import command_line, git_commit, machine_info, write_results  # noqa: E402

TOLERANCE = 0.25
INPUT_DIM, HIDDEN, GRAPH_K = 64, 256, 10


def mlp_size(input_dim: int, hidden: int, dim: int) -> tuple[float, float]:
    """(parameters, forward GFLOPs per sample) of ``MLPBackbone`` with two layers: Linear, LayerNorm, GELU,
    Linear (2 FLOPs per multiply-add; the elementwise LayerNorm/GELU are left out)."""
    params = input_dim * hidden + hidden + 2 * hidden + hidden * dim + dim
    return float(params), 2 * (input_dim * hidden + hidden * dim) / 1e9


def worker(args: argparse.Namespace) -> dict:
    """One (mode, C) in this process: build the Trainer, warm up, time ``--steps`` steps."""
    import torch

    from opencook.xc.plan.calibrate import ivf_rates, step_rates
    from opencook.xc.train.config import parse_train_config
    from opencook.xc.train.trainer import Trainer

    head = {"mode": args.mode, "graph_k": GRAPH_K, "refresh_every": 10**9, "graph_method": "ivf",
            "graph_recall_sample": 0,
            "selection": {"anchor": "label", "centres": "weights"}}  # the KNN step the plan models
    if args.mode != "full":
        head["sample_rate"] = args.active
    cfg = parse_train_config({
        "data": {"kind": "synthetic", "num_classes": args.worker_classes, "input_dim": INPUT_DIM},
        "backbone": {"embedding_dim": args.dim, "hidden": HIDDEN, "layers": 2}, "head": head,
        "global_batch": args.batch, "threads": args.threads, "steps": 10**9, "seed": 0})
    t = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(cfg, Path(tmp))
        init_s = time.perf_counter() - t
        out = {"mode": args.mode, "classes": args.worker_classes, "init_s": init_s}
        if args.mode == "knn":
            if args.rebuild:
                out["ivf_rates"] = ivf_rates(dim=args.dim)
                t = time.perf_counter()
                trainer.head.refresh_graph()
                out["rebuild_s"] = time.perf_counter() - t
            else:
                gen = torch.Generator().manual_seed(0)
                trainer.head.graph = torch.randint(args.worker_classes, (args.worker_classes, GRAPH_K), generator=gen)
                trainer.head.graph_step = trainer.head.step
        # batches drawn ahead, so the timed call is the step itself (forward, backward, optimizers)
        n = args.warmup + args.steps
        data = trainer.data
        batches = [data.train_batch(s, args.batch, 0, 1) for s in range(n)]
        data.train_batch = lambda step, global_batch, rank, world: batches[step]
        before = step_rates(args.dim)
        steps = []
        for _ in range(n):
            t = time.perf_counter()
            trainer.train_step()
            steps.append(time.perf_counter() - t)
        after = step_rates(args.dim)
        steps = steps[args.warmup:]
        out.update(step_s=steps, median_s=statistics.median(steps), active=trainer.head.last.global_size,
                   rates={k: (before[k] + after[k]) / 2 for k in before}, rates_before=before, rates_after=after)
    return out


def run_worker(mode: str, classes: int, args: argparse.Namespace, rebuild: bool = False) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "PYTHONPATH": str(ROOT / "src")}
    cmd = [sys.executable, __file__, "--worker", mode, "--worker-classes", str(classes), "--dim", str(args.dim),
           "--batch", str(args.batch), "--active", str(args.active), "--steps", str(args.steps),
           "--warmup", str(args.warmup), "--threads", str(args.threads)] + (["--rebuild"] if rebuild else [])
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"worker {mode} C={classes} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def fit_overhead(rows: list[dict]) -> float:
    """The one fitted constant: c minimising sum(((formula + c - measured) / measured)^2)."""
    return (sum((r["measured_s"] - r["formula_s"]) / r["measured_s"] ** 2 for r in rows)
            / sum(1 / r["measured_s"] ** 2 for r in rows))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--classes", type=int, nargs="+", default=[100_000, 1_000_000, 10_000_000])
    p.add_argument("--full-max", type=int, default=1_000_000, help="full softmax only up to this C")
    p.add_argument("--dim", type=int, default=64)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--active", type=float, default=0.01, help="knn: sample_rate (budget = active * C)")
    p.add_argument("--steps", type=int, default=15)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--rebuild-classes", type=int, default=100_000, help="time one real IVF rebuild (0: skip)")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--worker-classes", type=int, help=argparse.SUPPRESS)
    p.add_argument("--rebuild", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        args.mode = args.worker
        print(json.dumps(worker(args)))
        return

    import torch

    from opencook.xc.plan.calibrate import calibrate
    from opencook.xc.plan.model import PlanInputs, rebuild_time, step_time

    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    torch.set_num_threads(args.threads)
    t = time.perf_counter()
    cal = calibrate(dim=args.dim)
    print(f"calibrated in {time.perf_counter() - t:.1f} s: {json.dumps(asdict(cal))}", flush=True)
    params, gflops = mlp_size(INPUT_DIM, HIDDEN, args.dim)
    points = [(m, c) for c in args.classes for m in ("knn", "full") if m == "knn" or c <= args.full_max]
    rows = []
    for mode, c in points:
        r = run_worker(mode, c, args)
        plan = PlanInputs(classes=c, dim=args.dim, gpus=1, batch_per_gpu=args.batch, active=args.active,
                          dtype="fp32", optimizer="sgd", graph_k=GRAPH_K, backbone_params=params,
                          backbone_gflops=gflops)
        split = step_time(plan, mode, replace(cal, **r["rates"]))
        rows.append({"mode": mode, "classes": c, "active_measured": r["active"], "rates": r["rates"],
                     "active_model": plan.active_global(mode), "measured_s": r["median_s"], "step_s": r["step_s"],
                     "formula_s": sum(split.values()), "split_s": split, "init_s": r["init_s"]})
        print(f"{mode:>5} C={c:>11,}: measured {r['median_s'] * 1e3:9.1f} ms, formula {rows[-1]['formula_s'] * 1e3:9.1f} ms"
              f" (active {r['active']:,} vs model {plan.active_global(mode):,})", flush=True)
    overhead = fit_overhead(rows)
    fitted = replace(cal, step_overhead_s=overhead)
    for r in rows:
        r["split_s"]["fixed per-step overhead"] = overhead
        r["predicted_s"] = r["formula_s"] + overhead
        r["rel_error"] = (r["predicted_s"] - r["measured_s"]) / r["measured_s"]
        r["within"] = abs(r["rel_error"]) <= TOLERANCE
    rebuild = None
    if args.rebuild_classes:
        c = args.rebuild_classes
        r = run_worker("knn", c, argparse.Namespace(**{**vars(args), "steps": 1, "warmup": 0}), rebuild=True)
        plan = PlanInputs(classes=c, dim=args.dim, gpus=1, batch_per_gpu=args.batch, graph_k=GRAPH_K)
        add, search = r["ivf_rates"]
        split = rebuild_time(plan, replace(cal, ivf_add_vps=add, ivf_search_qps=search))
        rebuild = {"classes": c, "ivf_add_vps": add, "ivf_search_qps": search, "measured_s": r["rebuild_s"], "predicted_s": sum(split.values()), "split_s": split,
                   "rel_error": (sum(split.values()) - r["rebuild_s"]) / r["rebuild_s"]}
        rebuild["within"] = abs(rebuild["rel_error"]) <= TOLERANCE
    commit, dirty = git_commit(ROOT, "src")
    result = {"benchmark": "B9 plan step-time validation", "machine": machine_info(), "load_avg": os.getloadavg(),
              "commit": commit, "dirty": dirty, "command": command_line("xc_plan_validation.py"),
              "dim": args.dim, "batch": args.batch, "active": args.active, "threads": args.threads,
              "steps": args.steps, "warmup": args.warmup, "backbone_params": params, "backbone_gflops": gflops,
              "calibration": asdict(fitted), "step_overhead_s": overhead, "tolerance": TOLERANCE, "runs": rows,
              "rebuild": rebuild}
    md = render_md(result)
    print(md)
    write_results(ROOT / "benchmarks" / "results", "xc_plan_validation", result, md)


def render_md(r: dict) -> str:
    cal = r["calibration"]
    ok = all(x["within"] for x in r["runs"])
    lines = [f"# B9: `opencook xc plan` step time, predicted vs measured (one CPU process, {r['threads']} thread(s))", "",
             f"`{r['command']}` at commit {r['commit']}{' (src dirty)' if r['dirty'] else ''}; "
             f"{r['machine']['cpu']}, {r['machine']['cores']} cores, load average at the end "
             f"{', '.join(f'{x:.2f}' for x in r['load_avg'])}.", "",
             f"Setup: the project's `Trainer` on synthetic data, MLP backbone ({r['backbone_params']:,.0f} params, "
             f"{r['backbone_gflops'] * 1e6:.1f} kFLOP per sample forward), D={r['dim']}, batch {r['batch']}, "
             f"momentum SGD with weight decay, fp32; knn active budget {r['active']:g} of C, k={GRAPH_K}. "
             f"Median of {r['steps']} steps after {r['warmup']} warm-up steps, wall clock around whole "
             "`Trainer.train_step` calls (zero_grad, forward, backward, both optimizers; batches drawn beforehand). KNN runs use an injected random [C, k] int64 graph instead of a faiss "
             "build (a step's cost depends on the graph's shape, not its quality). One process: every "
             "communication term is zero here.", "",
             "Calibration: `calibrate()` at the start of the run (below); each point is predicted with the host "
             "compute rates re-measured in its own process just before and after its steps (mean; per-point table "
             "below), since the 2-core machine is shared. Start-of-run rates: "
             f"GEMM {cal['gemm_flops'] / 1e9:.1f} GFLOP/s, dense update {cal['mem_bw'] / 1e9:.2f} GB/s, "
             f"softmax chain {cal['softmax_bw'] / 1e9:.2f} GB/s, row path {cal['row_bw'] / 1e9:.2f} / "
             f"{cal['row_bw_large'] / 1e9:.2f} GB/s (64 MiB / 2 GiB weight), "
             f"selection {cal['select_rate']:.3g} A·log2A/s, fresh buffers {cal['fresh_bw'] / 1e9:.2f} GB/s. **One fitted constant**: the fixed per-step overhead "
             f"{r['step_overhead_s'] * 1e3:.2f} ms (least squares on the relative error over all points; "
             "the same for every mode and C).", "",
             f"| mode | C | active (measured / model) | predicted ms | measured ms | error | within {r['tolerance']:.0%} |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for x in r["runs"]:
        lines.append(f"| {x['mode']} | {x['classes']:,} | {x['active_measured']:,} / {x['active_model']:,} | "
                     f"{x['predicted_s'] * 1e3:.1f} | {x['measured_s'] * 1e3:.1f} | {x['rel_error']:+.1%} | "
                     f"{'yes' if x['within'] else '**no**'} |")
    lines += ["", f"All points within {r['tolerance']:.0%}: {'yes' if ok else '**no**'}.", "",
              "Predicted split (ms; zero communication terms left out):", ""]
    keys = [k for k in dict.fromkeys(k for x in r["runs"] for k in x["split_s"])
            if any(x["split_s"].get(k) for x in r["runs"])]
    lines += ["| part | " + " | ".join(f"{x['mode']} {x['classes']:,}" for x in r["runs"]) + " |",
              "| --- |" + " --- |" * len(r["runs"])]
    for k in keys:
        cells = [f"{x['split_s'][k] * 1e3:.2f}" if k in x["split_s"] else "—" for x in r["runs"]]
        lines.append(f"| {k} | " + " | ".join(cells) + " |")
    lines += ["", "Rates each point was predicted with (mean of before/after its steps):", "",
              "| point | GEMM GFLOP/s | dense update GB/s | softmax chain GB/s | row path GB/s, 64 MiB / 2 GiB weight "
              "| selection A·log2A/s | fresh buffers GB/s |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for x in r["runs"]:
        q = x["rates"]
        lines.append(f"| {x['mode']} {x['classes']:,} | {q['gemm_flops'] / 1e9:.1f} | {q['mem_bw'] / 1e9:.2f} | "
                     f"{q['softmax_bw'] / 1e9:.2f} | {q['row_bw'] / 1e9:.2f} / {q['row_bw_large'] / 1e9:.2f} | {q['select_rate']:.3g} | "
                     f"{q['fresh_bw'] / 1e9:.2f} |")
    if r["rebuild"]:
        b = r["rebuild"]
        lines += ["", f"Graph rebuild (real faiss IVF-Flat, `head.refresh_graph`, C={b['classes']:,}, D={r['dim']}; IVF rates "
                  f"re-measured in the same process first: add {b['ivf_add_vps']:.3g} vec/s, search "
                  f"{b['ivf_search_qps']:.3g} q/s at 20K): "
                  f"predicted {b['predicted_s']:.2f} s "
                  f"({', '.join(f'{k} {v:.2f} s' for k, v in b['split_s'].items() if v)}), measured "
                  f"{b['measured_s']:.2f} s, error {b['rel_error']:+.1%} "
                  f"({'within' if b['within'] else '**outside**'} {r['tolerance']:.0%})."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
