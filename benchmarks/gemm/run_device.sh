#!/usr/bin/env bash
# One device call: GEMM correctness tests, gemm_bench (int4/int8 table, then the fp8 table), torch peers; logs
# under $OUT, short tables last.
#   source .devbundle/env.sh; bash benchmarks/gemm/run_device.sh [gemm_bench options, e.g. --quick]
set -u
OUT=${OUT:-/tmp/gemm_out}; mkdir -p "$OUT"
nvidia-smi --query-gpu=name,clocks.sm,clocks.mem,power.draw,temperature.gpu --format=csv > "$OUT/gpu.txt" 2>&1
timeout 180 cuda_tests --gtest_filter='*Gemm*:CudaLinearOp*:Fp8*' > "$OUT/cuda_tests.log" 2>&1; echo "cuda_tests rc=$?" >> "$OUT/cuda_tests.log"
timeout 120 gemm_bench --fp8 "$@" > "$OUT/gemm_bench_fp8.log" 2>&1; echo "gemm_bench --fp8 rc=$?" >> "$OUT/gemm_bench_fp8.log"
timeout 240 gemm_bench --tune-cache="$OUT/gemm_tune_cache.txt" "$@" > "$OUT/gemm_bench.log" 2>&1; echo "gemm_bench rc=$?" >> "$OUT/gemm_bench.log"
timeout 90 /opt/torch/.venv/bin/python3 benchmarks/gemm/torch_peers.py > "$OUT/torch_peers.log" 2>&1 \
  || timeout 60 python3 benchmarks/gemm/torch_peers.py > "$OUT/torch_peers.log" 2>&1
echo "torch_peers rc=$?" >> "$OUT/torch_peers.log"
grep -E "^\[  (PASSED|FAILED)|FAILED|rc=" "$OUT/cuda_tests.log" | head -20
cut -c1-100 "$OUT/torch_peers.log"
cut -c1-140 "$OUT/gemm_bench_fp8.log"
cut -c1-118 "$OUT/gemm_bench.log"
