#!/usr/bin/env bash
# Installs every build and test dependency of mixserve from Debian 12 packages. Idempotent: packages already
# present are left alone, and apt-get runs only when something is missing.
set -euo pipefail

packages=(
  build-essential g++ cmake ninja-build pkg-config git ca-certificates
  libboost-dev libboost-system-dev libboost-program-options-dev
  libprotobuf-dev protobuf-compiler
  openmpi-bin libopenmpi-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  nlohmann-json3-dev
  libpcre2-dev
  python3
  # end-to-end tests (tests/e2e/): real peers on loopback
  curl openssl nginx-light prometheus
)
# node and npm run the official `openai` client in tests/e2e. The machine's own node (any packaging) is kept;
# Debian's packages are installed only when there is none.
command -v node > /dev/null || packages+=(nodejs)
command -v npm > /dev/null || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo_cmd apt-get update -q
  $sudo_cmd apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
echo "install-deps: all ${#packages[@]} packages present"
