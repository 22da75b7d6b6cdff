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
# ONLY="3.15" limits test and cpython to those of the suite's interpreters;
# CPYTHON="3.15" makes test also run CPython's suites under those of them, in
# the same build and environment (what .ci/run does).
#
# Chroots live under $TLSCTX_CHROOTS (default /var/tmp/tlsctx-chroots), outside
# the repository, so a later run on the same machine reuses them; a chroot is
# rebuilt when its package list changes.  tools/debian.sh makes the chroots,
# runs commands in them and downloads the wheels (the mirror is read from this
# machine's apt configuration, never written down).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=tools/debian.sh
. "$ROOT/tools/debian.sh"
BASE=$DEBIAN_CHROOTS

interpreters() {
    case "$1" in
        sid) echo "3.14 3.15" ;;
        trixie) echo "3.13" ;;
        *) echo "chroot: unknown suite $1 (sid or trixie)" >&2; return 1 ;;
    esac
}

# The interpreters a run uses: all of the suite's, or those of $ONLY among them.
selected() {
    local v
    for v in $(interpreters "$1"); do
        [ -z "${ONLY:-}" ] || [[ " $ONLY " == *" $v "* ]] && echo "$v"
    done
}

packages() {
    local pkgs="gcc libc6-dev libssl-dev pkg-config openssl ca-certificates" v
    for v in $(interpreters "$1"); do
        pkgs="$pkgs python$v python$v-dev python$v-venv libpython$v-testsuite"
    done
    echo "$pkgs"
}

make_chroot() {
    interpreters "$1" >/dev/null || return
    debian_make_chroot "$1" "$BASE/$1" "$(packages "$1")"
}

run_tests() {
    local suite=$1 dir=$BASE/$1 v rc=0
    shift
    local runner=""  # the README's command, or tools/run_cpython_tests.py with "$@"
    if [ "${MODE:-test}" = cpython ]; then
        runner="python -m pip install -q -e . && python tools/run_cpython_tests.py $*"
    fi
    make_chroot "$suite"
    # shellcheck disable=SC2046
    debian_download_test_wheels "$dir/wheels" $(selected "$suite")
    # A clean copy of the tracked tree (with uncommitted changes to it), one per run.
    local work
    work=$(mktemp -d "$dir/tmp/tlsctx.XXXXXX")
    mkdir "$work/src"
    (cd "$ROOT" && git ls-files -z --cached --others --exclude-standard \
        | xargs -0 cp -d --parents -t "$work/src")
    local inside=${work#"$dir"}
    local cmd
    cmd=$(sed -n 's/^    \(python -m pip install -e ".\[test\]" && python -m pytest\)$/\1/p' "$ROOT/README.md" | head -1)
    for v in $(selected "$suite"); do
        echo "=== CPython $v in a $suite chroot ==="
        local also=":"
        if [ -z "$runner" ] && [[ " ${CPYTHON:-} " == *" $v "* ]]; then
            also="python tools/run_cpython_tests.py"
        fi
        cat > "$work/test.sh" <<SCRIPT
set -e
cd $inside/src
rm -rf build tlsctx/*.so
python$v -m venv $inside/venv$v
. $inside/venv$v/bin/activate
export PIP_NO_INDEX=1 PIP_FIND_LINKS=/wheels PIP_DISABLE_PIP_VERSION_CHECK=1
python -m pip install -q --upgrade pip setuptools wheel
rc=0
${runner:-$cmd ${PYTEST_ARGS:-}} || rc=1
$also || rc=1
exit \$rc
SCRIPT
        debian_run_in "$dir" /bin/sh "$inside/test.sh" || rc=1
    done
    rm -rf "$work"
    return $rc
}

case "${1:-}" in
    make) make_chroot "$2" ;;
    run) suite=$2; shift 2; make_chroot "$suite"; debian_run_in "$BASE/$suite" "$@" ;;
    # shellcheck disable=SC2046
    wheels) debian_download_test_wheels "$3" $(interpreters "$2") ;;
    test) run_tests "$2" ;;
    cpython) suite=$2; shift 2; MODE=cpython run_tests "$suite" "$@" ;;
    *) sed -n '2,14p' "$0" >&2; exit 2 ;;
esac
