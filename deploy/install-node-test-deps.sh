#!/usr/bin/env bash
# Installs the npm packages of the end-to-end tests (tests/e2e/) into third_party/downloads/node-test-deps/
# (gitignored): the official `openai` client, pinned by version and by the sha512 of its tarball. It has no
# runtime dependencies, so the pin covers everything that runs. Idempotent: nothing is fetched when the pinned
# version is already installed.
#
#   deploy/install-node-test-deps.sh [DEST]
#
# Exits 1 with one line on stderr when node/npm are missing, the registry cannot be reached, or the hash differs.
set -euo pipefail
cd "$(dirname "$0")/.."

dest=${1:-third_party/downloads/node-test-deps}
openai_version=6.49.0  # the newest openai release that runs on Debian 12's node 20 (7.x needs node >= 22)
openai_integrity=sha512-aYCc0C6L864eR6WSYIwQGyXriw/nIyZx0ObvhzOEVuk0zoBDpynjSbrionWI7q65B5H8jJX0DXR9snEzM6bfPg==

fail() {
  echo "install-node-test-deps.sh: $*" >&2
  exit 1
}

installed="$dest/node_modules/openai/package.json"
if [ -f "$installed" ] && grep -q "\"version\": \"$openai_version\"" "$installed"; then
  echo "install-node-test-deps.sh: openai $openai_version is installed in $dest"
  exit 0
fi
command -v node > /dev/null || fail "node is not installed (apt-get install nodejs)"
command -v npm > /dev/null || fail "npm is not installed (apt-get install npm)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Bounded retries and timeouts: an unreachable registry fails in about a minute instead of hanging.
npm_flags=(--loglevel=error --fetch-retries=1 --fetch-retry-maxtimeout=10000 --fetch-timeout=30000)
if ! (cd "$tmp" && npm pack "${npm_flags[@]}" "openai@$openai_version" > "$tmp/pack.log" 2>&1); then
  fail "npm pack openai@$openai_version failed (is the npm registry reachable?): $(head -c 300 "$tmp/pack.log")"
fi
tgz="$tmp/openai-$openai_version.tgz"
[ -f "$tgz" ] || fail "npm pack did not produce $(basename "$tgz")"
got="sha512-$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)"
[ "$got" = "$openai_integrity" ] || fail "openai-$openai_version.tgz: integrity $got differs from the pinned one"

mkdir -p "$dest"
cat > "$dest/package.json" <<JSON
{
  "name": "mixserve-node-test-deps",
  "private": true,
  "description": "npm packages of mixserve's end-to-end tests; written by deploy/install-node-test-deps.sh"
}
JSON
# --omit=peer: the optional integrations (AWS auth, websockets, zod helpers) are not used by the tests.
if ! npm install "${npm_flags[@]}" --prefix "$dest" --no-audit --no-fund --no-save --omit=peer "$tgz" \
    > "$tmp/install.log" 2>&1; then
  fail "npm install of openai-$openai_version.tgz failed: $(head -c 300 "$tmp/install.log")"
fi
grep -q "\"version\": \"$openai_version\"" "$installed" || fail "openai $openai_version did not land in $dest"
echo "install-node-test-deps.sh: installed openai $openai_version in $dest"
