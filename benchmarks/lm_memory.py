"""``opencook lm plan`` against measured peak memory of real training steps, and what checkpointing saves.

    .venv/bin/python benchmarks/lm_memory.py             # 4 shapes of the tiny family x none/selective/full

Each (shape, mode) builds the trainer's model with the trainer's activation checkpointing
(``apply_activation_checkpointing``), AdamW with the trainer's parameter groups, and runs 3 steps of the
trainer's own step function (``lm_train_step``: forward, loss, backward, clipping, AdamW) on one CPU thread.
Peak memory is measured with ``PeakTensorMemory``: a dispatch mode that sees every tensor an operator creates
and counts each distinct storage's bytes while it lives (CPU torch keeps no allocator statistics, and RSS
mixes in the interpreter and allocator caches). The figure is the 3rd step's peak (optimizer state exists).
"Activations" = peak minus parameters and optimizer state alive before the step. The plan is the formula of
``opencook.lm.train.plan`` with no fitted constant. Writes ``benchmarks/results/lm_memory.{json,md}``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from _machine import command_line, git_commit, machine_info, write_results  # noqa: E402
from opencook.lm.model import Llama, model_config, num_params  # noqa: E402
from opencook.lm.train.memtrack import PeakTensorMemory  # noqa: E402
from opencook.lm.train.parallel import apply_activation_checkpointing  # noqa: E402
from opencook.lm.train.plan import CHECKPOINT_MODES, PlanInputs, activation_bytes, peak_bytes  # noqa: E402
from opencook.lm.train.step import lm_train_step  # noqa: E402
from opencook.lm.train.trainer import _param_groups  # noqa: E402

TOLERANCE = 0.15
# (name, tiny-preset overrides, micro-batch rows, seq_len)
SHAPES = [
    ("tiny", {"max_seq_len": 256}, 8, 256),
    ("tiny-8L", {"n_layers": 8, "max_seq_len": 512}, 4, 512),
    ("tiny-wide", {"dim": 256, "n_heads": 8, "n_kv_heads": 4, "ffn_dim": 704, "max_seq_len": 512}, 4, 256),
    ("tiny-v8k", {"vocab_size": 8192, "dim": 192, "n_layers": 6, "n_heads": 6, "n_kv_heads": 2, "ffn_dim": 512,
                  "max_seq_len": 512}, 2, 512),
]


def measure(cfg, rows: int, seq: int, mode: str, steps: int = 3) -> dict:
    torch.manual_seed(0)
    model = apply_activation_checkpointing(Llama(cfg), mode)
    opt = torch.optim.AdamW(_param_groups(model, 0.1), lr=3e-4, betas=(0.9, 0.95))
    data = torch.randint(0, cfg.vocab_size, (steps, rows, seq + 1), generator=torch.Generator().manual_seed(1))
    tracker = PeakTensorMemory()
    tracker.track(model.parameters())
    losses = []
    with tracker:
        for x in data:
            tracker.reset_peak()
            before = tracker.live
            s = lm_train_step(model, opt, x[:, :-1], x[:, 1:], micro_batch=rows, clip_grad=1.0, autocast=False)
            losses.append(s.loss)
    return {"peak": tracker.peak, "state": before, "activations": tracker.peak - before, "losses": losses}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    rows_out = []
    for name, overrides, rows, seq in SHAPES:
        cfg = model_config("tiny", **overrides)
        plan_in = PlanInputs(cfg, seq, rows, 1, 1, "ddp", 4, 4)
        base_losses = None
        for mode in CHECKPOINT_MODES:
            m = measure(cfg, rows, seq, mode)
            base_losses = base_losses or m["losses"]
            pred = peak_bytes(plan_in, mode)
            rows_out.append({
                "shape": name, "params": num_params(cfg), "rows": rows, "seq_len": seq, "mode": mode,
                "measured_peak": m["peak"], "planned_peak": pred, "error": pred / m["peak"] - 1,
                "measured_activations": m["activations"], "planned_activations": activation_bytes(plan_in, mode),
                "losses": m["losses"],
                "max_rel_loss_diff": max(abs(a - b) / abs(b) for a, b in zip(m["losses"], base_losses, strict=True)),
            })
            print(f"{name:10s} {mode:9s} measured {m['peak'] / 2**20:8.1f} MiB planned {pred / 2**20:8.1f} MiB "
                  f"({100 * (pred / m['peak'] - 1):+.1f}%)", flush=True)
    cuts = {}
    for name, *_ in SHAPES:
        acts = {r["mode"]: r["measured_activations"] for r in rows_out if r["shape"] == name}
        cuts[name] = {m: 1 - acts[m] / acts["none"] for m in ("selective", "full")}
    commit, dirty = git_commit(ROOT, "src")
    load = os.getloadavg()
    result = {"benchmark": "lm_memory", "command": command_line("lm_memory.py"), "machine": machine_info(),
              "commit": commit, "dirty": dirty, "torch": torch.__version__, "load_average": load,
              "tolerance": TOLERANCE, "rows": rows_out, "activation_cut": cuts,
              "all_within_tolerance": all(abs(r["error"]) <= TOLERANCE for r in rows_out)}
    table = "\n".join(
        f"| {r['shape']} | {r['params']:,} | {r['rows']} x {r['seq_len']} | {r['mode']} | "
        f"{r['measured_peak'] / 2**20:.1f} | {r['planned_peak'] / 2**20:.1f} | {100 * r['error']:+.1f}% | "
        f"{r['measured_activations'] / 2**20:.1f} | {r['max_rel_loss_diff']:.1e} |" for r in rows_out)
    cut_rows = "\n".join(f"| {n} | {100 * c['selective']:.0f}% | {100 * c['full']:.0f}% |" for n, c in cuts.items())
    md = (f"# LM memory: `opencook lm plan` vs measured peak, and activation checkpointing (CPU, fp32)\n\n"
          f"`{result['command']}` — commit {commit}{' (src dirty)' if dirty else ''}; {result['machine']['cpu']}, "
          f"1 thread; load average at the end {load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f} (shared machine; "
          "memory figures do not depend on load).\n\n"
          "Measured = peak bytes of live tensor storages during the 3rd training step (the trainer's step function, "
          "AdamW state present), counted by a dispatch mode that sees every tensor created (`PeakTensorMemory`). "
          "Planned = `opencook.lm.train.plan`, counted from the shapes, no fitted constant. Loss diff = largest "
          "relative difference of the 3 step losses from the unchecked run.\n\n"
          "| shape | params | tokens | checkpoint | measured MiB | planned MiB | error | activations MiB | loss diff |\n"
          "| --- | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: |\n"
          f"{table}\n\nAll within {TOLERANCE:.0%}: {'yes' if result['all_within_tolerance'] else 'NO'}.\n\n"
          "Measured activation memory saved against no checkpointing:\n\n| shape | selective | full |\n"
          f"| --- | ---: | ---: |\n{cut_rows}\n\n"
          "With checkpointing the output head and its loss also run in ceil(vocab / dim) token chunks, each "
          "recomputed in backward, so the [tokens, vocab] log-softmax and its gradients (12 bytes per token per "
          "vocabulary entry in fp32) never exist for the whole micro-batch; without it they are most of the "
          "activations where the vocabulary is large against the blocks (tiny-v8k).\n")
    write_results(Path(args.out), "lm_memory", result, md)
    print(md)


if __name__ == "__main__":
    main()
