#!/usr/bin/env python3
"""Golden token ids and decodes from HF `tokenizers` for every string of the tokenizer parity corpus.

  python3 tools/reference/hf_tokenize.py --tokenizer-dir third_party/tokenizers/llama3 \
      --corpus tests/data/tokenizer/corpus.jsonl --out tests/data/tokenizer/golden-llama3.json

Uses `tokenizers.Tokenizer.from_file(DIR/tokenizer.json)`, the library behind transformers' fast tokenizers.
Each corpus string gets one entry:

  text          the string itself, so a test can tell a golden made from another corpus
  ids           encode(text, add_special_tokens=False).ids
  ids_special   encode(text, add_special_tokens=True).ids (the post-processor's BOS, if it adds one)
  decoded       decode(ids, skip_special_tokens=False)
  decoded_skip  decode(ids_special, skip_special_tokens=True)

`decode_cases` holds id sequences no encode produces, with HF's decode (skip_special_tokens False and True):
uniformly random ids over the whole vocabulary, random ids a third of which are special tokens, and random
slices of the corpus's ids, which cut multi-byte characters (HF decodes broken UTF-8 lossily, to U+FFFD).

When transformers is importable it also loads AutoTokenizer from DIR and records, under
`transformers_check`, how many strings it encodes or decodes differently from `tokenizers` (information for
the reader; transformers applies tokenizer_config.json, e.g. clean_up_tokenization_spaces, on top).
Output: compact JSON, one entry per line so a regenerated golden diffs readably.
"""
import argparse
import hashlib
import json
import os
import platform
import random
import sys

from tokenizers import Tokenizer
import tokenizers


def fail(message):
    print(f"hf_tokenize.py: {message}", file=sys.stderr)
    sys.exit(2)


