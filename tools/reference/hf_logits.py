#!/usr/bin/env python3
"""Golden next-token logits from HF transformers for a model directory.

Runs the whole token sequence through AutoModelForCausalLM in one forward pass (eager attention, float32 by
default, TF32 off) and writes, for every position, the logsumexp over the vocabulary, the top logits and the
logits of a fixed set of probe ids. The mixserve tests compare the engine against these numbers; see
README.md next to this file for how to run it and what the JSON holds.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
import transformers
from transformers import AutoModelForCausalLM

PROBE_SEED = 1234  # probe ids are the same for every golden of a vocabulary size

DTYPES = {"float32": torch.float32, "float64": torch.float64, "bfloat16": torch.bfloat16, "float16": torch.float16}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True, help="HF model directory (config.json + safetensors)")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--tokens", help="comma-separated token ids, e.g. 128000,791,4062")
    source.add_argument("--tokens-random", type=int, metavar="N",
                        help="N token ids drawn uniformly from [0, vocab) by numpy RandomState(--seed)")
    p.add_argument("--seed", type=int, default=0, help="seed of --tokens-random (default 0)")
    p.add_argument("--out", required=True, help="output JSON path")
    p.add_argument("--n-prefill", type=int, default=None,
                   help="recorded for the consumer: how many leading tokens the engine test prefills before "
                        "decoding the rest one by one (default min(32, number of tokens))")
    p.add_argument("--n-probe", type=int, default=64, help="probe ids per position (default 64)")
    p.add_argument("--top", type=int, default=32, help="top logits kept per position (default 32)")
    p.add_argument("--dtype", default="float32", choices=sorted(DTYPES), help="compute dtype (default float32)")
    p.add_argument("--device", default=None, help="torch device (default cuda when available, else cpu)")
    return p.parse_args()


def fail(message):
    print(f"hf_logits.py: {message}", file=sys.stderr)
    sys.exit(2)


def load_model(model_dir, dtype, device):
    # transformers 5 renamed torch_dtype= to dtype= (4.56+ accept both); 4.x before that would silently take an
    # unknown `dtype=` as a config attribute. Pick by version, retry with the other name on TypeError, and
    # cast afterwards anyway so the compute dtype never depends on which keyword took effect.
    major = int(transformers.__version__.split(".")[0])
    names = ["dtype", "torch_dtype"] if major >= 5 else ["torch_dtype", "dtype"]
    last_error = None
    for name in names:
        try:
            model = AutoModelForCausalLM.from_pretrained(model_dir, attn_implementation="eager", **{name: dtype})
            break
        except TypeError as e:
            last_error = e
    else:
        raise last_error
    model = model.to(device=device, dtype=dtype)
    model.eval()
    return model


def main():
    args = parse_args()
    config_path = os.path.join(args.model, "config.json")
    if not os.path.isfile(config_path):
        fail(f"{config_path}: not found")
    with open(config_path) as f:
        config = json.load(f)

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    # Goldens must be true fp32: no TF32 in matmuls or convolutions.
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")
    dtype = DTYPES[args.dtype]
    model = load_model(args.model, dtype, device)

    vocab = model.get_output_embeddings().weight.shape[0]
    if args.tokens is not None:
        try:
            tokens = [int(t) for t in args.tokens.split(",") if t.strip()]
        except ValueError:
            fail(f"--tokens must be comma-separated integers, got '{args.tokens}'")
    else:
        if args.tokens_random <= 0:
            fail("--tokens-random must be positive")
        tokens = np.random.RandomState(args.seed).randint(0, vocab, size=args.tokens_random).tolist()
    if not tokens:
        fail("no tokens")
    bad = [t for t in tokens if not 0 <= t < vocab]
    if bad:
        fail(f"token ids outside [0, {vocab}): {bad[:8]}")
    n_prefill = min(32, len(tokens)) if args.n_prefill is None else args.n_prefill
    if not 0 < n_prefill <= len(tokens):
        fail(f"--n-prefill {n_prefill} is not in [1, {len(tokens)}]")
    if not 0 <= args.n_probe <= vocab or not 0 < args.top <= vocab:
        fail(f"--n-probe and --top must be within the vocabulary size {vocab}")

    # Without replacement, so every probe is a distinct id; drawn in this order, the same for all positions.
    probe_ids = np.random.RandomState(PROBE_SEED).choice(vocab, size=args.n_probe, replace=False).tolist()

    with torch.no_grad():
        input_ids = torch.tensor([tokens], dtype=torch.long, device=device)
        logits = model(input_ids=input_ids, use_cache=False).logits[0].float()  # [n_tokens, vocab]
        logsumexp = logits.double().logsumexp(dim=-1)
        top_logits, top_ids = logits.topk(args.top, dim=-1)
        probe_logits = logits[:, torch.tensor(probe_ids, dtype=torch.long, device=device)]

    # float32 values become Python floats exactly, and json writes them with repr: full precision.
    positions = [
        {
            "logsumexp": logsumexp[p].item(),
            "top_ids": top_ids[p].tolist(),
            "top_logits": top_logits[p].tolist(),
            "probe_ids": probe_ids,
            "probe_logits": probe_logits[p].tolist(),
        }
        for p in range(len(tokens))
    ]
    golden = {
        "model_dir": os.path.abspath(args.model),
        "config": config,
        "tokens": tokens,
        "n_prefill": n_prefill,
        "dtype": args.dtype,
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__, "device": str(device)},
        "positions": positions,
    }
    with open(args.out, "w") as f:
        json.dump(golden, f)
        f.write("\n")
    print(f"hf_logits.py: {len(tokens)} positions, vocab {vocab}, {args.dtype} on {device} -> {args.out}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
