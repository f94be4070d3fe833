#!/bin/bash
# One device call: the attention tests, our benchmark, torch SDPA on the same shapes, the combined table last.
#   source .devbundle-attn/env.sh; benchmarks/attention/run.sh BIN_DIR OUT_DIR
set -o pipefail
bin=${1:?bin dir}; out=${2:?out dir}
nvidia-smi --query-gpu=name,clocks.sm,clocks.mem,memory.used --format=csv | tee "$out/gpu.txt"
timeout 150 "$bin/cuda_tests" --gtest_filter='CudaAttention*' 2>&1 | tee "$out/tests.log" | grep -E "^\[  (FAILED|PASSED|  OK) |Failure|error|Expected|Which is|seed" | head -60
timeout 120 "$bin/attention_bench" "$out/ours.csv" 2>&1 | tee "$out/bench.log"
PYTHONUNBUFFERED=1 timeout 100 python3 "$(dirname "$0")/sdpa_bench.py" "$out/ours.csv" "$out/torch.csv" 2>&1 | tee "$out/sdpa.log"
