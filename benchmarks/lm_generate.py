"""Greedy decoding speed: opencook's KV-cache ``generate`` vs ``transformers`` ``generate`` on the same weights.

    .venv/bin/python benchmarks/lm_generate.py                  # batch 1 and 8, 128 new tokens, 2 threads
    .venv/bin/python benchmarks/lm_generate.py --threads 2 1    # the same at 2, then 1 torch threads
    .venv/bin/python benchmarks/lm_generate.py --batches 1 --new-tokens 32 --reps 1

Two models, random weights (speed does not depend on them), both with a 32768-token vocabulary:
``tiny32k`` is the ``tiny`` preset with that vocabulary (9.1M parameters, 4 layers of dim 128), and
``scaled`` is the preset scaled up to 22.7M parameters (8 layers of dim 256, 8/4 heads, ffn 704).
Prompts are random token ids; the batch-8 prompts have different lengths (24..31 tokens), so both
sides decode a left-padded batch. EOS is disabled on both
sides so every row decodes exactly ``--new-tokens`` tokens, and the token ids are checked to be equal.
Writes ``benchmarks/results/lm_generate.{json,md}``. The goal from issue 5: >= 2x transformers at batch 1 and 8.
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
from opencook.lm.generate.decoding import generate  # noqa: E402
from opencook.lm.model import Llama, hf_config_dict, model_config, num_params, to_hf_state_dict  # noqa: E402

PAD = 7
CONFIGS = {
    "tiny32k": model_config("tiny", vocab_size=32768, max_seq_len=512),
    "scaled": model_config("tiny", vocab_size=32768, dim=256, n_layers=8, n_heads=8, n_kv_heads=4, ffn_dim=704,
                           max_seq_len=512),
}

NOTES = """\
- Both sides run the same fp32 matmuls; ours saves transformers' per-step Python (logits processors,
  stopping criteria, mask and cache bookkeeping), writes into a preallocated cache, and computes the
  decode step's output head in the operand layout MKL runs fastest on this CPU (a transposed copy of the
  head for one or two rows, `(W @ h^T)^T` for more). The rest of a step is the same GEMMs as
  transformers' (most of its time), which caps the ratio at these sizes (see docs/lm_generate.md).
