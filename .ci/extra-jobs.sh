#!/usr/bin/env bash
# The jobs beyond the per-interpreter suite, on one interpreter: short
# valgrind and ASan/UBSan runs, bounded fuzzing, the 100k-context leak check.
# (OpenSSL 3.5 is tested by the trixie chroot and the binary wheels.)
# $1: a python whose environment has tlsctx installed with its test extra.
set -euo pipefail
PY=$1
cd "$(dirname "$0")/.."
export PYTHON=$PY

need() {  # install a Debian package when its command is missing
    command -v "$1" >/dev/null && return 0
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2"
    else
        echo "ci: $1 missing and cannot be installed" >&2
        return 1
    fi
}

step() { echo; echo "=== $* ==="; }

step "valgrind memcheck (short)"
need valgrind valgrind
"$PY" tools/memcheck.py tests/test_parity.py tests/test_endpoint.py tests/test_cert_from_memory.py

step "ASan + UBSan (short)"
tools/sanitize.sh tests/test_parity.py tests/test_endpoint.py tests/test_trust_cache.py \
    tests/test_cert_from_memory.py tests/test_hardening.py tests/test_threads.py \
    tests/test_threads_trust.py

step "fuzzing, 20 s per harness"
fuzz/run.sh 20

step "40000 configured contexts keep RSS flat"
tools/leakcheck.sh 40000

echo; echo "ci: extra jobs passed"
