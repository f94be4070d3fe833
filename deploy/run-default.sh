#!/usr/bin/env bash
# The main job, as far as it is built today: build, prepare the embedded default model, run it end to end.
# The default model is the synthetic `tiny` checkpoint (random weights; the trained default model and the
# HTTP server are later issues: docs/status.md). It generates from fixed prompt ids on the CPU engine.
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/build.sh
model=models/tiny
[ -f "$model/config.json" ] || build/bin/mixserve synth --out "$model" --preset tiny --seed 1
build/bin/mixserve generate --model "$model" --prompt-ids 128000,791,6460,374 --max-tokens 16
