#!/usr/bin/env bash
# Downloads the Debian packages whose text trains the default model, extracts them and turns them into plain
# text (tools/train/prepare_text.py). Runs on the development machine (Debian 12, apt reaches the archive).
#
#   tools/train/fetch_data.sh OUT_DIR
#
# OUT_DIR gets train_pages.txt.gz, valid_pages.txt.gz, heldout.txt and stats.txt; the package versions used are
# written to OUT_DIR/packages.txt. docs/default_model.md lists the packages and their licenses.
set -euo pipefail
out=$(realpath -m "${1:?usage: fetch_data.sh OUT_DIR}")
here=$(cd "$(dirname "$0")" && pwd)
packages=(fortunes fortunes-min dict-gcide dict-devil dict-jargon)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out" "$work/root"
(cd "$work" && apt-get download "${packages[@]}")
: >"$out/packages.txt"
for p in "${packages[@]}"; do
  deb=$(ls "$work"/"${p}"_*.deb)
  dpkg-deb -x "$deb" "$work/root/$p"
  echo "$(basename "$deb") $(sha256sum "$deb" | cut -d' ' -f1)" >>"$out/packages.txt"
done
python3 "$here/prepare_text.py" --root "$work/root" --out "$out"
