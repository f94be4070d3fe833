#!/usr/bin/env bash
# Configures and builds mixserve into build/ (Release with debug info). CUDA targets build when nvcc is found
# (also at /usr/local/cuda/bin); MIXSERVE_CUDA=OFF in the environment forces the CPU-only build.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${JOBS:-$(nproc)}
cmake -S . -B build -G Ninja -DMIXSERVE_CUDA="${MIXSERVE_CUDA:-ON}" >/dev/null
cmake --build build -j"$jobs"
