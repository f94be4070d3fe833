#!/usr/bin/env python3
"""Writes the tokenizer parity corpus, tests/data/tokenizer/corpus.jsonl: one JSON string per line.

Deterministic: hand-written pieces (tokenizer_corpus_pieces.py), paragraphs of the license texts in Debian's
/usr/share/common-licenses (verbatim copies are permitted; their sha256 are pinned below so a different
system cannot silently change the corpus), generated whitespace/single-character/long-word strings, and
pseudo-random mixes from splitmix64 (not Python's `random`, whose algorithms may change between versions).
The last line is a 100,000-byte text assembled from the other strings.

  python3 tools/reference/make_tokenizer_corpus.py            # rewrite the corpus
  python3 tools/reference/make_tokenizer_corpus.py --check    # exit 1 if the committed corpus is stale

Changing the corpus invalidates tests/data/tokenizer/golden-*.json: rerun hf_tokenize.py on the GPU machine.
"""
import argparse
import hashlib
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tokenizer_corpus_pieces as pieces  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_OUT = os.path.join(REPO, "tests", "data", "tokenizer", "corpus.jsonl")
LICENSE_DIR = "/usr/share/common-licenses"
LICENSES = {  # Debian 12 base-files
    "GPL-3": "3972dc9744f6499f0f9b2dbf76696f2ae7ad8af9b23dde66d6af86c9dfb36986",
    "Apache-2.0": "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30",
    "MPL-2.0": "fab3dd6bdab226f1c08630b1dd917e11fcb4ec5e1e020e2c16f83a0a13863e85",
    "Artistic": "b7fd9b73ea99602016a326e0b62e6646060d18febdd065ceca8bb482208c3d88",
    "GFDL-1.3": "110535522396708cea37c72a802c5e7e81391139f5f7985631c93ef242b206a4",
    "LGPL-2.1": "dc626520dcd53a22f727af3ee42c770e56c97a64fe3adb063799d8ab032fe551",
}
BIG_TEXT_BYTES = 100_000
SEED = 20261121


class SplitMix64:
    def __init__(self, seed):
        self.state = seed & 0xFFFFFFFFFFFFFFFF

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
        return z ^ (z >> 31)

    def below(self, n):  # modulo bias is irrelevant here; determinism is what matters
        return self.next() % n

    def choice(self, seq):
        return seq[self.below(len(seq))]


def read_license(name):
    path = os.path.join(LICENSE_DIR, name)
    try:
        data = open(path, "rb").read()
    except OSError as e:
        sys.exit(f"make_tokenizer_corpus.py: cannot read {path} ({e}); the corpus is built from Debian 12's "
                 "base-files license texts")
    if hashlib.sha256(data).hexdigest() != LICENSES[name]:
        sys.exit(f"make_tokenizer_corpus.py: {path} differs from Debian 12's (sha256 pinned in this script); "
                 "regenerating here would change the corpus")
    return data.decode("utf-8")


def license_prose(rng):
    """Paragraphs (kept verbatim, with their line breaks and indentation) and single lines."""
    out = []
    for name in LICENSES:
        paragraphs = [p for p in re.split(r"\n[ \t]*\n", read_license(name)) if 40 <= len(p) <= 1500]
        keep = sorted(set(rng.below(len(paragraphs)) for _ in range(16)))
        out += [paragraphs[i] for i in keep]
        lines = [ln for p in paragraphs for ln in p.split("\n") if len(ln.strip()) > 20]
        out += [lines[rng.below(len(lines))] for _ in range(4)]
    return out


def whitespace_strings():
    out = [" " * n for n in range(1, 21)]
    out += ["a" + " " * n + "b" for n in range(1, 21)]
    out += [" " * n + "word" for n in range(1, 9)] + ["word" + " " * n for n in range(1, 9)]
    out += ["\t" * n for n in range(1, 9)] + ["\n" * n for n in range(1, 7)]
    out += ["a\tb", "\tindented", "x\t\ty", "a \tb", "a\t b", "\r\n", "\r\n\r\n", "a\r\nb", "\r", "a\rb", "\n\r",
            "line\r\n  next\r\n", " \n", "\n ", " \n ", "  \n\n  ", "\t \n\t ", "line1\n  line2\n\tline3", " \t \t ",
            "a \n\n b", "end.\n", "end.  \n\n", "!\n\n\n", "word\n\n\n   next", "   leading and trailing   ",
            "\n\nleading newlines", "trailing newlines\n\n", "x \n \n \n y", "  two  spaces  between  ",
            "a\n\tb\n\t\tc\n\t\t\td", "\u00a0\u00a0nbsp lead", "tab\ttab\ttab", "\n \n \n", "  \r\n  \r\n"]
    for c in pieces.UNUSUAL_SPACES:
        out += [c, "a" + c + "b", c + c + " x"]
    return out


def single_chars():
    return [chr(c) for c in range(0x20, 0x7F)] + pieces.SINGLE_CHARS


def long_words(rng):
    hex_digits, b64 = "0123456789abcdef", "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    return ["a" * 1000, "ab" * 500, "x" * 10000, "antidisestablishmentarianism",
            "pneumonoultramicroscopicsilicovolcanoconiosis", "Supercalifragilisticexpialidocious" * 20,
            "Donaudampfschifffahrtsgesellschaftskapit\u00e4nsm\u00fctze", "1" * 500, "1234567890" * 50,
            "".join(rng.choice(hex_digits) for _ in range(512)), "".join(rng.choice(b64) for _ in range(1000)) + "==",
            "\u4e2d\u6587" * 300, "\U0001F600" * 200, "!" * 300, "=" * 200, "-" * 100 + "\n", "." * 1000,
            " " * 300, "\n" * 100, "\t" * 100, "\u00e9" * 300, "e\u0301" * 300, "\u0928\u092e\u0938\u094d" * 100,
            "https://example.com/" + "very-long-path-segment/" * 40, "aB3_" * 250, "\uac00\ub098\ub2e4" * 200]


