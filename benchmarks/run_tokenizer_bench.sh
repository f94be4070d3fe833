#!/usr/bin/env bash
# Tokenizer encode speed, ours against HF `tokenizers`, single thread each, on the same text file, for the
# Llama 3 and Llama 2 tokenizers; prints a markdown table for benchmarks/RESULTS.md. Run on the GPU machine
# (it has Python `tokenizers`); both benches are pinned to one core with taskset so neither can use more.
#
#   benchmarks/run_tokenizer_bench.sh [--text FILE] [--out DIR] [--repeat N]
#
# --text  the text to encode (default: written to /tmp/tokenizer_bench_text.txt by benchmarks/make_bench_text.py,
#         not under --out, so 10 MB does not travel back with the results)
# --out   where the per-run JSON and the table go (default: $OUT when set, else /tmp/tokenizer_bench)
# The tokenizer_bench binary: $TOKENIZER_BENCH, else tokenizer_bench on PATH, else build/bin/tokenizer_bench.
set -euo pipefail
cd "$(dirname "$0")/.."

out=${OUT:-/tmp/tokenizer_bench}
text=""
repeat=3
while [ $# -gt 0 ]; do
  case "$1" in
    --text) text=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    *) echo "run_tokenizer_bench.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
mkdir -p "$out"

bench=${TOKENIZER_BENCH:-$(command -v tokenizer_bench || echo build/bin/tokenizer_bench)}
[ -x "$bench" ] || { echo "run_tokenizer_bench.sh: no tokenizer_bench binary ($bench)" >&2; exit 2; }
if [ -z "$text" ]; then
  text=/tmp/tokenizer_bench_text.txt
  python3 benchmarks/make_bench_text.py "$text"
fi
pin=()
if command -v taskset >/dev/null; then pin=(taskset -c "${BENCH_CPU:-0}"); fi

for name in llama3 llama2; do
  dir=third_party/tokenizers/$name
  [ -f "$dir/tokenizer.json" ] || { echo "run_tokenizer_bench.sh: $dir/tokenizer.json missing (deploy/fetch-tokenizers.sh)" >&2; exit 2; }
  # A failing side is recorded, not fatal, so the other numbers still come back.
  "${pin[@]}" "$bench" --tokenizer "$dir" --text "$text" --repeat "$repeat" > "$out/ours-$name.json" \
    || echo '{"error": "tokenizer_bench failed"}' > "$out/ours-$name.json"
  "${pin[@]}" env RAYON_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false \
    python3 tools/reference/hf_tokenize_bench.py --tokenizer-dir "$dir" --text "$text" --repeat "$repeat" \
    > "$out/hf-$name.json" || echo '{"error": "hf_tokenize_bench.py failed"}' > "$out/hf-$name.json"
done

python3 - "$out" "$text" <<'EOF' | tee "$out/tokenizer_bench.md"
import hashlib, json, platform, sys
out, text = sys.argv[1], sys.argv[2]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
data = open(text, "rb").read()
print(f"CPU: {cpu} (one core, taskset); text: {len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()[:16]}")
print()
print("| tokenizer | ours MB/s | HF MB/s | ours / HF | ours tokens | HF tokens | equal |")
print("|---|---:|---:|---:|---:|---:|---|")
for name in ("llama3", "llama2"):
    ours, hf = (json.load(open(f"{out}/{side}-{name}.json")) for side in ("ours", "hf"))
    if "error" in ours or "error" in hf:
        print(f"| {name} | {ours.get('error') or ours['mb_per_s']} | {hf.get('error') or hf['mb_per_s']} | | | | |")
        continue
    ratio = ours["mb_per_s"] / hf["mb_per_s"]
    equal = "yes" if ours["n_tokens"] == hf["n_tokens"] else "NO"
    print(f"| {name} | {ours['mb_per_s']:.2f} | {hf['mb_per_s']:.2f} | {ratio:.2f}x | {ours['n_tokens']} "
          f"| {hf['n_tokens']} | {equal} |")
print()
print(f"HF: {hf.get('impl', '?')}; best of the runs each")
EOF
