#!/usr/bin/env bash
# Run Redis in the foreground with the release module loaded.
#   PORT=6380 scripts/run.sh                 another port
#   scripts/run.sh default-ttl 3600          module configs, NAME VALUE ...
set -euo pipefail
cd "$(dirname "$0")/.."
port="${PORT:-6379}"
so="$PWD/target/release/libmtoken.so"
[ -f "$so" ] || { echo "build first: cargo build --release" >&2; exit 1; }
if redis-cli -p "$port" ping >/dev/null 2>&1; then
  echo "port $port is taken (a system redis-server?). Stop it, or: PORT=6380 make run" >&2
  exit 1
fi
mkdir -p target/run
echo "mtoken: redis-server on 127.0.0.1:$port, module $so" >&2
exec redis-server --bind 127.0.0.1 --port "$port" --dir "$PWD/target/run" \
  --save "" --appendonly no --loadmodule "$so" "$@"
