"""What the training options cost on this CPU: torch.compile of whole blocks against eager (tokens/s and
compile time), document-masked attention against plain causal attention, and activation checkpointing.

    .venv/bin/python benchmarks/lm_train_options.py                  # default shape, 3 rounds
    .venv/bin/python benchmarks/lm_train_options.py --steps 4 --rounds 1   # a quick look

Every variant runs the trainer's own step (``lm_train_step``: forward, loss, backward, clipping, AdamW) on the
same batches, built the trainer's way (``apply_activation_checkpointing``, then ``compile_model``). Rounds
alternate the variants so machine noise hits all of them; tokens/s is the median step. Compile time is the
first round's first step minus the median step (torch.compile traces and compiles on first use; later rounds
may reuse inductor's on-disk cache). Batches are
packed documents of geometric lengths (mean ``--doc-len`` tokens) separated by an EOS id, as in packed data.
Writes ``benchmarks/results/lm_train_options.{json,md}``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from _machine import command_line, git_commit, machine_info, write_results  # noqa: E402
from opencook.lm.model import Llama, model_config, num_params  # noqa: E402
from opencook.lm.train.parallel import apply_activation_checkpointing  # noqa: E402
from opencook.lm.train.step import lm_train_step  # noqa: E402
from opencook.lm.train.trainer import _param_groups, compile_model  # noqa: E402

EOS = 0
VARIANTS = {  # name: (compile, document mask, activation checkpoint)
    "eager": (False, False, "none"),
    "eager + document mask": (False, True, "none"),
    "eager + full checkpointing": (False, False, "full"),
    "compiled blocks": (True, False, "none"),
    "compiled blocks + document mask": (True, True, "none"),
}


def packed_batches(n: int, rows: int, seq: int, vocab: int, doc_len: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    data = torch.randint(1, vocab, (n, rows, seq + 1), generator=g)
    ends = torch.rand((n, rows, seq + 1), generator=g) < 1.0 / doc_len
    data[ends] = EOS
    return list(data)


def run(cfg, variant, batches, rows) -> tuple[float, list[float]]:
    compiled, doc_mask, ckpt = VARIANTS[variant]
    torch.manual_seed(0)
    torch._dynamo.reset()
    model = apply_activation_checkpointing(Llama(cfg), ckpt)
    if compiled:
        compile_model(model)
    opt = torch.optim.AdamW(_param_groups(model, 0.1), lr=3e-4, betas=(0.9, 0.95))
    times = []
    for b in batches:
        t0 = time.perf_counter()
        lm_train_step(model, opt, b[:, :-1], b[:, 1:], micro_batch=rows, clip_grad=1.0, autocast=False,
                      eos_id=EOS if doc_mask else None)
        times.append(time.perf_counter() - t0)
    return times[0], times[2:]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--doc-len", type=int, default=64, help="mean document length in tokens")
    ap.add_argument("--steps", type=int, default=8, help="steps per variant per round (2 warm-up excluded)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = ap.parse_args()
    # A fresh inductor cache, so round 1's compile is cold whatever ran before on this machine.
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="lm_train_options_inductor_")
    torch.set_num_threads(args.threads)
    cfg = model_config("tiny", vocab_size=8192, dim=256, n_layers=4, n_heads=8, n_kv_heads=4, ffn_dim=704,
                       max_seq_len=args.seq)
    batches = packed_batches(args.steps + 2, args.batch, args.seq, cfg.vocab_size, args.doc_len)
    steps: dict[str, list[float]] = {k: [] for k in VARIANTS}
    first: dict[str, list[float]] = {k: [] for k in VARIANTS}
    for r in range(args.rounds):
        for name in VARIANTS:
            t_first, t = run(cfg, name, batches, args.batch)
            first[name].append(t_first)
            steps[name] += t
            print(f"round {r + 1}: {name:32s} {args.batch * args.seq / statistics.median(t):8,.0f} tokens/s, "
                  f"first step {t_first:.1f} s", flush=True)
    tokens = args.batch * args.seq
    rate = {k: tokens / statistics.median(v) for k, v in steps.items()}
    # Round 1 compiles cold; later rounds may reuse inductor's on-disk cache, so the cold figure is round 1's.
    compile_s = {k: first[k][0] - statistics.median(steps[k]) for k in VARIANTS}
    commit, dirty = git_commit(ROOT, "src")
    load = os.getloadavg()
    result = {"benchmark": "lm_train_options", "command": command_line("lm_train_options.py"),
              "machine": machine_info(), "commit": commit, "dirty": dirty, "torch": torch.__version__,
              "load_average": load, "params": num_params(cfg), "batch": args.batch, "seq_len": args.seq,
              "mean_doc_len": args.doc_len, "threads": args.threads, "tokens_per_s": rate,
              "first_step_overhead_s": compile_s, "first_step_s_per_round": first, "timed_steps": len(steps["eager"])}
    rows = "\n".join(f"| {k} | {v:,.0f} | {v / rate['eager']:.2f}× | {compile_s[k]:.1f} |" for k, v in rate.items())
    md = (f"# LM training options on CPU: compiled blocks, document mask, checkpointing (fp32)\n\n"
          f"`{result['command']}` — commit {commit}{' (src dirty)' if dirty else ''}; {result['machine']['cpu']}, "
          f"{args.threads} threads; load average at the end {load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f} (shared "
          f"machine). {num_params(cfg):,}-parameter LLaMA, batch {args.batch} × {args.seq} tokens of packed "
          f"documents (mean length {args.doc_len}); median of {len(steps['eager'])} steps per variant, variants "
          "interleaved; the trainer's own step.\n\n"
          "| variant | tokens/s | vs eager | first-step overhead, round 1 (s) |\n| --- | ---: | ---: | ---: |\n"
          f"{rows}\n\nFirst-step overhead = round 1's first step minus the median step: for compiled variants "
          "this is the cold compile time (one compiled graph shared by every block; later rounds may reuse "
          "inductor's on-disk cache). The document mask is a boolean "
          "[B, 1, T, T] block-diagonal causal mask passed to SDPA, with RoPE positions restarting per "
          "document.\n")
    write_results(Path(args.out), "lm_train_options", result, md)
    print(md)


if __name__ == "__main__":
    main()
