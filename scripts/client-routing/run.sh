#!/usr/bin/env bash
# Which cluster clients route mtoken commands to the right node, measured.
#
#   scripts/client-routing/run.sh [path/to/libmtoken.so]
#
# Starts a 3-master Redis Cluster on free loopback ports with the module on
# every node, then routing.py drives each client in turn — redis-py
# RedisCluster (sync and asyncio), node-redis and ioredis (routing.mjs, a
# child process), redis-cli -c — through the same workload, and counts the
# MOVED/ASK redirects the servers sent (INFO errorstats, summed over the
# nodes, reset before each run). Prints a table; exits non-zero on any error
# or an unexpected redirect count. Every server is killed on exit.
#
# Needs: redis-server/redis-cli, python3 (venv made in .venv/ here, redis-py
# pinned in requirements.txt), node + npm (deps from package-lock.json into
# node_modules/ here; Debian's nodejs/npm are installed when node is missing).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
so="${1:-$root/target/debug/libmtoken.so}"
case "$so" in /*) ;; *) so="$PWD/$so" ;; esac
if [ ! -f "$so" ]; then
  echo "client-routing: module not found at $so (run cargo build)" >&2
  exit 1
fi

# --- client dependencies -----------------------------------------------------
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "client-routing: installing Debian's nodejs and npm" >&2
  timeout 600 apt-get install -y -q nodejs npm >/dev/null
fi
if [ ! -f "$here/node_modules/.package-lock.json" ] ||
   [ "$here/package-lock.json" -nt "$here/node_modules/.package-lock.json" ]; then
  (cd "$here" && timeout 300 npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
venv="$here/.venv"
if ! "$venv/bin/python" -c 'import redis' >/dev/null 2>&1 ||
   [ "$here/requirements.txt" -nt "$venv/.installed" ]; then
  [ -x "$venv/bin/python" ] || timeout 120 python3 -m venv "$venv"
  timeout 300 "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$here/requirements.txt"
  touch "$venv/.installed"
fi

# --- the cluster ---------------------------------------------------------------
work=$(mktemp -d /tmp/mtoken-routing.XXXXXX)
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Six free ports (three clients + three cluster bus ports), all below 55536.
read -r -a ports <<<"$(python3 - <<'EOF'
import socket
socks, ports = [], []
while len(ports) < 6:
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]
    socks.append(s)
    if p < 55536: ports.append(p)
print(" ".join(map(str, ports)))
EOF
)"
nodes=("${ports[@]:0:3}")
for i in 0 1 2; do
  mkdir -p "$work/n$i"
  redis-server --port "${nodes[$i]}" --bind 127.0.0.1 --dir "$work/n$i" \
    --save "" --appendonly no --logfile "$work/n$i/redis.log" \
    --cluster-enabled yes --cluster-config-file nodes.conf \
    --cluster-node-timeout 5000 --cluster-port "${ports[$((i + 3))]}" \
    --loadmodule "$so" >/dev/null 2>&1 &
  pids+=($!)
done

# Bounded polling: "$@" until it succeeds, at most $1 seconds.
poll() {
  local limit=$1; shift
  local deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then return 1; fi
    sleep 0.05
  done
}
for p in "${nodes[@]}"; do
  poll 10 timeout 2 redis-cli -p "$p" PING || {
    echo "client-routing: redis-server on $p did not start:" >&2
    tail -20 "$work"/n*/redis.log >&2
    exit 1
  }
done
timeout 60 redis-cli --cluster create $(printf '127.0.0.1:%s ' "${nodes[@]}") \
  --cluster-replicas 0 --cluster-yes >"$work/create.log" 2>&1 || {
  echo "client-routing: redis-cli --cluster create failed:" >&2
  cat "$work/create.log" >&2
  exit 1
}
cluster_ok() {
  local p
  for p in "${nodes[@]}"; do
    timeout 2 redis-cli -p "$p" CLUSTER INFO | grep -q '^cluster_state:ok' || return 1
  done
}
poll 30 cluster_ok || { echo "client-routing: cluster never reached cluster_state:ok" >&2; exit 1; }

# --- the clients ---------------------------------------------------------------
# The drivers own their own bounded waits; the whole run is capped too.
cd "$here"
status=0
timeout 900 "$venv/bin/python" routing.py --ports "$(IFS=,; echo "${nodes[*]}")" || status=$?
exit "$status"
