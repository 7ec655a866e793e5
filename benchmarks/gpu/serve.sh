#!/usr/bin/env bash
# Issue 18 on one GPU (prepared, not yet run): benchmarks/lm_serve.py with SmolLM2-135M-Instruct in bf16 on
# cuda -- today's serialised server vs the continuous-batching engine vs transformers' one-batch generate --
# at a rising number of concurrent clients (32, 64, 128, 256) until the engine's throughput stops growing.
#
#   bash benchmarks/gpu/serve.sh                       # from the repo root, on the GPU machine
#   SERVE_CLIENTS="32 64" SERVE_TOKENS=64 bash benchmarks/gpu/serve.sh   # shorter
#
# Env: SERVE_CLIENTS ("32 64 128 256"), SERVE_TOKENS (128), SERVE_SLOTS (256), PYTHON (python3).
# Writes lm_serve_cuda_<clients>.{json,md} under $OUT if set, else benchmarks/results/. HumanEval has 164
# problems, so beyond 164 clients prompts repeat (the benchmark takes the first N; see --clients).
set -euo pipefail
cd "$(dirname "$0")/../.."
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
PY="${PYTHON:-python3}"
[ -f runs/smollm2/config.json ] || "$PY" -m opencook lm import-hf smollm2 --out runs/smollm2
SLOTS="${SERVE_SLOTS:-256}"; TOKENS="${SERVE_TOKENS:-128}"
for n in ${SERVE_CLIENTS:-32 64 128 256}; do
  echo "== $n clients x $TOKENS tokens, bf16, $SLOTS slots"
  skip=(vllm)
  [ "$n" -gt 64 ] && skip+=(old)   # the serialised server only gets slower per client; 32 and 64 show it
  "$PY" benchmarks/lm_serve.py --clients "$n" --new-tokens "$TOKENS" --slots "$SLOTS" --dtype bfloat16 \
    --device cuda --threads 4 --skip "${skip[@]}"
done
