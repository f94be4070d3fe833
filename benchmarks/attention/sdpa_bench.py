"""torch SDPA (flash and cuDNN backends, fp16) on the shapes of attention_bench, in the same device call, and
the combined table. Usage: python3 sdpa_bench.py OURS_CSV OUT_CSV"""
import csv
import statistics
import sys

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

HQ, HKV, D = 32, 8, 128
dev = "cuda"


def time_us(fn, reps=50):
    for _ in range(3):
        fn(0)
    ts = []
    for i in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn(i)
        b.record()
        b.synchronize()
        ts.append(a.elapsed_time(b) * 1e3)
    return statistics.median(ts)


def copy_gbs():
    x = torch.empty(2 << 30, dtype=torch.uint8, device=dev)
    y = torch.empty_like(x)
    return 2 * x.numel() / time_us(lambda i: y.copy_(x), 10) * 1e-3


def sdpa(backend, q, k, v, causal):
    with sdpa_kernel(backend):
        try:
            return F.scaled_dot_product_attention(q, k, v, is_causal=causal, enable_gqa=True), "gqa"
        except RuntimeError:
            rep = q.shape[1] // k.shape[1]  # backend without GQA: expanded K/V (more bytes than counted)
            return F.scaled_dot_product_attention(q, k.repeat_interleave(rep, 1), v.repeat_interleave(rep, 1),
                                                  is_causal=causal), "expanded"


def main():
    ours_path, out_path = sys.argv[1], sys.argv[2]
    bw = copy_gbs()
    rows = []
    for B, L in [(1, 4096), (1, 32768), (32, 2048), (64, 4096), (128, 1024)]:
        kv_bytes = 2 * B * L * HKV * D * 2
        copies = max(1, -(-256_000_000 // kv_bytes))
        q = torch.randn(B, HQ, 1, D, device=dev, dtype=torch.half)
        kvs = [(torch.randn(B, HKV, L, D, device=dev, dtype=torch.half),
                torch.randn(B, HKV, L, D, device=dev, dtype=torch.half)) for _ in range(copies)]
        for name, backend in [("flash", SDPBackend.FLASH_ATTENTION), ("cudnn", SDPBackend.CUDNN_ATTENTION)]:
            try:
                _, mode = sdpa(backend, q, *kvs[0], False)
                us = time_us(lambda i: sdpa(backend, q, *kvs[i % copies], False))
                gbs = kv_bytes / us * 1e-3
                rows.append(("decode", f"torch-{name}({mode})", B, L, us, gbs, 100 * gbs / bw))
            except Exception as e:  # noqa: BLE001 - a backend that refuses the shape is reported, not fatal
                print(f"torch {name} decode {B}x{L}: {type(e).__name__}: {str(e)[:120]}")
        del kvs
    for B, L in [(1, 4096), (4, 2048), (1, 16384)]:
        q, k, v = (torch.randn(B, h, L, D, device=dev, dtype=torch.half) for h in (HQ, HKV, HKV))
        for name, backend in [("flash", SDPBackend.FLASH_ATTENTION), ("cudnn", SDPBackend.CUDNN_ATTENTION)]:
            try:
                _, mode = sdpa(backend, q, k, v, True)
                us = time_us(lambda i: sdpa(backend, q, k, v, True), 10)
                rows.append(("prefill", f"torch-{name}({mode})", B, L, us, 2.0 * B * HQ * L * L * D / us * 1e-6, 0))
            except Exception as e:  # noqa: BLE001
                print(f"torch {name} prefill {B}x{L}: {type(e).__name__}: {str(e)[:120]}")
    with open(out_path, "w") as f:
        w = csv.writer(f)
        w.writerow(["kind", "format", "B", "L", "us", "gbs_or_tflops", "pct_copy"])
        w.writerows(rows)
    ours = []
    with open(ours_path) as f:
        for r in csv.DictReader(f):
            if r["kind"] in ("decode", "prefill"):
                ours.append((r["kind"], "ours-" + r["format"], int(r["B"]), int(r["L"]), float(r["us"]),
                             float(r["gbs_or_tflops"]), float(r["pct_copy"])))
    print(f"\ntorch D2D copy {bw:.0f} GB/s (read + write)")
    print(f"{'kind':8} {'impl':28} {'BxL':>9} {'us':>9} {'GB/s|TF':>8} {'%copy':>6}")
    for row in sorted(ours + rows, key=lambda r: (r[0], r[2] * r[3], r[2], r[1])):
        kind, impl, B, L, us, rate, pct = row
        print(f"{kind:8} {impl:28} {f'{B}x{L}':>9} {us:9.1f} {rate:8.1f} {pct:6.1f}")


if __name__ == "__main__":
    main()
