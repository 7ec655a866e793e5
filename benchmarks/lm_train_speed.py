"""Training tokens/s: opencook's LM training step against transformers' LlamaForCausalLM in a plain loop.

Both sides train the same architecture from the same weights on the same batches, with the same
optimizer (AdamW, decay on matrices only, clipping at 1.0), fp32, on the same threads. Runs alternate
(ours, HF, ours, HF, ...) so machine noise hits both; the median step time of each is reported.

  .venv/bin/python benchmarks/lm_train_speed.py                 # eager and compiled, default shape
  .venv/bin/python benchmarks/lm_train_speed.py --steps 10 --rounds 2 --no-compile   # a quick look
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from _machine import command_line, git_commit, machine_info, write_results  # noqa: E402
from opencook.lm.model import (  # noqa: E402
    Llama,
    flops_per_token,
    hf_config_dict,
    model_config,
    num_params,
    to_hf_state_dict,
)
from opencook.lm.train.step import lm_train_step  # noqa: E402
from opencook.lm.train.trainer import _param_groups, compile_model  # noqa: E402


def _ours(cfg, compiled: bool):
    """The trainer's own step function (one micro-batch, clipping at 1.0, fp32), not a copy of it."""
    torch.manual_seed(0)
    model = Llama(cfg)
    opt = torch.optim.AdamW(_param_groups(model, 0.1), lr=3e-4, betas=(0.9, 0.95))
    if compiled:
        compile_model(model)

    def step(x, y):
        return lm_train_step(model, opt, x, y, micro_batch=x.size(0), clip_grad=1.0, autocast=False).loss

    return step


def _hf(cfg):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    ours = Llama(cfg)
    model = LlamaForCausalLM(LlamaConfig(**hf_config_dict(cfg), attn_implementation="sdpa"))
    model.load_state_dict(to_hf_state_dict(ours), strict=False)
    model.train()
    opt = torch.optim.AdamW(_param_groups(model, 0.1), lr=3e-4, betas=(0.9, 0.95))

    def step(x, y):
        out = model(input_ids=x, labels=x)  # HF shifts labels itself; y is the same shift
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return out.loss.item()

    return step


def _time(step, batches, warmup: int) -> list[float]:
    for x, y in batches[:warmup]:
        step(x, y)
    times = []
    for x, y in batches[warmup:]:
        t0 = time.perf_counter()
        step(x, y)
        times.append(time.perf_counter() - t0)
    return times


def matmul_peak(threads: int) -> float:
    """This CPU's fp32 GEMM FLOP/s at the output head's shape: the ceiling any fp32 training loop shares."""
    torch.set_num_threads(threads)
    a, w = torch.randn(2048, 256), torch.randn(8192, 256)
    for _ in range(3):
        a @ w.T
    t0 = time.perf_counter()
    for _ in range(10):
        a @ w.T
    return 10 * 2 * 2048 * 256 * 8192 / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--steps", type=int, default=20, help="timed steps per round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-compile", action="store_true", help="skip the torch.compile variant")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    # The shape of the spec's CPU anchor (~7M parameters): the tiny preset, widened.
    cfg = model_config("tiny", vocab_size=8192, dim=256, n_layers=4, n_heads=8, n_kv_heads=4, ffn_dim=704,
                       max_seq_len=args.seq)
    g = torch.Generator().manual_seed(1)
    n = args.steps + 3
    data = torch.randint(0, cfg.vocab_size, (n, args.batch, args.seq + 1), generator=g)
    batches = [(d[:, :-1].contiguous(), d[:, 1:].contiguous()) for d in data]
    variants = {"opencook": lambda: _ours(cfg, False), "transformers": lambda: _hf(cfg)}
    if not args.no_compile:
        variants["opencook+compile"] = lambda: _ours(cfg, True)
    times: dict[str, list[float]] = {k: [] for k in variants}
    for r in range(args.rounds):
        for name, make in variants.items():
            t = _time(make(), batches, warmup=3)
            times[name] += t
            print(f"round {r + 1}: {name:18s} {args.batch * args.seq / statistics.median(t):8,.0f} tokens/s")
    tokens = args.batch * args.seq
    rates = {k: tokens / statistics.median(v) for k, v in times.items()}
    peak = matmul_peak(args.threads)
    fpt = flops_per_token(cfg, args.seq)
    commit, dirty = git_commit(ROOT, "src")
    result = {
        "benchmark": "lm_train_speed", "command": command_line("lm_train_speed.py"), "machine": machine_info(),
        "commit": commit, "dirty": dirty, "torch": torch.__version__,
        "transformers": __import__("transformers").__version__,
        "model": {"params": num_params(cfg), **{k: getattr(cfg, k) for k in
                                                 ("vocab_size", "dim", "n_layers", "n_heads", "n_kv_heads",
                                                  "ffn_dim")}},
        "batch": args.batch, "seq_len": args.seq, "threads": args.threads, "timed_steps": len(times["opencook"]),
        "tokens_per_s": rates,
        "flops_per_token": fpt, "matmul_peak_flops": peak,
        "share_of_matmul_peak": {k: v * fpt / peak for k, v in rates.items()},
        "ratio_eager": rates["opencook"] / rates["transformers"],
    }
    if "opencook+compile" in rates:
        result["ratio_compiled"] = rates["opencook+compile"] / rates["transformers"]
    rows = "\n".join(f"| {k} | {v:,.0f} | {v / rates['transformers']:.2f}× | {100 * v * fpt / peak:.0f}% |"
                     for k, v in rates.items())
    md = (f"# LM training throughput vs transformers (fp32, CPU)\n\n`{result['command']}` — commit {commit}"
          f"{' (dirty)' if dirty else ''}; {result['machine']['cpu']}, {args.threads} threads; "
          f"{num_params(cfg):,}-parameter LLaMA, batch {args.batch} × {args.seq} tokens; median of "
          f"{len(times['opencook'])} steps per variant, runs interleaved.\n\n"
          f"| loop | tokens/s | vs transformers | of fp32 GEMM peak |\n| --- | ---: | ---: | ---: |\n{rows}\n\n"
          f"The GEMM peak ({peak / 1e9:.0f} GFLOP/s) is one matmul at the output head's shape on the same threads; "
          f"training FLOPs per token are 6N + 12·L·H·Q·T = {fpt / 1e6:.1f} M.\n")
    write_results(Path(args.out), "lm_train_speed", result, md)
    print(md)


if __name__ == "__main__":
    main()
