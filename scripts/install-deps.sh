#!/usr/bin/env bash
# Install what building and testing mtoken needs, if it is missing:
# redis-server and redis-cli (Debian's redis-server, redis-tools), libclang
# (bindgen, used by the redis-module crate's build) and Python's venv.
# With --bench (scripts/bench.sh), also what the benchmark needs:
# redis-benchmark, a C compiler for its module floor, valgrind.
set -euo pipefail

missing=()
if [ "${1:-}" = "--bench" ]; then
  command -v redis-benchmark >/dev/null 2>&1 || missing+=(redis-tools)
  command -v cc >/dev/null 2>&1 || missing+=(gcc)
  # gcc only recommends the C library's headers.
  [ -e /usr/include/string.h ] || missing+=(libc6-dev)
  command -v valgrind >/dev/null 2>&1 || missing+=(valgrind)
fi
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || missing+=(redis-tools)
# bindgen (clang-sys) loads libclang and needs clang's own headers: both come
# with libclang-dev, whose unversioned libclang.so symlink is what we look
# for. libclang-cpp (shipped on some images) or a bare runtime libclang.so.1
# (left by a removed libclang-dev) is not enough.
has_libclang() {
  [ -n "${LIBCLANG_PATH:-}" ] && ls "$LIBCLANG_PATH"/libclang.so* >/dev/null 2>&1 && return 0
  # Either place will do (ls of both fails when one is absent).
  local f
  for f in /usr/lib/llvm-*/lib/libclang.so /usr/lib/*-linux-gnu/libclang.so; do
    [ -e "$f" ] && return 0
  done
  return 1
}
has_libclang || missing+=(libclang-dev)
# The Python client's tests run in a virtualenv.
if ! command -v python3 >/dev/null 2>&1; then missing+=(python3 python3-venv)
elif ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then missing+=(python3-venv); fi
command -v cargo >/dev/null 2>&1 || { echo "cargo is missing: install Rust (https://rustup.rs)" >&2; exit 1; }

[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
    echo "not root and no sudo: install ${missing[*]} yourself" >&2; exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian's package may start a system redis-server on 6379; `make run` wants that port.
if command -v service >/dev/null 2>&1 && [ -z "$sudo" ]; then
  service redis-server stop >/dev/null 2>&1 || true
fi
