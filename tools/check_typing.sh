#!/usr/bin/env bash
# Typing check: build tlsctx in place, then
#   * mypy --strict on tests/typing_sample.py (typical user code) and on the stubs,
#   * mypy.stubtest on tlsctx and tlsctx._tlsctx (stubs against the runtime).
#
#   tools/check_typing.sh [python ...]     (default: python3)
#
# Each interpreter runs in a fresh virtual environment that gets mypy; the
# interpreter itself is left untouched.  tools/stubtest-allowlist.txt, if
# present, lists what stubtest may not check (each line says why).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
[ $# -gt 0 ] || set -- python3

check_one() {
    local py=$1 venv version
    version=$("$py" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')
    venv=$(mktemp -d "${TMPDIR:-/tmp}/tlsctx-typing.XXXXXX")
    echo "=== typing with CPython $version ($py) ==="
    "$py" -m venv "$venv"
    "$venv/bin/python" -m pip install -q --upgrade pip setuptools wheel "mypy>=1.18"
    "$venv/bin/python" setup.py -q build_ext --inplace >"$venv/build.log" 2>&1 || {
        cat "$venv/build.log"; return 1; }
    "$venv/bin/python" -m mypy --cache-dir "$venv/cache" --strict --warn-unused-ignores \
        tests/typing_sample.py tlsctx/__init__.pyi tlsctx/_tlsctx.pyi
    local allow=()
    [ -f tools/stubtest-allowlist.txt ] && allow=(--allowlist tools/stubtest-allowlist.txt)
    "$venv/bin/python" -m mypy.stubtest tlsctx "${allow[@]}"
    rm -rf "$venv"
    echo "=== CPython $version: typing OK ==="
}

LABEL=typing
source "$ROOT/tools/each-python.sh"
