#!/bin/sh
# OpenSSL 3.5 as static libraries and headers, from Debian trixie's
# libssl-dev, unpacked (never installed) under a directory of one's own.
#
#     tools/openssl35_prefix.sh OUT
#
# leaves OUT/prefix/include/openssl/*.h and OUT/prefix/lib/lib{ssl,crypto}.a
# (the prefix TLSCTX_OPENSSL_DIR and tools/build_wheels.py want) and prints
# OUT/prefix on its last line.  The package comes through a private apt
# configuration under OUT/apt: the system's sources, lists and cache are not
# touched.  The mirror is the one this machine's apt already uses, read from
# /etc/apt at run time.  A prefix that is already there is reused; delete OUT
# to fetch again (e.g. after a Debian security update of OpenSSL 3.5).
set -eu

OUT=${1:?usage: tools/openssl35_prefix.sh OUT}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
ARCH=$(dpkg --print-architecture)
TRIPLET=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)

# the mirror look-up the repository's chroot scripts share
DEBIAN_SH=$(cd "$(dirname "$0")" && pwd)/debian.sh

say() { printf '== openssl35: %s\n' "$*" >&2; }

if [ ! -f "$OUT/prefix/lib/libssl.a" ] || [ ! -f "$OUT/prefix/lib/libcrypto.a" ]; then
    for keyring in debian-archive-trixie-stable.gpg debian-archive-trixie-automatic.gpg; do
        if [ ! -f "/usr/share/keyrings/$keyring" ]; then
            echo "openssl35: /usr/share/keyrings/$keyring is missing (debian-archive-keyring" \
                 "2023.3+deb12u1 or later has it)" >&2
            exit 1
        fi
    done
    uri=$("$DEBIAN_SH" mirror)
    security=$("$DEBIAN_SH" security_mirror)
    mkdir -p "$OUT/apt/lists/partial" "$OUT/apt/cache/archives/partial" "$OUT/apt/etc" "$OUT/debs"
    # written at run time into the build directory only (git-ignored)
    cat > "$OUT/apt/etc/trixie.sources" <<SOURCES
Types: deb
URIs: $uri
Suites: trixie trixie-updates
Components: main
Architectures: $ARCH
Signed-By: /usr/share/keyrings/debian-archive-trixie-stable.gpg /usr/share/keyrings/debian-archive-trixie-automatic.gpg
SOURCES
    # OpenSSL's security fixes reach trixie-security first
    if [ -n "$security" ]; then
        cat >> "$OUT/apt/etc/trixie.sources" <<SOURCES

Types: deb
URIs: $security
Suites: trixie-security
Components: main
Architectures: $ARCH
Signed-By: /usr/share/keyrings/debian-archive-trixie-security-automatic.gpg
SOURCES
    fi
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
    APT_CONFIG="$OUT/apt/etc/apt.conf" apt-get -q update >&2
    say "apt-get download libssl-dev"
    (cd "$OUT/debs" && rm -f libssl-dev_*.deb \
        && APT_CONFIG="$OUT/apt/etc/apt.conf" apt-get -q download "libssl-dev:$ARCH" >&2)
    deb=$(ls "$OUT"/debs/libssl-dev_*.deb | head -n 1)
    say "unpacking $(basename "$deb")"
    rm -rf "$OUT/root" "$OUT/prefix"
    dpkg-deb -x "$deb" "$OUT/root"
    # Debian splits the headers: the generic ones under include/openssl, the
    # architecture's configuration under include/<triplet>/openssl.
    mkdir -p "$OUT/prefix/include/openssl" "$OUT/prefix/lib"
    cp -R "$OUT/root/usr/include/openssl/." "$OUT/prefix/include/openssl/"
    if [ -d "$OUT/root/usr/include/$TRIPLET/openssl" ]; then
        cp -R "$OUT/root/usr/include/$TRIPLET/openssl/." "$OUT/prefix/include/openssl/"
    fi
    cp "$OUT/root/usr/lib/$TRIPLET/libssl.a" "$OUT/root/usr/lib/$TRIPLET/libcrypto.a" "$OUT/prefix/lib/"
    basename "$deb" > "$OUT/prefix/DEBIAN-PACKAGE"
fi
grep -h 'define OPENSSL_VERSION_TEXT' "$OUT/prefix/include/openssl/opensslv.h" | sed 's/^/== openssl35: headers: /' >&2
echo "$OUT/prefix"
