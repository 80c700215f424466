#!/usr/bin/env bash
# The Python client's tests (clients/python/tests): pytest + pytest-django
# against real redis-servers with the module (one standalone, one 3-node
# cluster), started and killed by the test fixtures.
#   scripts/python-tests.sh [path/to/libmtoken.so] [pytest args...]
# Creates the venv .venv/ when missing and installs clients/python[drf] (the
# distribution "mtoken-redis", import package `mtoken`) into it. Exits with
# pytest's exit code.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
so="${1:-target/debug/libmtoken.so}"
shift || true
case "$so" in /*) ;; *) so="$root/$so" ;; esac
if [ ! -f "$so" ]; then
  echo "python-tests: module not found at $so (run cargo build)" >&2
  exit 1
fi

venv="$root/.venv"
if ! "$venv/bin/python" -c 'import sys; assert sys.version_info >= (3, 9)' >/dev/null 2>&1; then
  rm -rf "$venv"
  python3 -m venv "$venv" || { echo "python-tests: python3 -m venv failed (apt-get install python3-venv)" >&2; exit 1; }
fi
pip=("$venv/bin/python" -m pip -q --disable-pip-version-check)
# The distribution was called "mtoken" before (a name PyPI gives to an
# unrelated project): remove such an install, it owns the same files.
if "${pip[@]}" show mtoken >/dev/null 2>&1; then
  "${pip[@]}" uninstall -y mtoken || exit 1
fi
# The README's install line (the package and its drf extra: Django 4.2 LTS
# or 5.x, DRF 3.15+), then the package again, reinstalled every run so the
# tests see the current source. The build backend (hatchling) builds from
# the tree without writing to it: checked below, ignored files included.
tree_state() { git -C "$root" status --porcelain --ignored -- clients/python 2>/dev/null | grep -v '__pycache__/$'; }
before=$(tree_state)
"${pip[@]}" install "$root/clients/python[drf]" 'pytest>=7.4' 'pytest-django>=4.5' || exit 1
"${pip[@]}" install --no-deps --force-reinstall "$root/clients/python" || exit 1
if [ "$(tree_state)" != "$before" ]; then
  echo "python-tests: pip install wrote into the checkout:" >&2
  diff <(echo "$before") <(tree_state) >&2
  exit 1
fi

cd "$root/clients/python"
# No path given: pytest runs testpaths (tests/); with paths, just those.
MTOKEN_MODULE="$so" "$venv/bin/python" -m pytest -p no:cacheprovider "$@"
