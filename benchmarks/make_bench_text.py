#!/usr/bin/env python3
"""Writes the tokenizer benchmark text: about 10 MB of UTF-8, mostly English prose, then code, then the
parity corpus's multilingual strings, interleaved paragraph by paragraph.

  python3 benchmarks/make_bench_text.py OUT [--bytes 10000000]

Sources (read in sorted order, so a given machine always writes the same bytes; the sha256 printed at the
end identifies the text in benchmarks/RESULTS.md):
  prose  /usr/share/common-licenses/*, /usr/share/doc/*/copyright, /usr/share/doc/*/changelog.Debian.gz
  code   Python's standard library (*.py), C and C++ headers under /usr/include, CMake modules
  mixed  tests/data/tokenizer/corpus.jsonl (CJK, emoji, numbers, whitespace runs, ...)
Paragraphs are deduplicated (copyright files repeat the same licenses), so the text does not flatter a
tokenizer's word cache more than real documents would. Generate it once and give both benches that file.
"""
import argparse
import glob
import gzip
import hashlib
import json
import os
import re
import sys
import sysconfig

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tools", "reference"))
from make_tokenizer_corpus import SplitMix64  # noqa: E402

WEIGHTS = {"prose": 82, "code": 14, "mixed": 4}  # percent of the picks, not of the bytes


def read_text(path):
    try:
        data = gzip.open(path).read() if path.endswith(".gz") else open(path, "rb").read()
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError, EOFError):
        return ""  # unreadable or not UTF-8: simply not a source
    return "" if "\0" in text else text


def paragraphs(paths, max_chars=4000):
    seen, out = set(), []
    for path in paths:
        for p in re.split(r"\n[ \t]*\n", read_text(path)):
            if 40 <= len(p) <= max_chars and p not in seen:
                seen.add(p)
                out.append(p)
    return out


def sources():
    licenses = sorted(p for p in glob.glob("/usr/share/common-licenses/*") if not os.path.islink(p))
    prose = licenses + sorted(glob.glob("/usr/share/doc/*/copyright")) + \
        sorted(glob.glob("/usr/share/doc/*/changelog.Debian.gz"))
    stdlib = sysconfig.get_paths()["stdlib"]
    code = sorted(glob.glob(os.path.join(stdlib, "*.py"))) + sorted(glob.glob("/usr/include/**/*.h", recursive=True)) \
        + sorted(glob.glob("/usr/include/c++/*/bits/*.h")) + sorted(glob.glob("/usr/share/cmake*/Modules/*.cmake"))
    corpus_path = os.path.join(REPO, "tests", "data", "tokenizer", "corpus.jsonl")
    with open(corpus_path, encoding="utf-8") as f:
        mixed = [s for s in (json.loads(line) for line in f) if 0 < len(s) <= 4000]
    return {"prose": paragraphs(prose), "code": paragraphs(code), "mixed": mixed}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", help="path of the text file to write")
    p.add_argument("--bytes", type=int, default=10_000_000, help="size in bytes (default 10,000,000)")
    args = p.parse_args()

    pools = sources()
    for name, pool in pools.items():
        if not pool:
            sys.exit(f"make_bench_text.py: no {name} sources found on this machine")
    rng = SplitMix64(7)
    for pool in pools.values():  # Fisher-Yates, so documents are not read back in file order
        for i in range(len(pool) - 1, 0, -1):
            j = rng.below(i + 1)
            pool[i], pool[j] = pool[j], pool[i]
    picks = [name for name, w in WEIGHTS.items() for _ in range(w)]
    next_index = {name: 0 for name in pools}
    used = {name: 0 for name in pools}
    chunks, size = [], 0
    while size < args.bytes:
        name = rng.choice(picks)
        pool = pools[name]
        chunk = pool[next_index[name] % len(pool)] + "\n\n"
        next_index[name] += 1
        chunk_bytes = len(chunk.encode("utf-8"))
        chunks.append(chunk)
        used[name] += chunk_bytes
        size += chunk_bytes
    data = "".join(chunks).encode("utf-8")[:args.bytes].decode("utf-8", errors="ignore").encode("utf-8")
    with open(args.out, "wb") as f:
        f.write(data)
    for name in pools:
        repeats = next_index[name] / len(pools[name])
        print(f"make_bench_text.py: {name}: {used[name]} bytes from {len(pools[name])} distinct paragraphs "
              f"(each used {repeats:.2f} times on average)", file=sys.stderr)
    print(f"make_bench_text.py: {len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()} -> {args.out}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