- On a 2-core machine shared with other jobs, 2 torch threads oversubscribe the cores: OpenMP threads
  wait on each other and 2-thread figures swing by several times from one run to the next (even between
  batch sizes of one run). The 1-thread rows are the steadier comparison."""


def _prompts(vocab: int, batch: int, seed: int = 0) -> list[list[int]]:
    g = torch.Generator().manual_seed(seed)
    lengths = [32] if batch == 1 else [24 + i % 8 for i in range(batch)]
    return [torch.randint(8, vocab, (n,), generator=g).tolist() for n in lengths]


def _ours(model, tok, prompts, n) -> tuple[float, float, list[list[int]]]:
    t0, c0 = time.perf_counter(), time.process_time()
    out = generate(model, tok, prompts, max_new_tokens=n, eos_ids=[])
    return time.perf_counter() - t0, time.process_time() - c0, [c.token_ids for c in out]


@torch.inference_mode()
def _hf(hf, prompts, n) -> tuple[float, float, list[list[int]]]:
    t = max(map(len, prompts))
    inp = torch.tensor([[PAD] * (t - len(p)) + p for p in prompts])
    mask = torch.tensor([[0] * (t - len(p)) + [1] * len(p) for p in prompts])
    t0, c0 = time.perf_counter(), time.process_time()
    out = hf.generate(inp, attention_mask=mask, do_sample=False, max_new_tokens=n, min_new_tokens=n,
                      pad_token_id=PAD, eos_token_id=None)
    return time.perf_counter() - t0, time.process_time() - c0, out[:, t:].tolist()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    p.add_argument("--new-tokens", type=int, default=128)
    p.add_argument("--reps", type=int, default=2, help="timed runs per side (best is kept)")
    p.add_argument("--threads", type=int, nargs="+", default=[2], help="torch threads, one pass each")
    p.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    p.add_argument("--name", default="lm_generate")
    args = p.parse_args()
    import transformers
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel

    load0 = os.getloadavg()[0]
    rows = []
    for threads, name in [(th, n) for th in args.threads for n in args.configs]:
        torch.set_num_threads(threads)
        cfg = CONFIGS[name]
        torch.manual_seed(0)
        model = Llama(cfg).eval()
        hf = transformers.LlamaForCausalLM(transformers.LlamaConfig(**hf_config_dict(cfg))).eval()
        hf.load_state_dict(to_hf_state_dict(model), strict=False)
        # prompts are token ids and there are no stop strings, so the tokenizer only decodes the result
        tok = Tokenizer(WordLevel({f"t{i}": i for i in range(cfg.vocab_size)}, unk_token="t0"))
        for b in args.batches:
            prompts = _prompts(cfg.vocab_size, b)
            _ours(model, tok, prompts, 8), _hf(hf, prompts, 8)  # warm-up: allocator, kernels, lazy imports
            ours_s, hf_s, ours_cpu, hf_cpu = [], [], [], []
            for _ in range(args.reps):  # interleaved, so a load spike from the shared machine hits both sides
                s, c, ours_ids = _ours(model, tok, prompts, args.new_tokens)
                ours_s.append(s)
                ours_cpu.append(c)
                s, c, hf_ids = _hf(hf, prompts, args.new_tokens)
                hf_s.append(s)
                hf_cpu.append(c)
            if ours_ids != hf_ids:
                raise SystemExit(f"{name} batch {b}: token ids differ from transformers: unequal work")
            tokens = b * args.new_tokens
            lens = [len(x) for x in prompts]
            row = {"threads": threads, "model": name, "params": num_params(cfg), "batch": b,
                   "prompt_tokens": lens,
                   "new_tokens": args.new_tokens, "ours_s": ours_s, "hf_s": hf_s,
                   "ours_tok_s": tokens / min(ours_s), "hf_tok_s": tokens / min(hf_s),
                   "speedup": min(hf_s) / min(ours_s), "ours_cpu_s": ours_cpu, "hf_cpu_s": hf_cpu,
                   "speedup_cpu": min(hf_cpu) / min(ours_cpu), "identical_ids": True}
            rows.append(row)
            print(f"{threads} thread(s), {name} ({row['params'] / 1e6:.1f}M) batch {b}: "
                  f"ours {row['ours_tok_s']:.0f} tok/s, "
                  f"transformers {row['hf_tok_s']:.0f} tok/s, x{row['speedup']:.2f} wall, "
                  f"x{row['speedup_cpu']:.2f} CPU time (identical greedy ids)",
                  flush=True)
    load1 = os.getloadavg()[0]
    commit, dirty = git_commit(ROOT, "src/opencook/lm")
    result = {"command": command_line("lm_generate.py"), "commit": commit, "dirty": dirty,
              "machine": machine_info(), "load_avg_1m": [load0, load1], "threads": args.threads,
              "torch": torch.__version__, "transformers": transformers.__version__,
              "models": {n: {**CONFIGS[n].__dict__, "params": num_params(CONFIGS[n])} for n in args.configs},
              "reps": args.reps, "rows": rows}
    md = ["# LM generate: opencook vs transformers greedy decoding", "",
          f"`{result['command']}` at commit {commit}{' (dirty)' if dirty else ''}; torch {torch.__version__}, "
          f"transformers {transformers.__version__}; {result['machine']['cpu']}, "
          f"{result['machine']['cores']} cores, shared with other jobs: 1-minute load average "
          f"{load0:.2f} -> {load1:.2f}.", "",
          "Models (random weights, untied, vocab 32768): `tiny32k` = the `tiny` preset with vocab 32768 "
          "(dim 128, 4 layers, 4/2 heads); `scaled` = dim 256, 8 layers, 8/4 heads, ffn 704. Greedy, EOS off, "
          f"{args.new_tokens} new tokens per row, fp32; best of {args.reps} interleaved runs per side; "
          "the token ids of both sides are checked to be identical. The CPU-time ratio (process time, all "
          "threads) is less sensitive to the other jobs on the machine than the wall-clock one.", "",
          "| torch threads | model | params | batch | prompt tokens | ours tok/s | transformers tok/s "
          "| speedup (wall) | speedup (CPU time) |",
          "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        lens = r["prompt_tokens"]
        span = str(lens[0]) if len(set(lens)) == 1 else f"{min(lens)}..{max(lens)} (left-padded)"
        md.append(f"| {r['threads']} | {r['model']} | {r['params'] / 1e6:.1f}M | {r['batch']} | {span} | "
                  f"{r['ours_tok_s']:.0f} | "
                  f"{r['hf_tok_s']:.0f} | {r['speedup']:.2f}x | {r['speedup_cpu']:.2f}x |")
    md += ["", NOTES]
    write_results(ROOT / "benchmarks" / "results", args.name, result, "\n".join(md) + "\n")


if __name__ == "__main__":
    main()