def sha256_of(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def read_corpus(path):
    texts = []
    with open(path, "r", encoding="utf-8", newline="\n") as f:
        for n, line in enumerate(f, 1):
            value = json.loads(line)
            if not isinstance(value, str):
                fail(f"{path}:{n}: expected a JSON string")
            texts.append(value)
    return texts


def golden_entries(tok, texts):
    entries = []
    for text in texts:
        ids = tok.encode(text, add_special_tokens=False).ids
        ids_special = tok.encode(text, add_special_tokens=True).ids
        entries.append({"text": text, "ids": ids, "ids_special": ids_special,
                        "decoded": tok.decode(ids, skip_special_tokens=False),
                        "decoded_skip": tok.decode(ids_special, skip_special_tokens=True)})
    return entries


def decode_cases(tok, special_ids, entries, n_random=150, n_specials=50, n_slices=100):
    rng = random.Random(1234)  # the ids are stored in the golden, so the generator need not be portable
    vocab = tok.get_vocab_size(with_added_tokens=True)
    sequences = [[rng.randrange(vocab) for _ in range(rng.randint(1, 32))] for _ in range(n_random)]
    # Random ids almost never hit the few special tokens, so these sequences are a third specials.
    sequences += [[rng.choice(special_ids) if rng.random() < 0.3 else rng.randrange(vocab)
                   for _ in range(rng.randint(1, 24))] for _ in range(n_specials)]
    sources = [e["ids"] for e in entries if len(e["ids"]) >= 2 and any(ord(c) > 127 for c in e["text"])]
    for _ in range(n_slices):
        ids = rng.choice(sources)
        a = rng.randrange(len(ids) - 1)
        sequences.append(ids[a:a + rng.randint(1, min(24, len(ids) - a))])
    return [{"ids": ids, "decoded": tok.decode(ids, skip_special_tokens=False),
             "decoded_skip": tok.decode(ids, skip_special_tokens=True)} for ids in sequences]


def first_difference(a, b):
    """Position of the first difference of two strings or id lists and a short window of each there."""
    p = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    lo = max(0, p - 8)
    return p, a[lo:p + 24], b[lo:p + 24]


def transformers_check(tokenizer_dir, entries):
    """Where transformers' AutoTokenizer disagrees with `tokenizers` on the same files; never fatal."""
    try:
        import transformers
        from transformers import AutoTokenizer
        auto = AutoTokenizer.from_pretrained(tokenizer_dir, local_files_only=True)
        result = {"transformers": transformers.__version__, "class": type(auto).__name__,
                  "encode_differs": 0, "encode_special_differs": 0, "decode_differs": 0,
                  "decode_skip_differs": 0, "examples": []}
        for i, e in enumerate(entries):
            checks = [("encode_differs", list(auto.encode(e["text"], add_special_tokens=False)), e["ids"]),
                      ("encode_special_differs", list(auto.encode(e["text"], add_special_tokens=True)),
                       e["ids_special"]),
                      ("decode_differs", auto.decode(e["ids"], skip_special_tokens=False), e["decoded"]),
                      ("decode_skip_differs", auto.decode(e["ids_special"], skip_special_tokens=True),
                       e["decoded_skip"])]
            for key, from_transformers, from_tokenizers in checks:
                if from_transformers != from_tokenizers:
                    result[key] += 1
                    if result[key] <= 3:  # the first three of each kind
                        at, t, k = first_difference(from_transformers, from_tokenizers)
                        result["examples"].append({"index": i, "what": key, "at": at, "transformers": t,
                                                   "tokenizers": k})
        return result
    except Exception as e:  # noqa: BLE001: a failure only means the check is not available
        return {"error": f"{type(e).__name__}: {e}"}


def write_golden(path, header, lists):
    dump = lambda v: json.dumps(v, ensure_ascii=False, separators=(",", ":"))  # noqa: E731
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(dump(header)[:-1])
        for name, items in lists.items():
            f.write(f',"{name}":[\n' + ",\n".join(dump(item) for item in items) + "\n]")
        f.write("}\n")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tokenizer-dir", required=True, help="directory holding tokenizer.json")
    p.add_argument("--corpus", required=True, help="JSONL file, one JSON string per line")
    p.add_argument("--out", required=True, help="golden JSON to write")
    p.add_argument("--name", default=None, help="tokenizer name recorded in the golden (default: dir name)")
    p.add_argument("--no-transformers-check", action="store_true", help="skip the AutoTokenizer comparison")
    args = p.parse_args()

    tokenizer_json = os.path.join(args.tokenizer_dir, "tokenizer.json")
    if not os.path.isfile(tokenizer_json):
        fail(f"{tokenizer_json} not found (deploy/fetch-tokenizers.sh puts it there)")
    tok = Tokenizer.from_file(tokenizer_json)
    with open(tokenizer_json, encoding="utf-8") as f:
        special_ids = [t["id"] for t in json.load(f).get("added_tokens", []) if t.get("special")]
    if not special_ids:
        fail(f"{tokenizer_json} declares no special added tokens; the decode cases need some")
    texts = read_corpus(args.corpus)
    entries = golden_entries(tok, texts)

    header = {
        "tokenizer": args.name or os.path.basename(os.path.normpath(args.tokenizer_dir)),
        "tokenizer_json_sha256": sha256_of(tokenizer_json),
        "corpus_sha256": sha256_of(args.corpus),
        "producer": {"script": "tools/reference/hf_tokenize.py", "tokenizers": tokenizers.__version__,
                     "python": platform.python_version()},
    }
    if not args.no_transformers_check:
        header["transformers_check"] = transformers_check(args.tokenizer_dir, entries)
        print("hf_tokenize.py: transformers check: "
              + json.dumps({k: v for k, v in header["transformers_check"].items() if k != "examples"}),
              file=sys.stderr)
    write_golden(args.out, header, {"decode_cases": decode_cases(tok, special_ids, entries), "entries": entries})
    n_ids = sum(len(e["ids"]) for e in entries)
    print(f"hf_tokenize.py: {len(entries)} strings, {n_ids} ids, {os.path.getsize(args.out)} bytes -> {args.out}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
