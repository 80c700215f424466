#!/usr/bin/env bash
# mtoken's performance harness (issues 4, 13): req/s, latency, memory,
# instructions and allocations per command against Redis's own commands, a
# module floor (scripts/bench/floor/) and a Lua baseline; writes
# docs/PERFORMANCE.md. `make bench` builds the release module first.
#   scripts/bench.sh              everything (3-7 minutes on 2 cores)
#   scripts/bench.sh main         redis-benchmark, EXPIREALL, memory
#   scripts/bench.sh callgrind    instruction counts only (needs valgrind)
#   scripts/bench.sh --quick      small counts, one round: a smoke run
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --bench  # redis-benchmark, cc, valgrind if missing
if [ -n "${MAKELEVEL:-}" ]; then
  how="make bench"  # make has just built the release module
else
  how="scripts/bench.sh${*:+ $*}"
  cargo build --release --quiet
fi
command -v python3 >/dev/null 2>&1 || { echo "python3 is missing" >&2; exit 1; }
exec python3 scripts/bench/bench.py --command "$how" "$@"
