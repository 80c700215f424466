#!/usr/bin/env bash
# The server matrix: fetch each server (scripts/servers/fetch.sh) and run the
# Rust integration tests and the redis-cli walk-throughs against it.
#   scripts/test-servers.sh [NAME...]    (default: every known server)
# Prints one line per server, writes .servers/results.tsv, and ends with
# `total: N passed, M failed` (a server that cannot be fetched or started
# counts as one failure). Exit status non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
if [ $# -eq 0 ]; then
  mapfile -t names < <(scripts/servers/fetch.sh --list | cut -f1)
else
  names=("$@")
fi
cargo build --quiet || exit 1
so="$PWD/target/debug/libmtoken.so"
mkdir -p .servers
results=.servers/results.tsv
printf 'server\tversion\tcli\trust passed\trust failed\tcli passed\tcli failed\tseconds\tfailed tests\n' > "$results"
log=$(mktemp); trap 'rm -f "$log"' EXIT
total_passed=0; total_failed=0; status=0; summary=()

for name in "${names[@]}"; do
  echo "=== $name"
  if ! env_text=$(scripts/servers/fetch.sh "$name"); then
    echo "$name: could not be fetched"; summary+=("$name: not fetched")
    total_failed=$((total_failed + 1)); status=1; continue
  fi
  # shellcheck disable=SC1090
  eval "$env_text"
  export MTOKEN_SERVER MTOKEN_CLI
  start=$SECONDS
  # --test '*': the integration tests (the unit tests need no server).
  cargo test --no-fail-fast --test '*' 2>&1 | tee "$log" >/dev/null
  rust_status=${PIPESTATUS[0]}
  rp=$(grep -Eo 'test result: .* [0-9]+ passed' "$log" | grep -Eo '[0-9]+ passed' | awk '{s+=$1} END {print s+0}')
  rf=$(grep -Eo '[0-9]+ failed;' "$log" | awk '{s+=$1} END {print s+0}')
  failed_names=$(grep -E '^test .* FAILED$' "$log" | awk '{print $2}' | sort -u | paste -sd, -)
  if [ "$rust_status" -ne 0 ] && [ "$rf" -eq 0 ]; then
    rf=1; failed_names="${failed_names:-cargo test exited $rust_status}"
  fi
  if [ "$rf" -ne 0 ]; then grep -E -A25 '^---- .* stdout ----$' "$log" | head -150; fi
  scripts/cli-tests.sh "$so" > "$log" 2>&1; cli_status=$?
  cat "$log"
  cp=$(grep -Eo 'cli: [0-9]+ passed' "$log" | grep -Eo '[0-9]+' || echo 0)
  cf=$(grep -Eo 'cli: [0-9]+ passed, [0-9]+ failed' "$log" | grep -Eo '[0-9]+ failed' | grep -Eo '[0-9]+' || echo 0)
  if [ "$cli_status" -ne 0 ] && [ "$cf" -eq 0 ]; then cf=1; fi
  secs=$((SECONDS - start))
  line="$name ($SERVER_VERSION, $CLI_VERSION): rust $rp passed, $rf failed; cli $cp passed, $cf failed; ${secs}s"
  [ -n "$failed_names" ] && line="$line; failed: $failed_names"
  echo "$line"; summary+=("$line")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$SERVER_VERSION" "$CLI_VERSION" \
    "$rp" "$rf" "$cp" "$cf" "$secs" "$failed_names" >> "$results"
  total_passed=$((total_passed + rp + cp)); total_failed=$((total_failed + rf + cf))
  [ $((rf + cf)) -eq 0 ] || status=1
done

echo
echo "server matrix:"
printf '  %s\n' "${summary[@]}"
echo "total: $total_passed passed, $total_failed failed"
exit "$status"
