#!/usr/bin/env python3
"""Reference packer for AWQ and GPTQ int4 checkpoints, from the formats' published definitions (no AutoAWQ or
AutoGPTQ needed; pure Python, no numpy). Writes small safetensors files that the C++ loaders
(kernels/formats/awq_gptq.h) read; each file also holds the plain values (`ref.q` u8 [N][K], `ref.zeros` u8
[N][K/G], `ref.scales` f16 [N][K/G]) so the test checks loader == definition.

AWQ (AutoAWQ WQLinear_GEMM): qweight int32 [K, N/8], nibble i of column c holds q[k][8c + ORDER[i]] with
  ORDER = [0, 2, 4, 6, 1, 3, 5, 7]; qzeros int32 [K/G, N/8] packed the same way; scales f16 [K/G, N].
GPTQ (AutoGPTQ, exllama v1 "gptq" format): qweight int32 [K/8, N], nibble i of row r holds q[8r + i][n];
  qzeros int32 [K/G, N/8], nibble i of column c holds (z[g][8c + i] - 1) & 15 (v1 stores zero - 1);
  scales f16 [K/G, N]; g_idx int32 [K], group of input channel k (k // G without act-order).
Both: w[n][k] = (q - z[g(k)][n]) * s[g(k)][n].

  python3 tools/reference/awq_gptq_pack.py --out tests/data/quant
"""
import argparse, json, os, random, struct

AWQ_ORDER = [0, 2, 4, 6, 1, 3, 5, 7]


def write_safetensors(path, tensors):
    """tensors: name -> (dtype, shape, bytes)."""
    header, offset, blobs = {}, 0, []
    for name, (dtype, shape, data) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        offset += len(data); blobs.append(data)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h))); f.write(h)
        for b in blobs: f.write(b)


def i32(values): return struct.pack("<%di" % len(values), *[v - (1 << 32) if v >= (1 << 31) else v for v in values])
def f16(values): return struct.pack("<%de" % len(values), *values)
def u8(values): return bytes(values)


def random_weight(rng, n, k, g):
    q = [[rng.randrange(16) for _ in range(k)] for _ in range(n)]
    z = [[rng.randrange(16) for _ in range(k // g)] for _ in range(n)]
    # fp16-exact scales: round through struct
    s = [[struct.unpack("<e", struct.pack("<e", rng.uniform(1e-3, 2e-2)))[0] for _ in range(k // g)] for _ in range(n)]
    return q, z, s


def ref_tensors(q, z, s):
    return {"ref.q": ("U8", [len(q), len(q[0])], u8([v for row in q for v in row])),
            "ref.zeros": ("U8", [len(z), len(z[0])], u8([v for row in z for v in row])),
            "ref.scales": ("F16", [len(s), len(s[0])], f16([v for row in s for v in row]))}


def pack_awq(q, z, s, g):
    n, k = len(q), len(q[0])
    qweight = []
    for kk in range(k):
        for c in range(n // 8):
            word = 0
            for i in range(8): word |= q[c * 8 + AWQ_ORDER[i]][kk] << (4 * i)
            qweight.append(word)
    qzeros = []
    for gi in range(k // g):
        for c in range(n // 8):
            word = 0
            for i in range(8): word |= z[c * 8 + AWQ_ORDER[i]][gi] << (4 * i)
            qzeros.append(word)
    scales = [s[nn][gi] for gi in range(k // g) for nn in range(n)]
    return {"layer.qweight": ("I32", [k, n // 8], i32(qweight)), "layer.qzeros": ("I32", [k // g, n // 8], i32(qzeros)),
            "layer.scales": ("F16", [k // g, n], f16(scales))}


def pack_gptq(q, z, s, g, g_idx):
    n, k = len(q), len(q[0])
    qweight = []
    for r in range(k // 8):
        for nn in range(n):
            word = 0
            for i in range(8): word |= q[nn][8 * r + i] << (4 * i)
            qweight.append(word)
    qzeros = []
    for gi in range(k // g):
        for c in range(n // 8):
            word = 0
            for i in range(8): word |= ((z[c * 8 + i][gi] - 1) & 15) << (4 * i)
            qzeros.append(word)
    scales = [s[nn][gi] for gi in range(k // g) for nn in range(n)]
    return {"layer.qweight": ("I32", [k // 8, n], i32(qweight)), "layer.qzeros": ("I32", [k // g, n // 8], i32(qzeros)),
            "layer.scales": ("F16", [k // g, n], f16(scales)), "layer.g_idx": ("I32", [k], i32(g_idx))}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=5)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    rng = random.Random(a.seed)
    n, k = 24, 256
    for g in (64, 128):
        q, z, s = random_weight(rng, n, k, g)
        write_safetensors(f"{a.out}/awq_g{g}.safetensors", {**pack_awq(q, z, s, g), **ref_tensors(q, z, s)})
        write_safetensors(f"{a.out}/gptq_g{g}.safetensors",
                          {**pack_gptq(q, z, s, g, [kk // g for kk in range(k)]), **ref_tensors(q, z, s)})
    # act-order: g_idx is a permutation-derived, unsorted group map; the loader must reject it clearly.
    q, z, s = random_weight(rng, n, k, 128)
    perm = list(range(k)); rng.shuffle(perm)
    write_safetensors(f"{a.out}/gptq_actorder.safetensors",
                      {**pack_gptq(q, z, s, 128, [perm[kk] // 128 for kk in range(k)]), **ref_tensors(q, z, s)})


if __name__ == "__main__":
    main()
