#!/usr/bin/env bash
# Builds everything (the CUDA code too when nvcc is present) and runs the CPU test suite with CTest.
# CUDA tests need a GPU and run on the GPU machine (docs/gpu.md), not here.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
bash deploy/fetch-tokenizers.sh
bash deploy/build.sh
ctest --test-dir build --output-on-failure -j"${JOBS:-$(nproc)}" --timeout 900
echo "deploy/test.sh: build and tests took $(( $(date +%s) - start )) s"
