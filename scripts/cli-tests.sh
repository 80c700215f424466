#!/usr/bin/env bash
# Run the redis-cli walk-throughs in tests/cli/ against a fresh server with
# the module, comparing each script's output with its .expected file.
#   scripts/cli-tests.sh [path/to/libmtoken.so]
# MTOKEN_SERVER / MTOKEN_CLI choose the server and the client (default
# redis-server / redis-cli on PATH); the scripts call `redis-cli`, which is
# then MTOKEN_CLI. Every wait is bounded: the server must answer within 5 s,
# each script must finish within 60 s.
set -euo pipefail
cd "$(dirname "$0")/.."
so="${1:-$PWD/target/debug/libmtoken.so}"
server="${MTOKEN_SERVER:-redis-server}"
cli="${MTOKEN_CLI:-redis-cli}"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
dir=$(mktemp -d)
mkdir "$dir/bin"
cli_path=$(command -v "$cli") || { echo "no client: $cli"; echo "cli: 0 passed, 1 failed"; exit 1; }
case "$cli_path" in /*) ;; *) cli_path="$PWD/$cli_path" ;; esac
ln -s "$cli_path" "$dir/bin/redis-cli"
"$server" --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" \
  --logfile "$dir/redis.log" --loadmodule "$so" --daemonize yes --pidfile "$dir/redis.pid"
stop() {
  "$cli" -p "$port" shutdown nosave >/dev/null 2>&1 || true
  # A server that ignored SHUTDOWN is killed, never left behind.
  if [ -f "$dir/redis.pid" ]; then kill -9 "$(cat "$dir/redis.pid")" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap stop EXIT
up=no
for _ in $(seq 100); do "$cli" -p "$port" ping >/dev/null 2>&1 && { up=yes; break; }; sleep 0.05; done
if [ "$up" = no ]; then
  echo "the server did not start; its log ends:"; tail -20 "$dir/redis.log" 2>/dev/null || true
  echo "cli: 0 passed, 1 failed"; exit 1
fi

passed=0; failed=0
for script in tests/cli/*.sh; do
  name=$(basename "$script" .sh)
  "$cli" -p "$port" flushall >/dev/null
  if actual=$(PATH="$dir/bin:$PATH" PORT="$port" timeout 60 bash "$script" 2>&1) && diff -u "tests/cli/$name.expected" <(printf '%s\n' "$actual"); then
    echo "cli $name ... ok"; passed=$((passed+1))
  else
    echo "cli $name ... FAILED"; failed=$((failed+1))
  fi
done
echo "cli: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
