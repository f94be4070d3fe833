#!/usr/bin/env bash
# Runs openai_client_test.mjs (the official `openai` npm client) against a real `mixserve serve` of the
# synthetic tiny model with the real Llama 3 tokenizer, then checks that SIGTERM drains and exits 0.
# Everything is bounded: the server gets 120 s to come up, the client 300 s, the drain 40 s.
#
#   tests/e2e/run_openai_client_test.sh path/to/mixserve
set -euo pipefail
mixserve=$(realpath "$1")
cd "$(dirname "$0")/../.."

bash deploy/install-node-test-deps.sh
bash deploy/fetch-tokenizers.sh

work=$(mktemp -d)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2> /dev/null; then
    kill -KILL "$server_pid" 2> /dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

"$mixserve" synth --out "$work/tiny" --preset tiny --seed 1 > /dev/null
log=$work/serve.log
# Port 0: the kernel picks a free port and the server logs it, so parallel test runs never collide.
MIXSERVE_LOG_LEVEL=info "$mixserve" serve --model "$work/tiny" --tokenizer third_party/tokenizers/llama3 \
  --served-model-name tiny --port 0 --kv-tokens 8192 --drain-timeout 30 > "$log" 2>&1 &
server_pid=$!

port=""
for _ in $(seq 1 240); do
  port=$(sed -n 's/.*ready: serving the OpenAI API on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$log" | head -n1)
  [ -n "$port" ] && break
  kill -0 "$server_pid" 2> /dev/null || { echo "mixserve serve exited early:"; cat "$log"; exit 1; }
  sleep 0.5
done
[ -n "$port" ] || { echo "mixserve serve did not become ready in 120 s:"; cat "$log"; exit 1; }
echo "mixserve serve is ready on port $port"

status=0
MIXSERVE_URL="http://127.0.0.1:$port" MIXSERVE_MODEL=tiny \
  NODE_TEST_DEPS="$PWD/third_party/downloads/node-test-deps" \
  timeout 300 node tests/e2e/openai_client_test.mjs || status=$?

# SIGTERM drains: a stream in flight finishes, /ready answers 503 meanwhile, and the process exits 0.
curl -sN -m 120 "http://127.0.0.1:$port/v1/completions" -H 'content-type: application/json' \
  -d '{"model": "tiny", "prompt": "drain", "max_tokens": 200, "ignore_eos": true, "stream": true}' \
  > "$work/drain_stream.txt" &
curl_pid=$!
for _ in $(seq 1 100); do grep -q '^data: ' "$work/drain_stream.txt" 2> /dev/null && break; sleep 0.1; done
kill -TERM "$server_pid"
sleep 0.2
ready_during_drain=$(curl -s -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/ready" || true)
exit_code=""
for _ in $(seq 1 80); do
  if ! kill -0 "$server_pid" 2> /dev/null; then
    wait "$server_pid" && exit_code=0 || exit_code=$?
    break
  fi
  sleep 0.5
done
if [ "$exit_code" != "0" ]; then
  echo "FAIL: after SIGTERM the server exited with '${exit_code:-still running after 40 s}'"
  status=1
fi
grep -q "draining" "$log" || { echo "FAIL: no drain in the server log"; status=1; }
wait "$curl_pid" || true
events=$(grep -c '^data: ' "$work/drain_stream.txt" || true)
# It ran to its end: the length finish (all 200 tokens) and [DONE], not an abort.
if ! tail -n 2 "$work/drain_stream.txt" | grep -q '^data: \[DONE\]' ||
   ! grep -q '"finish_reason":"length"' "$work/drain_stream.txt"; then
  echo "FAIL: the stream in flight at SIGTERM did not finish (${events} events)"
  status=1
fi
if [ "$ready_during_drain" != "503" ] && [ "$ready_during_drain" != "000" ]; then
  echo "FAIL: /ready answered $ready_during_drain while draining"
  status=1
fi
echo "drain: in-flight stream finished with $events events, /ready during drain: $ready_during_drain"
if [ "$status" -ne 0 ]; then
  echo "---- server log (tail) ----"
  tail -n 60 "$log"
fi
exit "$status"
