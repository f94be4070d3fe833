#!/usr/bin/env bash
# The main job, as far as it is built today: build, prepare the embedded default model, run it end to end.
# The default model is the synthetic `tiny` checkpoint (random weights; the trained default model and the
# HTTP server are later issues: docs/status.md). It generates from a text prompt on the CPU engine, with the
# real Llama 3 tokenizer beside the synthetic weights.
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/fetch-tokenizers.sh
bash deploy/build.sh
model=models/tiny
[ -f "$model/tokenizer.json" ] || build/bin/mixserve synth --out "$model" --preset tiny --seed 1 \
    --tokenizer third_party/tokenizers/llama3
build/bin/mixserve generate --model "$model" --prompt "The capital of France is" --max-tokens 16
