#!/usr/bin/env bash
# Every test: Rust unit + integration tests (each starts its own
# redis-server with the module), the redis-cli walk-throughs, the Python
# client's tests when present, and the cluster client-routing runs
# (scripts/client-routing). Prints one closing line with the totals.
set -uo pipefail
cd "$(dirname "$0")/.."
so="$PWD/target/debug/libmtoken.so"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0

cargo test --no-fail-fast --all-targets 2>&1 | tee "$log" || status=1
rust_passed=$(grep -Eo 'test result: .* ([0-9]+) passed' "$log" | grep -Eo '[0-9]+ passed' | awk '{s+=$1} END {print s+0}')
rust_failed=$(grep -Eo '[0-9]+ failed;' "$log" | awk '{s+=$1} END {print s+0}')

scripts/cli-tests.sh "$so" 2>&1 | tee "$log" || status=1
cli_passed=$(grep -Eo 'cli: [0-9]+ passed' "$log" | grep -Eo '[0-9]+' || echo 0)
cli_failed=$(grep -Eo '[0-9]+ failed' "$log" | grep -Eo '[0-9]+' | tail -1 || echo 0)

py_passed=0; py_failed=0
if [ -x scripts/python-tests.sh ] && [ -d clients/python/tests ]; then
  scripts/python-tests.sh "$so" 2>&1 | tee "$log" || status=1
  py_passed=$(grep -Eo '[0-9]+ passed' "$log" | tail -1 | grep -Eo '[0-9]+' || echo 0)
  py_failed=$(grep -Eo '[0-9]+ (failed|error)' "$log" | tail -1 | grep -Eo '[0-9]+' || echo 0)
fi

# Cluster client routing (scripts/client-routing): one result per client run.
routing_passed=0; routing_failed=0
if [ -x scripts/client-routing/run.sh ]; then
  scripts/client-routing/run.sh "$so" 2>&1 | tee "$log" || status=1
  routing_passed=$(grep -Eo 'client-routing: [0-9]+ passed' "$log" | grep -Eo '[0-9]+' || echo 0)
  routing_failed=$(grep -Eo 'client-routing: [0-9]+ passed, [0-9]+ failed' "$log" | grep -Eo '[0-9]+ failed' | grep -Eo '[0-9]+' || echo 0)
fi

passed=$((rust_passed + cli_passed + py_passed + routing_passed))
failed=$((rust_failed + cli_failed + py_failed + routing_failed))
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
echo
echo "rust: $rust_passed passed, $rust_failed failed; cli: $cli_passed passed, $cli_failed failed; python: $py_passed passed, $py_failed failed; client routing: $routing_passed passed, $routing_failed failed"
echo "total: $passed passed, $failed failed"
exit "$status"
