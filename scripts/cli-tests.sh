#!/usr/bin/env bash
# Run the redis-cli walk-throughs in tests/cli/ against a fresh server with
# the module, comparing each script's output with its .expected file.
#   scripts/cli-tests.sh [path/to/libmtoken.so]
set -euo pipefail
cd "$(dirname "$0")/.."
so="${1:-$PWD/target/debug/libmtoken.so}"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
dir=$(mktemp -d)
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" \
  --logfile "$dir/redis.log" --loadmodule "$so" --daemonize yes --pidfile "$dir/redis.pid"
trap 'redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done

passed=0; failed=0
for script in tests/cli/*.sh; do
  name=$(basename "$script" .sh)
  redis-cli -p "$port" flushall >/dev/null
  if actual=$(PORT="$port" bash "$script" 2>&1) && diff -u "tests/cli/$name.expected" <(printf '%s\n' "$actual"); then
    echo "cli $name ... ok"; passed=$((passed+1))
  else
    echo "cli $name ... FAILED"; failed=$((failed+1))
  fi
done
echo "cli: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
