#!/usr/bin/env bash
# Debian chroots for the interpreters this machine's C library cannot run:
# sid (python3.14, python3.15, OpenSSL 3.6) and trixie (python3.13, OpenSSL 3.5).
#
#     tools/chroot.sh make SUITE          build (or reuse) the chroot for SUITE
#     tools/chroot.sh run SUITE CMD...    run CMD inside it, /proc and /dev mounted
#     tools/chroot.sh wheels SUITE DIR    download the test extra's wheels for the
#                                          chroot's interpreters into DIR (on the host:
#                                          pip in the chroot cannot reach the index)
#     tools/chroot.sh test SUITE          build tlsctx from a clean copy of the tracked
#                                          tree and run the README's test command under
#                                          every interpreter of SUITE
#     tools/chroot.sh cpython SUITE [ARGS] the same build, then CPython's own ssl suites
#                                          on the stdlib and on tlsctx under each
#                                          interpreter (tools/run_cpython_tests.py ARGS)
#
# Chroots live under $TLSCTX_CHROOTS (default /var/tmp/tlsctx-chroots), outside
# the repository, so a later run on the same machine reuses them; a chroot is
# rebuilt when its package list changes.  The mirror is read from this
# machine's apt configuration, never written down here.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BASE=${TLSCTX_CHROOTS:-/var/tmp/tlsctx-chroots}

interpreters() {
    case "$1" in
        sid) echo "3.14 3.15" ;;
        trixie) echo "3.13" ;;
        *) echo "chroot: unknown suite $1 (sid or trixie)" >&2; return 1 ;;
    esac
}

packages() {
    local pkgs="gcc libc6-dev libssl-dev pkg-config openssl ca-certificates" v
    for v in $(interpreters "$1"); do
        pkgs="$pkgs python$v python$v-dev python$v-venv libpython$v-testsuite"
    done
    echo "$pkgs"
}

mirror() {
    # The first non-security Debian archive this machine's apt uses.
    local uri
    uri=$(awk '/^URIs:/ {print $2}' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v security | head -1)
    [ -n "$uri" ] || uri=$(awk '$1 == "deb" && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null)
    [ -n "$uri" ] || { echo "chroot: no Debian mirror in /etc/apt" >&2; return 1; }
    echo "$uri"
}

need_debootstrap() {
    command -v debootstrap >/dev/null && return 0
    [ "$(id -u)" = 0 ] || { echo "chroot: debootstrap missing (needs root)" >&2; return 1; }
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
}

make_chroot() {
    local suite=$1 dir=$BASE/$1 want
    want=$(packages "$suite")
    if [ -f "$dir/.tlsctx-packages" ] && [ "$(cat "$dir/.tlsctx-packages")" = "$want" ]; then
        return 0
    fi
    need_debootstrap
    # no mount can outlive run_in's namespace; --one-file-system guards anyway
    rm -rf --one-file-system "$dir" "$dir.new"
    mkdir -p "$BASE"
    echo "chroot: debootstrap $suite into $dir"
    # sid is signed by the newest release keys, which an older host keyring may
    # lack: the archive's signature is then not checked for sid (the packages'
    # hashes still are, against the Release file).
    local keyopt=(--keyring=/usr/share/keyrings/debian-archive-keyring.gpg)
    [ "$suite" = sid ] && keyopt=(--no-check-gpg)
    debootstrap --variant=minbase "${keyopt[@]}" --include="$(echo "$want" | tr ' ' ,)" \
        "$suite" "$dir.new" "$(mirror)" > "$BASE/$suite.log" 2>&1 \
        || { tail -20 "$BASE/$suite.log" >&2; return 1; }
    echo "$want" > "$dir.new/.tlsctx-packages"
    mv "$dir.new" "$dir"
}

run_in() {
    # A private mount namespace: /proc and /dev vanish with the command, so
    # concurrent runs never unmount each other's and nothing is left mounted.
    local suite=$1 dir=$BASE/$1; shift
    cp /etc/resolv.conf "$dir/etc/resolv.conf" 2>/dev/null || true
    unshare -m -- /bin/sh -c 'dir=$1; shift
        mount -t proc proc "$dir/proc" && mount --rbind /dev "$dir/dev" || exit 1
        exec chroot "$dir" /usr/bin/env -i HOME=/root PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin \
            LANG=C.UTF-8 TERM=dumb CI="$CI" "$@"' sh "$dir" "$@"
}

# The test extra, read from pyproject.toml, as pip requirement strings.
test_requirements() {
    python3 - "$ROOT/pyproject.toml" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
m = re.search(r'^test = \[(.*?)\]', text, re.M | re.S)
print("\n".join(re.findall(r'"([^"]+)"', m.group(1))))
PY
}

download_wheels() {
    local suite=$1 dest=$2 v
    mkdir -p "$dest"
    test_requirements > "$dest/requirements.txt"
    for v in $(interpreters "$suite"); do
        python3 -m pip download -q --only-binary=:all: --python-version "$v" --implementation cp \
            --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
            --platform manylinux2014_x86_64 --platform any \
            -d "$dest" -r "$dest/requirements.txt" setuptools wheel pip
    done
}

run_tests() {
    local suite=$1 dir=$BASE/$1 v rc=0
    shift
    local runner=""  # the README's command, or tools/run_cpython_tests.py with "$@"
    if [ "${MODE:-test}" = cpython ]; then
        runner="python -m pip install -q -e . && python tools/run_cpython_tests.py $*"
    fi
    make_chroot "$suite"
    download_wheels "$suite" "$dir/wheels"
    # A clean copy of the tracked tree (with uncommitted changes to it), one per run.
    local work
    work=$(mktemp -d "$dir/tmp/tlsctx.XXXXXX")
    mkdir "$work/src"
    (cd "$ROOT" && git ls-files -z --cached --others --exclude-standard \
        | xargs -0 cp -d --parents -t "$work/src")
    local inside=${work#"$dir"}
    local cmd
    cmd=$(sed -n 's/^    \(python -m pip install -e ".\[test\]" && python -m pytest\)$/\1/p' "$ROOT/README.md" | head -1)
    for v in $(interpreters "$suite"); do
        echo "=== CPython $v in a $suite chroot ==="
        cat > "$work/test.sh" <<SCRIPT
set -e
cd $inside/src
rm -rf build tlsctx/*.so
python$v -m venv $inside/venv$v
. $inside/venv$v/bin/activate
export PIP_NO_INDEX=1 PIP_FIND_LINKS=/wheels PIP_DISABLE_PIP_VERSION_CHECK=1
python -m pip install -q --upgrade pip setuptools wheel
${runner:-$cmd ${PYTEST_ARGS:-}}
SCRIPT
        run_in "$suite" /bin/sh "$inside/test.sh" || rc=1
    done
    rm -rf "$work"
    return $rc
}

case "${1:-}" in
    make) make_chroot "$2" ;;
    run) suite=$2; shift 2; make_chroot "$suite"; run_in "$suite" "$@" ;;
    wheels) download_wheels "$2" "$3" ;;
    test) run_tests "$2" ;;
    cpython) suite=$2; shift 2; MODE=cpython run_tests "$suite" "$@" ;;
    *) sed -n '2,14p' "$0" >&2; exit 2 ;;
esac
