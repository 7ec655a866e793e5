#!/usr/bin/env bash
# Issue 16 on one GPU: (1) 20 steps of the OpenCoder-1.5B shape at seq 4096, bf16 (FSDP2 mixed precision:
# bf16 compute, fp32 master weights and reductions), full activation checkpointing, compiled blocks, through
# the real trainer under torchrun: tokens/s, MFU and peak memory against `opencook lm plan`; (2) one short run
# of every phase on the device -- pretrain (with a sequence-length switch, document mask and validation loss)
# -> anneal -> SFT -> export-hf -- to prove the CUDA paths (bf16 autocast, NCCL, FSDP2, DCP).
#
#   bash benchmarks/gpu/lm_mfu.sh                                  # from the repo root, on the GPU machine
#   LM_MFU_PRESET=tiny LM_MFU_SEQ=128 LM_MFU_STEPS=4 LM_MFU_MICRO=2 bash benchmarks/gpu/lm_mfu.sh   # CPU smoke
#
# Env: LM_MFU_PRESET (1.5b), LM_MFU_SEQ (4096), LM_MFU_STEPS (20), LM_MFU_MICRO (rows per forward, 2),
# LM_MFU_ACCUM (micro-steps per step, 1), LM_MFU_CKPT (full), LM_MFU_COMPILE (true), PYTHON (python3).
# Writes lm_mfu_gpu.{json,md} and the runs' report.html files under $OUT if set, else benchmarks/results/.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
PY="${PYTHON:-python3}"
OUT_DIR="${OUT:-benchmarks/results}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$OUT_DIR"
PRESET="${LM_MFU_PRESET:-1.5b}"; SEQ="${LM_MFU_SEQ:-4096}"; STEPS="${LM_MFU_STEPS:-20}"
MICRO="${LM_MFU_MICRO:-2}"; ACCUM="${LM_MFU_ACCUM:-1}"; CKPT="${LM_MFU_CKPT:-full}"; COMPILE="${LM_MFU_COMPILE:-true}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-4}"
run1() { "$PY" -m torch.distributed.run --nproc-per-node 1 --standalone -m opencook "$@"; }

echo "== data: tokenizer and packed shards from this Python's standard library"
STDLIB="$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')"
"$PY" -m opencook lm tokenizer train "$STDLIB" --out "$WORK/tok" --vocab-size 2048 --max-docs 400 --quiet
"$PY" -m opencook lm data build "$STDLIB" --tokenizer "$WORK/tok" --out "$WORK/packed" --quiet \
    --max-docs "$(( STEPS * MICRO * ACCUM * SEQ / 2000 + 300 ))"
"$PY" -m opencook lm data sft recipes/lm/sft_demo.jsonl --tokenizer "$WORK/tok" --out "$WORK/sft" --max-len 257 --quiet

echo "== (1) $PRESET at seq $SEQ, $STEPS steps, bf16, FSDP2, checkpoint $CKPT, compile $COMPILE"
cat > "$WORK/mfu.yaml" <<YAML
name: lm_mfu
tokenizer: $WORK/tok
model: {preset: "$PRESET", overrides: {vocab_size: 96640, max_seq_len: $SEQ}}
data: {sources: [{path: $WORK/packed}], seq_len: $SEQ, global_batch: $(( MICRO * ACCUM ))}
micro_batch: $MICRO
steps: $STEPS
parallel: fsdp
compile: $COMPILE
dtype: bfloat16
memory: {activation_checkpoint: $CKPT, param_dtype: bfloat16, reduce_dtype: float32}
schedule: {warmup_steps: 2}
checkpoint_every: 0
log_every: 1
tensorboard: false
YAML
"$PY" -m opencook lm plan "$WORK/mfu.yaml" --gpus 1 --gpu-memory 80 | tee "$WORK/plan.txt"
run1 lm pretrain "$WORK/mfu.yaml" --out "$WORK/mfu"
cp "$WORK/mfu/report.html" "$OUT_DIR/lm_mfu_gpu_report.html"

echo "== (2) every phase on the device, tiny shape"
cat > "$WORK/pre.yaml" <<YAML
name: phase_pretrain
tokenizer: $WORK/tok
model: {preset: tiny, overrides: {max_seq_len: 512}}
data: {sources: [{path: $WORK/packed}], seq_len: 128, global_batch: 8, holdout: 0.05, document_mask: true,
       switches: [{step: 6, seq_len: 256, global_batch: 4}]}
