#!/bin/sh
# Build tlsctx against OpenSSL 3.5 (Debian trixie's libssl-dev, linked
# statically with its symbols hidden) beside the default build, and run the
# test suite against it.
#
# Usage (from anywhere; apt-get runs as root):
#     .ci/openssl35.sh [python]          default python: python3
# Everything goes under build/openssl35/ in the repository:
#     apt/      private apt state: trixie sources list, package lists, cache
#     root/     libssl-dev unpacked with dpkg-deb -x (nothing installed)
#     prefix/   include/ + lib/ assembled from root/, for TLSCTX_OPENSSL_DIR
#     site/     the built package (tlsctx/ with its own _tlsctx*.so)
# The in-place default build in tlsctx/ is left untouched.
# Environment: OPENSSL35_SKIP_TESTS=1 builds only; PYTEST_ARGS adds arguments.
set -eu

PY=${1:-python3}
REPO=$(cd "$(dirname "$0")/.." && pwd)
OUT=$REPO/build/openssl35
ARCH=$(dpkg --print-architecture)
TRIPLET=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)

say() { printf '== openssl35: %s\n' "$*"; }

# 1. Link-time dependencies of the static libcrypto (compression support).
missing=""
for pkg in zlib1g-dev libzstd-dev; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
    say "installing$missing"
    apt-get -q update
    # shellcheck disable=SC2086
    apt-get install -y --no-install-recommends $missing
fi

# 2. Fetch libssl-dev from trixie through a private apt configuration: the
#    system's sources, lists and cache are not touched.
if [ ! -f "$OUT/prefix/lib/libssl.a" ]; then
    for keyring in debian-archive-trixie-stable.gpg debian-archive-trixie-automatic.gpg; do
        if [ ! -f "/usr/share/keyrings/$keyring" ]; then
            echo "openssl35: /usr/share/keyrings/$keyring is missing (debian-archive-keyring" \
                 "2023.3+deb12u1 or later has it)" >&2
            exit 1
        fi
    done
    mkdir -p "$OUT/apt/lists/partial" "$OUT/apt/cache/archives/partial" "$OUT/apt/etc" "$OUT/debs"
    cat > "$OUT/apt/etc/trixie.sources" <<SOURCES
Types: deb
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Architectures: $ARCH
Signed-By: /usr/share/keyrings/debian-archive-trixie-stable.gpg /usr/share/keyrings/debian-archive-trixie-automatic.gpg
SOURCES
    cat > "$OUT/apt/etc/apt.conf" <<CONF
Dir::Etc::SourceList "/dev/null";
Dir::Etc::SourceParts "$OUT/apt/etc";
Dir::State::Lists "$OUT/apt/lists";
Dir::State::status "/dev/null";
Dir::Cache "$OUT/apt/cache";
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
APT::Architecture "$ARCH";
APT::Architectures { "$ARCH"; };
CONF
    say "apt-get update (private trixie lists)"
    APT_CONFIG="$OUT/apt/etc/apt.conf" apt-get -q update
    say "apt-get download libssl-dev"
    (cd "$OUT/debs" && rm -f libssl-dev_*.deb && APT_CONFIG="$OUT/apt/etc/apt.conf" apt-get -q download "libssl-dev:$ARCH")
    deb=$(ls "$OUT"/debs/libssl-dev_*.deb | head -n 1)
    say "unpacking $(basename "$deb")"
    rm -rf "$OUT/root" "$OUT/prefix"
    dpkg-deb -x "$deb" "$OUT/root"
    # Debian splits the headers: generic ones under include/openssl, the
    # architecture's configuration under include/<triplet>/openssl.
    mkdir -p "$OUT/prefix/include/openssl" "$OUT/prefix/lib"
    cp -R "$OUT/root/usr/include/openssl/." "$OUT/prefix/include/openssl/"
    if [ -d "$OUT/root/usr/include/$TRIPLET/openssl" ]; then
        cp -R "$OUT/root/usr/include/$TRIPLET/openssl/." "$OUT/prefix/include/openssl/"
    fi
    cp "$OUT/root/usr/lib/$TRIPLET/libssl.a" "$OUT/root/usr/lib/$TRIPLET/libcrypto.a" "$OUT/prefix/lib/"
fi
grep -h 'define OPENSSL_VERSION_TEXT' "$OUT/prefix/include/openssl/opensslv.h" | sed 's/^/== openssl35: headers: /'

# 3. Build tlsctx against it, into its own directories.
say "building with $PY"
rm -rf "$OUT/site"
(cd "$REPO" && TLSCTX_OPENSSL_DIR="$OUT/prefix" TLSCTX_OPENSSL_STATIC=1 \
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
