#!/usr/bin/env python3
"""Turns the Debian text packages that tools/train/fetch_data.sh extracted into plain-text training data.

Input: ROOT/<package>/ trees as `dpkg-deb -x` leaves them. Output (in OUT):
  train_pages.txt.gz, valid_pages.txt.gz: "pages" separated by the record separator \\x1e. A page is a few
      documents (one fortune, one dictionary entry) joined by blank lines, up to about PAGE_CHARS characters;
      the training script tokenizes each page as <s> page </s>.
  heldout.txt: the first validation pages joined by blank lines, at most HELDOUT_BYTES (whole pages): the
      fixed text of `mixserve eval` and of the perplexity test (tests/data/eval/heldout.txt).
  stats.txt: documents and characters per source and split.

A document goes to validation when sha1(source + text) puts it in the lowest VALID_PERCENT percent, so the
split depends on the text alone, not on the order of files. Only the Python standard library is used, so
this runs on the development machine. The output is deterministic.
"""
import argparse
import gzip
import hashlib
import pathlib
import random
import re

PAGE_CHARS = 3000
VALID_PERCENT = 2
HELDOUT_BYTES = 150_000
SEED = 7
# Sources that read as prose (quips, essays) are repeated this often in the training pages; the dictionary
# would otherwise be 90% of the text and the model would answer every prompt with a definition.
PROSE_REPEAT = 2
# Fortune files left out: ASCII pictures, and jokes about ethnic groups.
SKIPPED_FORTUNES = {"ascii-art", "ethnic"}
# A document containing one of these words is dropped (1911 slurs in the Devil's Dictionary, dictionary
# entries for slurs): a default model should not learn to produce them.
BLOCKED_WORDS = re.compile(r"\b(nigger|niggers|nigga|kike|chink|wetback|spic|faggot)\b", re.IGNORECASE)

B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def b64_number(text):
    value = 0
    for ch in text:
        value = value * 64 + B64.index(ch)
    return value


def dictd_entries(index_path, dict_path):
    """Yields the text of each entry of a dictd database (.index + .dict.dz), each entry once."""
    data = gzip.open(dict_path, "rb").read()
    spans = set()
    for line in open(index_path, encoding="utf-8", errors="replace"):
        parts = line.rstrip("\n").split("\t")
        if len(parts) < 3 or parts[0].startswith("00-database") or parts[0].startswith("00database"):
            continue
        spans.add((b64_number(parts[1]), b64_number(parts[2])))
    for offset, length in sorted(spans):
        yield data[offset:offset + length].decode("utf-8", errors="replace")


SENSE_START = re.compile(r"^(\d+\.|\([a-z]\)|Syn:|Note:|--|\")")
CITATION_LINE = re.compile(r"^\[[^\]]*\]$")


def unwrap(text):
    """Joins the hard-wrapped lines of each paragraph; a new sense, note or quotation starts a new line."""
    out_lines = []
    for raw in text.split("\n"):
        line = raw.strip()
        if not line:
            if out_lines and out_lines[-1] != "":
                out_lines.append("")
            continue
        if CITATION_LINE.match(line):
            continue  # "[1913 Webster]", "[WordNet 1.5 +PJC]": sources, not language
        if out_lines and out_lines[-1] != "" and not SENSE_START.match(line):
            out_lines[-1] += " " + line
        else:
            out_lines.append(line)
    return "\n".join(out_lines).strip()


# GCIDE writes accented letters as bracketed codes: C[ae]sar, [=o], [aum] (a umlaut), [imac] (i macron).
ENTITY_WORDS = {"ae": "ae", "AE": "Ae", "oe": "oe", "OE": "Oe", "thorn": "th", "eth": "th", "ng": "ng",
                "th": "th", "oo": "oo", "sect": "section"}
ENTITY = re.compile(r"\[([-=^.'`~\",*]?)([a-zA-Z]{1,5}?)(\^|um|mac|dd|sl|ac)?\]")


def plain_entity(match):
    mark, letters, suffix = match.groups()
    if not mark and not suffix and letters not in ENTITY_WORDS and len(letters) > 1:
        return match.group(0)  # an abbreviation such as [Obs.] or [R]: removed below with other brackets
    return ENTITY_WORDS.get(letters, letters)


def drop_brackets(text):
    """Removes [etymologies], [Obs.] and other bracketed notes, innermost first."""
    while True:
        shorter = re.sub(r"\s*\[[^\[\]]*\]", "", text)
        if shorter == text:
            return text
        text = shorter


