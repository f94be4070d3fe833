"""Torch peers of gemm_bench, run in the same device call: cuBLAS fp16 through torch, torch's int4 kernel
(_weight_int4pack_mm, tinygemm, g128, bf16 activations) and fp8 _scaled_mm (e4m3, bf16 out) with per-tensor scales
and with row-wise scales (per token x per channel, what our W8A8 computes); x is quantized outside the timing.
Adapted from shared/reference/peers.py (GEMM section only). Prints one line per (layer, M)."""
import torch

dev = 'cuda'
torch.manual_seed(0)


def bench(fn, iters=30, warm=5):
    for _ in range(warm):
        fn()
    torch.cuda.synchronize()
    ts = []
    for _ in range(iters):
        a = torch.cuda.Event(enable_timing=True); b = torch.cuda.Event(enable_timing=True)
        a.record(); fn(); b.record(); b.synchronize(); ts.append(a.elapsed_time(b))
    ts.sort()
    return ts[len(ts) // 2] * 1e3


p = torch.cuda.get_device_properties(0)
x = torch.empty(2**30, dtype=torch.uint8, device=dev).random_(); y = torch.empty_like(x)
us = bench(lambda: y.copy_(x), 10)
print(f"# torch {torch.__version__} on {p.name}: copy d2d {2 * x.numel() / (us * 1e-6) / 1e9:.0f} GB/s (r+w)")
del x, y
shapes = {"qkv": (6144, 4096), "o": (4096, 4096), "gate_up": (28672, 4096), "down": (4096, 14336)}
Ms = [1, 16, 32, 64, 128, 256, 1024, 4096]
print(f"{'layer':8s} {'M':>5s} | {'torch fp16':>10s} | {'int4 tinygemm':>13s} | {'fp8 scaled_mm':>13s} | {'fp8 rowwise':>11s}  (us, median)")
for name, (N, K) in shapes.items():
    W = torch.randn(N, K, dtype=torch.float16, device=dev) * 0.02
    g = 128
    Wr = W.bfloat16().float().reshape(N, K // g, g)
    mn = Wr.amin(-1, keepdim=True); mx = Wr.amax(-1, keepdim=True)
    scale = (mx - mn).clamp(min=1e-6) / 15
    q = ((Wr - mn) / scale).round().clamp(0, 15).to(torch.int32).reshape(N, K)
    zero = mn + scale * 8
    sz = torch.cat([scale.reshape(N, K // g, 1), zero.reshape(N, K // g, 1)], -1).transpose(0, 1).contiguous().bfloat16()
    packed = None
    try:
        q8 = (q[:, ::2] << 4 | q[:, 1::2]).to(torch.uint8)
        packed = torch._convert_weight_to_int4pack(q8, 8)
    except Exception as e:
        print("int4 tinygemm unavailable:", repr(e)[:200])
    Wf8 = W.to(torch.float8_e4m3fn)
    one = torch.tensor(1.0, device=dev)
    for M in Ms:
        X = torch.randn(M, K, dtype=torch.float16, device=dev)
        iters = 10 if M >= 1024 else 30
        t16 = bench(lambda: X @ W.t(), iters)
        Xb = X.bfloat16()
        t4 = bench(lambda: torch._weight_int4pack_mm(Xb, packed, g, sz), iters) if packed is not None else float('nan')
        t8 = t8r = float('nan')
        Xf8 = X.to(torch.float8_e4m3fn)
        try:
            t8 = bench(lambda: torch._scaled_mm(Xf8, Wf8.t(), one, one, out_dtype=torch.bfloat16), iters)
        except Exception as e:
            print("scaled_mm error", repr(e)[:200])
        sa = torch.ones(M, 1, dtype=torch.float32, device=dev); sb = torch.ones(1, N, dtype=torch.float32, device=dev)
        try:
            t8r = bench(lambda: torch._scaled_mm(Xf8, Wf8.t(), sa, sb, out_dtype=torch.bfloat16), iters)
        except Exception as e:
            print("scaled_mm rowwise error", repr(e)[:200])
        print(f"{name:8s} {M:5d} | {t16:10.1f} | {t4:13.1f} | {t8:13.1f} | {t8r:11.1f}", flush=True)
    del W, Wf8, packed
