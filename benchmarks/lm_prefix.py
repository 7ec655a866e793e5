"""Prefix reuse in the engine: MBPP few-shot prompts (every one opens with the same three solved tasks) with
the prefix cache off and on, SmolLM2-135M-Instruct, greedy, fp32.

    .venv/bin/python benchmarks/lm_prefix.py --prompts 32 --new-tokens 128 --threads 1

All prompts are submitted at once to an engine with ``--slots`` slots, ``--new-tokens`` each (EOS on);
"prefill s" is the engine thread's time admitting prompts (prefix copy + prefill, ``Engine.prefill_s``),
"total s" the wall time to the last answer. The first prompt pays the shared block in full either way. ``identical`` counts prompts whose tokens are the same with
reuse on as off. Writes ``benchmarks/results/lm_prefix.{json,md}``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).parent))
from _machine import command_line, git_commit, machine_info, write_results  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=str(ROOT / "runs" / "smollm2"))
    ap.add_argument("--prompts", type=int, default=32)
    ap.add_argument("--new-tokens", type=int, default=128)
    ap.add_argument("--slots", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from opencook.benchmarks.problems import load_mbpp
    from opencook.completions.sampling import Sampling
    from opencook.evals.protocol import Protocol
    from opencook.lm.generate.backend import InProcessBackend
    from opencook.lm.generate.engine import Engine, EngineConfig
    from opencook.tokenizer import encode

    s = InProcessBackend(args.model).served
    tasks = Protocol(load_mbpp(), "base").tasks()[: args.prompts]
    prompts = [encode(s.tokenizer, t.prompt, special=True) for t in tasks]
    shared = min(next(i for i, (a, b) in enumerate(zip(prompts[0], p, strict=False)) if a != b) for p in prompts[1:])
    eos = s.eos_ids

    rows, outputs = [], {}
    for mb in (0.0, EngineConfig().prefix_cache_mb):
        engine = Engine(s.model, s.tokenizer, EngineConfig(slots=args.slots, prefix_cache_mb=mb))
        t0 = time.perf_counter()
        got = engine.complete(prompts, Sampling(max_new_tokens=args.new_tokens), eos)
        wall = time.perf_counter() - t0
        engine.close()
        toks = sum(len(c.token_ids) for c in got)
        ttft = sorted(engine.ttft)
        row = {"prefix_cache": "on" if mb else "off", "prefill_s": round(engine.prefill_s, 2),
               "total_s": round(wall, 2), "prompt_tokens": engine.prompt_tokens,
               "reused_tokens": engine.reused_tokens, "output_tokens": toks, "tokens_per_s": round(toks / wall, 1),
               "ttft_p50_s": round(ttft[len(ttft) // 2], 2), "load_average": os.getloadavg()[0],
               "prefix_cache_mb_used": round(engine.prefix.bytes / 2**20, 1) if engine.prefix else 0}
        outputs[mb > 0] = [c.token_ids for c in got]
        rows.append(row)
        print(row, flush=True)
    rows[1]["identical"] = sum(a == b for a, b in zip(outputs[False], outputs[True], strict=True))
    rows[1]["prefill_speedup"] = round(rows[0]["prefill_s"] / rows[1]["prefill_s"], 2)
    rows[1]["total_speedup"] = round(rows[0]["total_s"] / rows[1]["total_s"], 2)

    commit, dirty = git_commit(ROOT, "src/opencook/lm/generate")
    load = os.getloadavg()
    result = {"command": command_line("lm_prefix.py"), "commit": commit, "dirty": dirty, "machine": machine_info(),
              "load_average": load, "model": args.model, "prompts": len(prompts), "shared_prefix_tokens": shared,
              "mean_prompt_tokens": round(sum(map(len, prompts)) / len(prompts)), "new_tokens": args.new_tokens,
              "slots": args.slots, "threads": args.threads, "rows": rows}
    md = [f"# Prefix reuse: {len(prompts)} MBPP few-shot prompts ({result['mean_prompt_tokens']} tokens on average, "
          f"{shared} shared), greedy, {args.threads} thread(s)", "",
          f"`{result['command']}` at {commit}{' (dirty)' if dirty else ''}; load average {load[0]:.2f} on a shared "
          "machine (another benchmark ran beside it at 1 thread).", "",
          "| prefix cache | prefill s | total s | prompt tokens | reused | output tokens | TTFT p50 s | load | "
          "identical |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        md.append(f"| {r['prefix_cache']} | {r['prefill_s']} | {r['total_s']} | {r['prompt_tokens']} | "
                  f"{r['reused_tokens']} | {r['output_tokens']} | {r['ttft_p50_s']} | {r['load_average']:.1f} | "
                  f"{r.get('identical', '-')} |")
    md += ["", f"Reuse: prefill {rows[1]['prefill_speedup']}x, total {rows[1]['total_speedup']}x faster; "
           f"{rows[1]['identical']}/{len(prompts)} greedy outputs identical with reuse on and off."]
    write_results(ROOT / "benchmarks" / "results", "lm_prefix", result, "\n".join(md) + "\n")


if __name__ == "__main__":
    main()
