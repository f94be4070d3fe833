#!/usr/bin/env python3
"""Single-threaded encode speed of HF `tokenizers` on a text file: the peer of benchmarks/tokenizer_bench.

  python3 tools/reference/hf_tokenize_bench.py --tokenizer-dir third_party/tokenizers/llama3 \
      --text /tmp/bench_text.txt [--repeat 3]

Encodes the whole file as one string (Tokenizer.encode, add_special_tokens=False; never encode_batch, which
fans out over threads), best of --repeat runs, and prints one JSON object:
{"impl", "tokenizer", "bytes", "seconds", "mb_per_s", "n_tokens"} with MB = 10^6 bytes of UTF-8 input.
"""
import os

# Rayon reads these when its pool starts, so they must be set before tokenizers is imported.
os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402

from tokenizers import Tokenizer  # noqa: E402
import tokenizers  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tokenizer-dir", required=True, help="directory holding tokenizer.json")
    p.add_argument("--text", required=True, help="UTF-8 text file to encode")
    p.add_argument("--repeat", type=int, default=3, help="timed runs; the fastest counts (default 3)")
    args = p.parse_args()

    tok = Tokenizer.from_file(os.path.join(args.tokenizer_dir, "tokenizer.json"))
    with open(args.text, "rb") as f:
        data = f.read()
    text = data.decode("utf-8")  # strict: both benches must see exactly these bytes
    best, n_tokens = float("inf"), None
    for _ in range(max(1, args.repeat)):
        start = time.perf_counter()
        encoding = tok.encode(text, add_special_tokens=False)
        best = min(best, time.perf_counter() - start)
        n_tokens = len(encoding)  # outside the timing: converting .ids to a Python list is not tokenizing
    print(json.dumps({"impl": f"hf-tokenizers {tokenizers.__version__}",
                      "tokenizer": os.path.basename(os.path.normpath(args.tokenizer_dir)),
                      "bytes": len(data), "seconds": round(best, 6), "mb_per_s": round(len(data) / best / 1e6, 3),
                      "n_tokens": n_tokens}))


if __name__ == "__main__":
    main()