# Ranges assigned since early Unicode versions, so PCRE2 and Oniguruma agree on their properties.
SOUP_RANGES = [(0x21, 0x7E), (0x30, 0x39), (0x20, 0x20), (0xC0, 0xFF), (0x391, 0x3A1), (0x3B1, 0x3C9),
               (0x410, 0x44F), (0x4E00, 0x9FA5), (0x3041, 0x3096), (0xAC00, 0xD7A3), (0x1F600, 0x1F64F),
               (0x300, 0x36F), (0x621, 0x64A), (0x905, 0x939), (0xE01, 0xE2E), (0x0A, 0x0A), (0x09, 0x09),
               (0x0D, 0x0D), (0x27, 0x27), (0x2000, 0x200A), (0xA0, 0xA0), (0x660, 0x669), (0x1D400, 0x1D433)]


def unicode_soup(rng, count):
    out = []
    for _ in range(count):
        chars = []
        for _ in range(5 + rng.below(36)):
            lo, hi = rng.choice(SOUP_RANGES)
            chars.append(chr(lo + rng.below(hi - lo + 1)))
        out.append("".join(chars))
    return out


def random_mixes(rng, pool, count):
    """2-6 fragments joined by a random separator; a third are cut at random code points, which splits
    combining sequences, ZWJ emoji and special tokens in the middle."""
    separators = ["", " ", "  ", "\n", "\t", " \n", "\n\n", ", ", "\r\n"]
    out = []
    for i in range(count):
        parts = []
        for _ in range(2 + rng.below(5)):
            s = rng.choice(pool)
            if i % 3 == 0 and len(s) > 2:
                a = rng.below(len(s))
                s = s[a:a + 1 + rng.below(len(s) - a)]
            parts.append(s)
        out.append(rng.choice(separators).join(parts))
    return out


def big_text(rng, prose, pool):
    """Half prose and code, half anything else, so it reads like a long document with odd bits inside."""
    chunks, size = [], 0
    while size < BIG_TEXT_BYTES:
        s = rng.choice(prose if rng.below(2) else pool) + rng.choice(["\n\n", "\n", " ", "", ". "])
        chunks.append(s)
        size += len(s.encode("utf-8"))
    data = "".join(chunks).encode("utf-8")[:BIG_TEXT_BYTES]
    return data.decode("utf-8", errors="ignore")  # drops a code point cut at the end


def build():
    rng = SplitMix64(SEED)
    categories = [
        ("empty", [""]),
        ("prose", pieces.PROSE),
        ("license prose", license_prose(rng)),
        ("code", pieces.CODE),
        ("numbers", pieces.NUMBERS + pieces.NUMBER_SCRIPTS),
        ("whitespace", whitespace_strings()),
        ("cjk", pieces.CJK),
        ("emoji", pieces.EMOJI),
        ("accents", pieces.ACCENTS),
        ("scripts", pieces.SCRIPTS),
        ("contractions", pieces.CONTRACTIONS),
        ("special lookalikes", pieces.SPECIAL_LOOKALIKES),
        ("urls, markdown", pieces.URLS_MARKDOWN),
        ("single chars", single_chars()),
        ("long words", long_words(rng)),
    ]
    pool = [s for _, strings in categories for s in strings if 0 < len(s) <= 2000]
    prose = [s for name, strings in categories[1:4] for s in strings]
    categories += [("unicode soup", unicode_soup(rng, 60)), ("random mixes", random_mixes(rng, pool, 200)),
                   ("100 kB text", [big_text(rng, prose, pool)])]
    seen, corpus, counts = set(), [], []
    for name, strings in categories:
        fresh = [s for s in strings if not (s in seen or seen.add(s))]
        corpus += fresh
        counts.append((name, len(fresh)))
    return corpus, counts


# json.dumps(ensure_ascii=False) leaves these raw; escaping them keeps every string on one line for any
# line splitter (Python's str.splitlines breaks at U+0085, U+2028, U+2029) and keeps invisible ones visible.
RAW_TO_ESCAPE = re.compile("[\u007f-\u009f\u00ad\u2028\u2029\u200b-\u200f\u202a-\u202e\u2060\ufeff\ufffe]")


def to_line(s):
    line = RAW_TO_ESCAPE.sub(lambda m: "\\u%04x" % ord(m.group()), json.dumps(s, ensure_ascii=False))
    if json.loads(line) != s or "\n" in line:
        raise AssertionError(f"line does not round-trip: {line[:80]!r}")
    return line + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=DEFAULT_OUT, help="output path (default: the committed corpus)")
    p.add_argument("--check", action="store_true", help="compare with --out instead of writing it")
    args = p.parse_args()
    corpus, counts = build()
    data = "".join(to_line(s) for s in corpus).encode("utf-8")
    for name, n in counts:
        print(f"{name:>20}: {n}", file=sys.stderr)
    print(f"{len(corpus)} strings, {len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()}", file=sys.stderr)
    if args.check:
        same = os.path.exists(args.out) and open(args.out, "rb").read() == data
        print(f"{args.out}: {'up to date' if same else 'STALE: regenerate it and the goldens'}", file=sys.stderr)
        sys.exit(0 if same else 1)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "wb") as f:
        f.write(data)


if __name__ == "__main__":
    main()
