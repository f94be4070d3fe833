#!/usr/bin/env bash
# One device call: GEMM correctness tests, gemm_bench, torch peers; logs under $OUT, short tables last.
#   source .devbundle-gemm/env.sh; bash benchmarks/gemm/run_device.sh
set -u
OUT=${OUT:-/tmp/gemm_out}; mkdir -p "$OUT"
nvidia-smi --query-gpu=name,clocks.sm,clocks.mem,power.draw,temperature.gpu --format=csv > "$OUT/gpu.txt" 2>&1
timeout 150 cuda_tests --gtest_filter='*Gemm*:CudaLinearOp*' > "$OUT/cuda_tests.log" 2>&1; echo "cuda_tests rc=$?" >> "$OUT/cuda_tests.log"
timeout 300 gemm_bench --tune-cache="$OUT/gemm_tune_cache.txt" > "$OUT/gemm_bench.log" 2>&1; echo "gemm_bench rc=$?" >> "$OUT/gemm_bench.log"
timeout 75 /opt/torch/.venv/bin/python3 benchmarks/gemm/torch_peers.py > "$OUT/torch_peers.log" 2>&1 \
  || timeout 40 python3 benchmarks/gemm/torch_peers.py > "$OUT/torch_peers.log" 2>&1
echo "torch_peers rc=$?" >> "$OUT/torch_peers.log"
( command -v cuobjdump || ls /usr/local/cuda/bin/cuobjdump ) >/dev/null 2>&1 && /usr/local/cuda/bin/cuobjdump -sass "$(command -v gemm_bench)" | grep -oE "HMMA[.A-Z0-9]*|LDSM[.A-Z0-9]*|LDL[.A-Z0-9]*|STL[.A-Z0-9]*|LDG[.A-Z0-9]*|LOP3[.A-Z]*|PRMT" | sort | uniq -c > "$OUT/sass.txt" 2>&1
cat "$OUT/sass.txt"
grep -E "^\[  (PASSED|FAILED)|FAILED|rc=" "$OUT/cuda_tests.log" | head -20
cat "$OUT/torch_peers.log" | cut -c1-80
cat "$OUT/gemm_bench.log" | cut -c1-118
