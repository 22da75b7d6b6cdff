#!/bin/sh
# Build tlsctx against OpenSSL 3.5 (Debian trixie's libssl-dev, linked
# statically with its symbols hidden) beside the default build, and run the
# test suite against it.
#
# Usage (from anywhere; apt-get runs as root):
#     .ci/openssl35.sh [python]          default python: python3
# Everything goes under build/openssl35/ in the repository:
#     apt/, root/, prefix/   tools/openssl35_prefix.sh's: libssl-dev unpacked
#               (nothing installed), include/ + lib/ for TLSCTX_OPENSSL_DIR
#     site/     the built package (tlsctx/ with its own _tlsctx*.so)
# The in-place default build in tlsctx/ is left untouched.
# Environment: OPENSSL35_SKIP_TESTS=1 builds only; PYTEST_ARGS adds arguments.
set -eu

PY=${1:-python3}
REPO=$(cd "$(dirname "$0")/.." && pwd)
OUT=$REPO/build/openssl35

say() { printf '== openssl35: %s\n' "$*"; }

# 1. Link-time dependencies of the static libcrypto (compression support).
"$REPO/tools/debian.sh" install zlib1g-dev libzstd-dev

# 2. OpenSSL 3.5's static libraries and headers (Debian trixie's libssl-dev,
#    fetched by the helper the wheel build shares; the mirror comes from
#    this machine's apt configuration).
PREFIX=$("$REPO/tools/openssl35_prefix.sh" "$OUT" | tail -n 1)

# 3. Build tlsctx against it, into its own directories.
say "building with $PY"
rm -rf "$OUT/site"
(cd "$REPO" && TLSCTX_OPENSSL_DIR="$PREFIX" TLSCTX_OPENSSL_STATIC=1 \
    "$PY" setup.py -q build --build-base "$OUT/build" --build-lib "$OUT/site" --force)

# 4. Which OpenSSL each side uses, in one process.
(cd "$OUT/site" && "$PY" -c '
import ssl, tlsctx
print("== openssl35: tlsctx", tlsctx.__file__)
print("== openssl35: tlsctx.OPENSSL_VERSION =", tlsctx.OPENSSL_VERSION)
print("== openssl35: ssl.OPENSSL_VERSION    =", ssl.OPENSSL_VERSION)
assert tlsctx.OPENSSL_VERSION_INFO[:2] == (3, 5), tlsctx.OPENSSL_VERSION
' && "$PY" -m tlsctx)

# 5. The suite, importing tlsctx from site/ (the working directory), not the
#    repository's in-place build.
if [ "${OPENSSL35_SKIP_TESTS:-0}" != 1 ]; then
    say "running tests"
    cd "$OUT/site"
    # shellcheck disable=SC2086
    "$PY" -m pytest -c "$REPO/pyproject.toml" --rootdir "$REPO" -p no:cacheprovider \
        ${PYTEST_ARGS:-} "$REPO/tests"
fi
