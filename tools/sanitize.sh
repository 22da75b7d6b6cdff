#!/usr/bin/env bash
# Build tlsctx with AddressSanitizer + UndefinedBehaviorSanitizer in a scratch
# copy of the tree and run the test suite (or the pytest arguments given) there.
#   tools/sanitize.sh                       # whole suite, with ./python or $PYTHON
#   PYTHON=/path/to/python tools/sanitize.sh tests/test_parity.py
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-python3}
WORK=$(mktemp -d /tmp/tlsctx-asan.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
# a copy, so that the instrumented extension never replaces the normal build
tar -C "$ROOT" --exclude=./build --exclude='*.so' --exclude=./.git -cf - . | tar -C "$WORK" -xf -
cd "$WORK"
TLSCTX_SANITIZE=1 "$PYTHON" setup.py -q build_ext --inplace
ASAN_LIB=$(gcc -print-file-name=libasan.so)
UBSAN_LIB=$(gcc -print-file-name=libubsan.so)
# CPython itself is not instrumented and frees at exit what it likes: leak
# detection belongs to tools/memcheck.py; ASan here catches invalid accesses.
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export PYTHONMALLOC=malloc
# RSS is measured in the normal build (tools/leakcheck.sh): ASan's quarantine
# keeps freed memory resident, so the RSS test would measure ASan, not tlsctx
LD_PRELOAD="$ASAN_LIB $UBSAN_LIB" "$PYTHON" -m pytest -q -p no:cacheprovider \
    --deselect tests/test_hardening.py::test_many_contexts_do_not_grow_memory "${@:-tests}"
echo "sanitize: ASan+UBSan run passed"
