#!/usr/bin/env bash
# The main job: build, start the OpenAI-compatible server on the embedded default model
# (models/mixserve-tiny-en: a 14M-parameter Llama trained on Debian's fortunes and dictionaries,
# docs/default_model.md), send one completion request, print the answer, and stop the server (SIGTERM drains).
#
#   deploy/run-default.sh            # serves on 127.0.0.1:8000 (PORT=... to change), exits after the request
#   KEEP_SERVING=1 deploy/run-default.sh   # keeps serving until Ctrl-C
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/fetch-tokenizers.sh
bash deploy/build.sh

model=${MODEL:-models/mixserve-tiny-en}
port=${PORT:-8000}
prompt=${PROMPT:-"The best way to learn a language is"}
log=$(mktemp)
build/bin/mixserve serve --model "$model" --port "$port" > "$log" 2>&1 &
server=$!
trap 'kill -TERM $server 2> /dev/null || true; wait $server 2> /dev/null || true; rm -f "$log"' EXIT

for _ in $(seq 1 240); do
  grep -q 'ready: serving the OpenAI API' "$log" && break
  kill -0 "$server" 2> /dev/null || { cat "$log"; echo "run-default.sh: the server exited" >&2; exit 1; }
  sleep 0.5
done
grep -q 'ready: serving the OpenAI API' "$log" || { cat "$log"; echo "run-default.sh: not ready in 120 s" >&2; exit 1; }
grep 'ready: serving' "$log"

name=$(basename "$model")
body=$(printf '{"model": "%s", "prompt": "%s", "max_tokens": 40, "temperature": 0}' \
  "$name" "$prompt")
echo "POST /v1/completions $body"
curl -sS --fail-with-body -m 120 "http://127.0.0.1:$port/v1/completions" -H 'content-type: application/json' \
  -d "$body" | python3 -c 'import json, sys; r = json.load(sys.stdin); print(json.dumps(r, indent=2)); print("\n" + sys.argv[1] + r["choices"][0]["text"])' "$prompt"

if [ -n "${KEEP_SERVING:-}" ]; then
  echo "serving on http://127.0.0.1:$port (Ctrl-C to stop)"
  wait "$server"
fi
