#!/usr/bin/env bash
# The Debian pieces every chroot and OpenSSL-3.5 script of the repository
# shares, in one place: the mirror this machine's apt uses, debootstrap
# chroots, commands run inside them, and the test extra's wheels downloaded on
# the host for an interpreter version that is not the host's.
#
# Sourced by bash scripts (functions debian_*), or run as a command, e.g.
# from tools/build_wheels.py or a POSIX sh script:
#
#     tools/debian.sh mirror                 the first non-security archive URI
#     tools/debian.sh security_mirror        the first security archive URI (or nothing)
#     tools/debian.sh chroots                where the chroots live
#     tools/debian.sh install PKG...         apt-get install what is not installed
#     tools/debian.sh make_chroot SUITE DIR "PKG PKG..."
#                                            debootstrap --variant=minbase SUITE into
#                                            DIR with PKGs, unless DIR already has them
#     tools/debian.sh run_in [--bind PATH]... DIR CMD...
#                                            CMD inside DIR, /proc, /dev and each PATH
#                                            (read-only, at the same path) mounted
#     tools/debian.sh download_test_wheels DEST VERSION...
#                                            the test extra of pyproject.toml, plus pip,
#                                            setuptools and wheel, as binary wheels for
#                                            each CPython VERSION (e.g. 3.13) into DEST
#
# The mirror is read from /etc/apt at run time and never written into a file
# of the repository.  Chroots live under $TLSCTX_CHROOTS (default
# /var/tmp/tlsctx-chroots), outside the repository, so that later runs reuse
# them: DIR/.tlsctx-packages records the package list a chroot was made with,
# and a chroot is made again only when that list changes.

DEBIAN_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEBIAN_CHROOTS=${TLSCTX_CHROOTS:-/var/tmp/tlsctx-chroots}
# The host's archive keyring also checks the Release files of newer suites
# (sid and trixie are signed with the trixie keys, bullseye with its own).
DEBIAN_KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

debian_fail() { echo "debian.sh: $*" >&2; return 1; }

# Every archive URI of this machine's apt, in order: deb822 sources first,
# then one-line sources (with or without [options]).
debian_uris() {
    awk '/^URIs:/ {print $2}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true
    awk '$1 == "deb" {print ($2 ~ /^\[/ ? $3 : $2)}' /etc/apt/sources.list 2>/dev/null || true
}

debian_mirror() {
    local uri
    uri=$(debian_uris | grep -v security | head -n 1 || true)
    [ -n "$uri" ] || debian_fail "no Debian mirror configured in /etc/apt" || return
    echo "$uri"
}

debian_security_mirror() {
    debian_uris | grep security | head -n 1 || true
}

debian_chroots() {
    echo "$DEBIAN_CHROOTS"
}