micro_batch: 4
steps: 10
parallel: fsdp
dtype: bfloat16
memory: {activation_checkpoint: selective, param_dtype: bfloat16, reduce_dtype: float32}
eval_every: 5
eval_batches: 1
checkpoint_every: 5
tensorboard: false
YAML
run1 lm pretrain "$WORK/pre.yaml" --out "$WORK/pre" --until-step 5
run1 lm pretrain "$WORK/pre.yaml" --out "$WORK/pre"          # resumes across the switch at step 6
cat > "$WORK/anneal.yaml" <<YAML
name: phase_anneal
tokenizer: $WORK/tok
init_from: $WORK/pre
data: {sources: [{path: $WORK/packed}], seq_len: 256, global_batch: 4}
micro_batch: 4
steps: 4
dtype: bfloat16
checkpoint_every: 0
tensorboard: false
YAML
run1 lm anneal "$WORK/anneal.yaml" --out "$WORK/anneal"
cat > "$WORK/sft.yaml" <<YAML
name: phase_sft
tokenizer: $WORK/tok
init_from: $WORK/anneal
data: {sft: $WORK/sft, seq_len: 256, global_batch: 4}
micro_batch: 4
epochs: 1
dtype: bfloat16
optim: {lr: 1.0e-4, final_lr: 0.0, weight_decay: 0.0}
checkpoint_every: 0
tensorboard: false
YAML
run1 lm sft "$WORK/sft.yaml" --out "$WORK/sft_run"
"$PY" -m opencook lm export-hf "$WORK/sft_run" --out "$WORK/hf" --chat

exec "$PY" - "$WORK" "$OUT_DIR" "$PRESET" "$SEQ" "$MICRO" "$ACCUM" "$CKPT" "$COMPILE" <<'PY'
import json, os, platform, statistics, subprocess, sys
from pathlib import Path

import torch

work, out, preset, seq, micro, accum, ckpt, compiled = sys.argv[1:]
work, out = Path(work), Path(out)
recs = [json.loads(l) for l in (work / "mfu" / "metrics.jsonl").read_text().splitlines()]
train = [r for r in recs if r.get("kind") == "train"]
steady = train[len(train) // 4:] or train  # the first steps compile and warm up
tps = statistics.median(r["tokens_per_s_per_device"] for r in steady)
mfu = statistics.median(r["mfu"] for r in steady) if all("mfu" in r for r in steady) else None
peak_mib = max(r["memory_mib"] for r in train)
plan = (work / "plan.txt").read_text()
planned = next((float(l.split()[3]) for l in plan.splitlines() if l.strip().startswith(f"peak, checkpoint {ckpt}")), None)
phases = {}
for name in ("pre", "anneal", "sft_run"):
    s = json.loads((work / name / "summary.json").read_text())
    phases[name] = {k: s.get(k) for k in ("phase", "steps", "final_loss", "final_val_loss", "device", "world_size",
                                         "resumed_from")}
device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else platform.processor() or "cpu"
commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
result = {"benchmark": "lm_mfu_gpu", "device": device, "torch": torch.__version__, "commit": commit,
          "preset": preset, "seq_len": int(seq), "micro_batch": int(micro), "grad_accum": int(accum),
          "activation_checkpoint": ckpt, "compile": compiled == "true", "steps": len(train),
          "median_tokens_per_s": tps, "median_mfu": mfu, "peak_memory_gib": peak_mib / 1024,
          "planned_peak_gib": planned, "losses": [r["loss"] for r in train], "plan": plan, "phases": phases,
          "hf_export": sorted(p.name for p in (work / "hf").iterdir())}
(out / "lm_mfu_gpu.json").write_text(json.dumps(result, indent=1) + "\n")
err = f"{100 * (planned / (peak_mib / 1024) - 1):+.1f}%" if planned else "n/a"
md = (f"# LM on one GPU: {preset} at seq {seq}, bf16, FSDP2, checkpoint {ckpt}, compile {compiled}\n\n"
      f"`bash benchmarks/gpu/lm_mfu.sh` — commit {commit}; {device}; torch {torch.__version__}.\n\n"
      f"| tokens/s per device (median, steady) | MFU | peak memory GiB (measured) | planned GiB | plan error |\n"
      f"| ---: | ---: | ---: | ---: | ---: |\n"
      f"| {tps:,.0f} | {'n/a' if mfu is None else f'{100 * mfu:.1f}%'} | {peak_mib / 1024:.2f} | "
      f"{planned if planned is not None else 'n/a'} | {err} |\n\n"
      f"{micro} x {seq} tokens per forward, grad accum {accum}, {len(train)} steps (median of the last "
      f"{len(steady)}). Phases on the device:\n\n| run | phase | steps | final loss | val loss | device |\n"
      f"| --- | --- | ---: | ---: | ---: | --- |\n"
      + "".join(f"| {n} | {p['phase']} | {p['steps']} | {p['final_loss']:.4f} | {'-' if p['final_val_loss'] is None else format(p['final_val_loss'], '.4f')} | "
                f"{p['device']} |\n" for n, p in phases.items())
      + f"\nExported HF directory: {', '.join(result['hf_export'])}.\n")
(out / "lm_mfu_gpu.md").write_text(md)
print(md)
PY
