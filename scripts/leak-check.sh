#!/usr/bin/env bash
# Run integration tests with every redis-server under valgrind memcheck and
# report what the module leaked or touched out of bounds. Slow (minutes);
# not part of `make test`.
#   scripts/leak-check.sh [test names...]   default: core devices errors expiry security
set -uo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind is missing (apt-get install valgrind)" >&2; exit 1; }
tests=("${@:-core devices errors expiry security}")
logs=$(mktemp -d)
args=()
for t in ${tests[@]}; do args+=(--test "$t"); done
cargo build -q
MTOKEN_REDIS_WRAPPER="valgrind --leak-check=full --show-leak-kinds=definite --log-file=$logs/vg.%p" \
  cargo test -q --no-fail-fast "${args[@]}" -- --test-threads=2
status=$?
servers=$(ls "$logs" | wc -l)
# A leak record counts against the module when its stack has a module frame.
module_lost=$(awk '/definitely lost in loss record/ {rec=1; next} rec && /libmtoken|mtoken::/ {n++; rec=0} /^==[0-9]+== $/ {rec=0} END {print n+0}' "$logs"/*)
lost_bytes=$(grep -h "definitely lost:" "$logs"/* | awk '{gsub(",", "", $4); s+=$4} END {print s+0}')
# Blocks allocated once at module load (the redis-module crate's global
# context, RM_GetDetachedThreadSafeContext) are reported but do not grow.
at_load=$(awk '/definitely lost in loss record/ {rec=1; next} rec && /moduleLoad/ {n++; rec=0} /^==[0-9]+== $/ {rec=0} END {print n+0}' "$logs"/*)
# lzf_compress (RDB compression) is a known valgrind false positive in Redis.
invalid=$(grep -h -A2 -E "Invalid (read|write)|uninitialised|Mismatched free" "$logs"/* | grep -c -E "libmtoken|mtoken::" || true)
echo "leak-check: $servers servers under valgrind; $lost_bytes bytes definitely lost in all ($at_load records allocated once at module load); $module_lost leak records with module frames; $invalid invalid accesses in module frames; logs in $logs"
[ "$status" -eq 0 ] && [ "$module_lost" -eq 0 ] && [ "$invalid" -eq 0 ]
