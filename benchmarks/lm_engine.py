"""Continuous-batching engine vs today's batched ``generate`` on real chat prompts (SmolLM2-135M-Instruct).

    .venv/bin/python benchmarks/lm_engine.py                        # 32 HumanEval chat prompts, 256 new tokens
    .venv/bin/python benchmarks/lm_engine.py --prompts 164 --new-tokens 512 --skip-batched   # a full HumanEval

Greedy, fp32, EOS on (``<|im_end|>`` ends a turn), so rows finish at different steps as in an evaluation.
"batched generate" is the pre-engine in-process path: ``opencook eval``'s batches (``--batch-size``, tasks
sorted longest first) each decoded by ``generate`` until its slowest row is done. The engine gets every
prompt at once and decodes ``--slots`` of them together, admitting the next prompt as soon as a row ends.
Output tokens/s counts generated tokens (EOS included) over wall time. Writes
``benchmarks/results/lm_engine.{json,md}``.
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
    ap.add_argument("--new-tokens", type=int, default=256)
    ap.add_argument("--batch-size", type=int, default=8, help="opencook eval's default --batch-size")
    ap.add_argument("--slots", type=int, nargs="+", default=[32])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--skip-batched", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from opencook.benchmarks.problems import load_humaneval
    from opencook.completions.sampling import Sampling
    from opencook.evals.protocol import Protocol
    from opencook.lm.generate.backend import InProcessBackend
    from opencook.lm.generate.chat import render_messages
    from opencook.lm.generate.decoding import generate
    from opencook.lm.generate.engine import Engine, EngineConfig
    from opencook.tokenizer import encode

    backend = InProcessBackend(args.model)
    s = backend.served
    tasks = Protocol(load_humaneval(), "chat").tasks()[: args.prompts]
    tasks.sort(key=lambda t: -sum(len(m["content"]) for m in t.messages))  # as evals.run.make_batches
    prompts = [encode(s.tokenizer, render_messages(t.messages, s.chat_template, s.template_vars), special=True)
               for t in tasks]
    sampling = Sampling(max_new_tokens=args.new_tokens)
    eos = s.chat_eos_ids
    rows = []

    outputs = []
    for slots in args.slots:
        engine = Engine(s.model, s.tokenizer, EngineConfig(slots=slots))
        t0 = time.perf_counter()
        got = engine.complete(prompts, sampling, eos)
        wall = time.perf_counter() - t0
        engine.close()
        toks = sum(len(c.token_ids) for c in got)
        row = {"method": f"engine ({slots} slots)", "wall_s": round(wall, 2), "output_tokens": toks,
               "tokens_per_s": round(toks / wall, 1), "kv_cache_mb": round(engine.cache.bytes() / 2**20)}
        outputs.append(got)
        rows.append(row)
        print(row, flush=True)

    if not args.skip_batched:
        t0 = time.perf_counter()
        batched = []
        for i in range(0, len(prompts), args.batch_size):
            batched += generate(s.model, s.tokenizer, prompts[i: i + args.batch_size], sampling, eos_ids=eos)
        wall = time.perf_counter() - t0
        toks = sum(len(c.token_ids) for c in batched)
        rows.append({"method": f"batched generate (batch {args.batch_size})", "wall_s": round(wall, 2),
                     "output_tokens": toks, "tokens_per_s": round(toks / wall, 1)})
        print(rows[-1], flush=True)

        for row, got in zip(rows[:-1], outputs, strict=True):
            row["identical_to_batched"] = sum(a.token_ids == b.token_ids for a, b in zip(got, batched, strict=True))
    commit, dirty = git_commit(ROOT, "benchmarks/lm_engine.py")
    result = {"command": command_line("lm_engine.py"), "commit": commit, "dirty": dirty, "machine": machine_info(),
              "load_average": os.getloadavg(), "model": args.model, "prompts": len(prompts),
              "new_tokens": args.new_tokens, "threads": args.threads, "rows": rows}
    md = [f"# Engine vs batched generate: {len(prompts)} HumanEval chat prompts, greedy, <= {args.new_tokens} "
          f"new tokens, {args.threads} threads", "", f"`{result['command']}` at {commit}{' (dirty)' if dirty else ''}; "
          f"load average {os.getloadavg()[0]:.2f} on a shared machine.", "",
          "| method | wall s | output tokens | tokens/s | identical to batched |", "|---|---|---|---|---|"]
    for r in rows:
        md.append(f"| {r['method']} | {r['wall_s']} | {r['output_tokens']} | {r['tokens_per_s']} | "
                  f"{r.get('identical_to_batched', '-')} |")
    write_results(ROOT / "benchmarks" / "results", "lm_engine", result, "\n".join(md) + "\n")


if __name__ == "__main__":
    main()