def clean_gcide(entry):
    text = ENTITY.sub(plain_entity, entry.replace("{", "").replace("}", ""))
    text = re.sub(r" {2,}", " ", drop_brackets(unwrap(text)))
    head, _, body = text.partition("\n")
    head = re.sub(r"\\[^\\]*\\", "", head)  # pronunciation between backslashes
    head = re.sub(r"\s*\([^()]*[\"`*][^()]*\)", "", head)  # pronunciation in parentheses
    head = re.sub(r"\s+([,.;])", r"\1", re.sub(r"\s+", " ", head)).strip()
    return (head + "\n" + body.strip()).strip()


def clean_dict_prose(entry):
    """Jargon File and Devil's Dictionary entries: unwrap paragraphs, drop {cross reference} braces."""
    text = entry.replace("{", "").replace("}", "")
    head, _, body = text.partition("\n")
    lines = [l.rstrip() for l in body.split("\n")]
    paragraphs, current = [], []
    for line in lines + [""]:
        if line.strip():
            current.append(line)
        elif current:
            # Verse keeps its line breaks (indented more than the surrounding prose or short lines).
            if len(current) > 1 and max(len(l.strip()) for l in current) < 50:
                paragraphs.append("\n".join(l.strip() for l in current))
            else:
                paragraphs.append(" ".join(l.strip() for l in current))
            current = []
    return "\n\n".join([head.strip()] + paragraphs).strip()


def fortunes(directory):
    for path in sorted(directory.iterdir()):
        if path.suffix in (".dat", ".u8") or path.is_symlink() or path.name in SKIPPED_FORTUNES:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for cookie in re.split(r"\n%\n", "\n" + text + "\n"):
            lines = [l.strip() for l in cookie.strip("\n").split("\n")]
            doc = "\n".join(lines).strip()
            if doc:
                yield path.name, doc


def documents(root):
    """(source, text) for every document of every package, in a fixed order."""
    for package in ("fortunes", "fortunes-min"):
        for name, doc in fortunes(root / package / "usr/share/games/fortunes"):
            yield "fortunes", doc
    dictd = lambda package, name: (root / package / f"usr/share/dictd/{name}.index",
                                   root / package / f"usr/share/dictd/{name}.dict.dz")
    for entry in dictd_entries(*dictd("dict-devil", "devil")):
        yield "devil", clean_dict_prose(entry)
    for entry in dictd_entries(*dictd("dict-jargon", "jargon")):
        yield "jargon", clean_dict_prose(entry)
    for entry in dictd_entries(*dictd("dict-gcide", "gcide")):
        yield "gcide", clean_gcide(entry)


def is_validation(source, text):
    digest = hashlib.sha1((source + "\0" + text).encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") % 100 < VALID_PERCENT


def make_pages(docs, rng):
    docs = list(docs)
    rng.shuffle(docs)
    pages, current, size = [], [], 0
    for doc in docs:
        if current and size + len(doc) > PAGE_CHARS:
            pages.append("\n\n".join(current))
            current, size = [], 0
        current.append(doc)
        size += len(doc) + 2
    if current:
        pages.append("\n\n".join(current))
    return pages


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", required=True, help="folder with one dpkg-deb -x tree per package")
    parser.add_argument("--out", required=True, help="output folder")
    args = parser.parse_args()
    root, out = pathlib.Path(args.root), pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    seen, train, valid, stats = set(), [], [], {}
    for source, text in documents(root):
        text = text.replace("\x1e", " ").strip()
        if len(text) < 20 or text in seen or BLOCKED_WORDS.search(text):
            continue
        seen.add(text)
        split = "valid" if is_validation(source, text) else "train"
        (valid if split == "valid" else train).append(text)
        if split == "train" and source != "gcide":
            train.extend([text] * (PROSE_REPEAT - 1))
        docs, chars = stats.get((source, split), (0, 0))
        stats[(source, split)] = (docs + 1, chars + len(text))

    rng = random.Random(SEED)
    train_pages, valid_pages = make_pages(train, rng), make_pages(valid, rng)
    for name, pages in (("train_pages.txt.gz", train_pages), ("valid_pages.txt.gz", valid_pages)):
        with gzip.open(out / name, "wt", encoding="utf-8", compresslevel=9) as f:
            f.write("\x1e".join(pages))
    heldout, size = [], 0
    for page in valid_pages:
        if size + len(page.encode("utf-8")) + 2 > HELDOUT_BYTES:
            break
        heldout.append(page)
        size += len(page.encode("utf-8")) + 2
    (out / "heldout.txt").write_text("\n\n".join(heldout) + "\n", encoding="utf-8")
    with open(out / "stats.txt", "w") as f:
        f.write("source split documents characters (training prose repeated %dx, not counted)\n" % PROSE_REPEAT)
        for (source, split), (docs, chars) in sorted(stats.items()):
            f.write(f"{source} {split} {docs} {chars}\n")
        f.write(f"pages train {len(train_pages)} valid {len(valid_pages)} heldout {len(heldout)}\n")
    print((out / "stats.txt").read_text(), end="")


if __name__ == "__main__":
    main()
