#!/usr/bin/env bash
# Create, configure (CA data, certificate chain and encrypted key, callbacks,
# key log) and drop 100000 contexts; fail if RSS grows.
#   PYTHON=python3.13 tools/leakcheck.sh [rounds]
set -euo pipefail
cd "$(dirname "$0")/.."
TLSCTX_LEAK_ROUNDS=${1:-100000} "${PYTHON:-python3}" -m pytest -q -p no:cacheprovider \
    tests/test_hardening.py -k test_many_contexts_do_not_grow_memory