# debian_install PKG...: install (as root, without recommends) the host
# packages that are not installed yet.
debian_install() {
    local missing=() pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q ' installed$' || missing+=("$pkg")
    done
    [ ${#missing[@]} -gt 0 ] || return 0
    [ "$(id -u)" = 0 ] || debian_fail "${missing[*]} missing (installing needs root)" || return
    echo "debian.sh: apt-get install ${missing[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# debian_make_chroot SUITE DIR "PKG PKG...": a minbase chroot of SUITE in DIR
# with PKGs, made in DIR.new and moved into place only when complete; the log
# goes to DIR.log.
debian_make_chroot() {
    local suite=$1 dir=$2 want=$3 uri
    case "$dir" in /?*/?*) ;; *) debian_fail "chroot directory $dir is not an absolute path" || return ;; esac
    if [ -f "$dir/.tlsctx-packages" ] && [ "$(cat "$dir/.tlsctx-packages")" = "$want" ]; then
        return 0
    fi
    uri=$(debian_mirror) || return
    debian_install debootstrap || return
    # no mount can outlive debian_run_in's namespace; --one-file-system guards anyway
    rm -rf --one-file-system "$dir" "$dir.new"
    mkdir -p "$(dirname "$dir")"
    echo "debian.sh: debootstrap --variant=minbase $suite into $dir (a few minutes)"
    debootstrap --variant=minbase --keyring="$DEBIAN_KEYRING" --include="${want// /,}" \
        "$suite" "$dir.new" "$uri" > "$dir.log" 2>&1 \
        || { tail -20 "$dir.log" >&2; return 1; }
    echo "$want" > "$dir.new/.tlsctx-packages"
    mv "$dir.new" "$dir"
}

# debian_run_in [--bind PATH]... DIR CMD...: CMD in the chroot DIR with a
# clean environment.  A private mount namespace holds /proc, /dev and the
# binds, so they vanish with the command: concurrent runs never unmount each
# other's and nothing is left mounted.
debian_run_in() {
    local binds=()
    while [ "${1:-}" = --bind ]; do binds+=("$2"); shift 2; done
    local dir=$1; shift
    [ -d "$dir/etc" ] || debian_fail "no chroot in $dir" || return
    cp /etc/resolv.conf "$dir/etc/resolv.conf" 2>/dev/null || true
    # a minbase chroot may lack /etc/hosts: the tests need "localhost"
    [ -e "$dir/etc/hosts" ] || printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' \
        > "$dir/etc/hosts"
    unshare -m -- /bin/sh -c 'dir=$1; binds=$2; shift 2
        mount -t proc proc "$dir/proc" && mount --rbind /dev "$dir/dev" || exit 1
        for b in $binds; do
            mkdir -p "$dir$b" && mount --bind "$b" "$dir$b" && mount -o remount,bind,ro "$dir$b" || exit 1
        done
        exec chroot "$dir" /usr/bin/env -i HOME=/root PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin \
            LANG=C.UTF-8 TERM=dumb CI="$CI" "$@"' sh "$dir" "${binds[*]:-}" "$@"
}

# The test extra, read from pyproject.toml, as pip requirement strings.
debian_test_requirements() {
    python3 - "$DEBIAN_ROOT/pyproject.toml" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
m = re.search(r'^test = \[(.*?)\]', text, re.M | re.S)
print("\n".join(re.findall(r'"([^"]+)"', m.group(1))))
PY
}

# debian_download_test_wheels DEST VERSION...: on the host (pip inside a
# chroot cannot reach the index), for installing later with --no-index
# --find-links DEST -r DEST/requirements.txt.
debian_download_test_wheels() {
    local dest=$1 version out; shift
    mkdir -p "$dest"
    debian_test_requirements > "$dest/requirements.txt" || return
    for version in "$@"; do
        local extra=() pip=python3 candidate
        # pip download evaluates markers (python_version < "3.11") for the
        # interpreter running it, not for --python-version: run it with the
        # target version when the host has one, else name 3.10's backports
        for candidate in "$(command -v "python$version" || true)" \
                "$(ls -d "${PYENV_ROOT:-/root/.pyenv}/versions/$version".*/bin/python 2>/dev/null | tail -1)"; do
            if [ -n "$candidate" ] && "$candidate" -m pip --version >/dev/null 2>&1; then
                pip=$candidate; break
            fi
        done
        [ "$version" != 3.10 ] || [ "$pip" != python3 ] || extra=(tomli exceptiongroup async-timeout)
        out=$("$pip" -m pip download -q --disable-pip-version-check --only-binary=:all: \
            --python-version "$version" --implementation cp \
            --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
            --platform manylinux2014_x86_64 --platform any \
            -d "$dest" -r "$dest/requirements.txt" setuptools wheel pip "${extra[@]}" 2>&1) \
            || { echo "$out" >&2; debian_fail "pip download for CPython $version failed"; return; }
        [ -z "$out" ] || echo "$out" | sed "/WARNING: Location 'file:/d"
    done
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -euo pipefail
    case "${1:-}" in
        mirror|security_mirror|chroots|install|make_chroot|run_in|download_test_wheels)
            command=debian_$1; shift; "$command" "$@" ;;
        *) sed -n '7,23p' "$0" >&2; exit 2 ;;
    esac
fi
