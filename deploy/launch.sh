#!/usr/bin/env bash
# Launches a mixserve cluster with mpirun: world rank 0 is the coordinator (HTTP, scheduler), ranks 1..TP*DP are
# workers, worker w in replica w/TP with tensor rank w%TP (docs/architecture.md).
#
#   deploy/launch.sh --model DIR --tp 2 --dp 2 [--hostfile deploy/hostfile] [--port 8000] [--host 0.0.0.0]
#                    [--ifname eth0] [--dry-run] [-- extra `mixserve serve` options]
#
# Without --hostfile every rank runs on this machine. --ifname pins NCCL and Open MPI's TCP traffic to one
# network interface (the usual cure for multi-node hangs on machines with several interfaces). --dry-run
# prints the mpirun command instead of running it.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-2}"; }

model="" tp=1 dp=1 hostfile="" port=8000 host=127.0.0.1 ifname="${NCCL_SOCKET_IFNAME:-}" dry_run=0
binary=${MIXSERVE_BINARY:-build/bin/mixserve}
extra=()
while (($#)); do
  case "$1" in
    --model) model=$2; shift 2 ;;
    --tp) tp=$2; shift 2 ;;
    --dp) dp=$2; shift 2 ;;
    --hostfile) hostfile=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    --host) host=$2; shift 2 ;;
    --ifname) ifname=$2; shift 2 ;;
    --dry-run) dry_run=1; shift ;;
    -h|--help) usage 0 ;;
    --) shift; extra=("$@"); break ;;
    *) echo "launch.sh: unknown option $1" >&2; usage ;;
  esac
done
[ -n "$model" ] || { echo "launch.sh: --model is required" >&2; usage; }
[[ "$tp" =~ ^[1-9][0-9]*$ && "$dp" =~ ^[1-9][0-9]*$ ]] || { echo "launch.sh: --tp and --dp must be positive" >&2; exit 2; }
command -v mpirun > /dev/null || { echo "launch.sh: mpirun not found (apt-get install openmpi-bin)" >&2; exit 1; }
[ -x "$binary" ] || { echo "launch.sh: $binary is not built (deploy/build.sh) or set MIXSERVE_BINARY" >&2; exit 1; }

np=$((1 + tp * dp))
cmd=(mpirun -np "$np")
if [ -n "$hostfile" ]; then
  [ -f "$hostfile" ] || { echo "launch.sh: no hostfile $hostfile" >&2; exit 1; }
  cmd+=(--hostfile "$hostfile")
else
  cmd+=(--oversubscribe)  # one machine: more ranks than cores is fine for the CPU backend's tests
fi
# Ranks fill each node's slots in order: rank 0 and the first workers on the first host.
cmd+=(--map-by slot --bind-to none)
# Environment the workers need on every node (only what is set here: mpirun warns about unset names).
for var in MIXSERVE_LOG_LEVEL MIXSERVE_THREADS CUDA_VISIBLE_DEVICES; do
  [ -n "${!var:-}" ] && cmd+=(-x "$var")
done
if [ -n "$ifname" ]; then
  cmd+=(-x "NCCL_SOCKET_IFNAME=$ifname" --mca btl_tcp_if_include "$ifname" --mca oob_tcp_if_include "$ifname")
fi
cmd+=("$binary" serve --model "$model" --tp "$tp" --dp "$dp" --host "$host" --port "$port" "${extra[@]}")

echo "launch.sh: $np ranks (coordinator + $tp x $dp workers): ${cmd[*]}" >&2
if ((dry_run)); then
  printf '%q ' "${cmd[@]}"
  echo
  exit 0
fi
exec "${cmd[@]}"
