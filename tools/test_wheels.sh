#!/usr/bin/env bash
# Install each binary wheel of tools/build_wheels.py into a bare Debian chroot
# (debootstrap --variant=minbase plus the Python interpreter, its venv module,
# the openssl command line tool the tests use as a peer and ca-certificates:
# no compiler, no Python or OpenSSL headers, no libssl-dev) and run the whole
# test suite there against the installed wheel, from a copy of tests/ with no
# tlsctx/ or src/ beside it.
#
#     tools/test_wheels.sh [WHEELDIR]      default: dist/wheels
#     tools/test_wheels.sh make            only build (or reuse) the chroots
#
# Where each wheel runs (root needed; chroots under $TLSCTX_CHROOTS, default
# /var/tmp/tlsctx-chroots, reused when present):
#   wheeltest-bookworm  Debian 12's python3.11 (cp311 wheel), and the pyenv
#                       CPythons 3.10 and 3.12 of this machine bind-mounted read-only
#                       at their own paths (cp310, cp312 wheels): they are not
#                       Debian packages and were built on Debian 12, so this is
#                       the oldest chroot they run in
#   wheeltest-trixie    Debian 13's python3.13 (cp313 wheel); also checks that
#                       installing the sdist there fails naming what is missing
#   wheeltest-sid       sid's python3.14 and python3.15 (cp314, cp315 wheels)
#   wheelbuild-bullseye (build_wheels.py's chroot, glibc 2.31) only resolves
#                       each extension's libc symbol versions (ldd): no CPython
#                       >= 3.10 exists for Debian 11, so the suite cannot run there
# The test extra's wheels are downloaded on the host (pip download
# --only-binary, per interpreter version) and installed with --no-index.
# Environment: PYTEST_ARGS narrows the runs (e.g. "-x tests/test_parity.py");
# ONLY="3.12 3.14" limits the interpreters.  Takes about 10 minutes (six
# suite runs) once the chroots exist; making them adds about 4 minutes.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=tools/debian.sh
. "$ROOT/tools/debian.sh"
BASE=$DEBIAN_CHROOTS
COMMON="python3-minimal openssl ca-certificates"

packages() {
    case "$1" in
        bookworm) echo "$COMMON python3.11 python3.11-venv python3-distutils python3-lib2to3 libffi8 libbz2-1.0 liblzma5 libsqlite3-0 libreadline8 libncursesw6 libuuid1 libnsl2 libtirpc3 libcrypt1 libexpat1 zlib1g libssl3" ;;
        trixie) echo "$COMMON python3.13 python3.13-venv" ;;
        sid) echo "$COMMON python3.14 python3.14-venv python3.15 python3.15-venv" ;;
    esac
}

make_chroot() {
    local dir=$BASE/wheeltest-$1 tool
    debian_make_chroot "$1" "$dir" "$(packages "$1")"
    # nothing to build with, whatever a dependency pulled in
    for tool in gcc cc c99 x86_64-linux-gnu-gcc; do
        if [ -e "$dir/usr/bin/$tool" ]; then
            echo "test_wheels: $1 chroot has /usr/bin/$tool" >&2; return 1
        fi
    done
}

# deps DIR MINOR: the test extra's wheels for CPython MINOR into DIR/wheels/MINOR
deps() {
    debian_download_test_wheels "$1/wheels/$2" "$2"
}

# The files the suite reads besides tlsctx itself: tests/, docs/, tools/,
# README.md, pyproject.toml (pytest's settings) - never tlsctx/ or src/.
copy_tests() {
    local dest=$1
    mkdir -p "$dest"
    (cd "$ROOT" && git ls-files -z --cached --others --exclude-standard -- tests docs tools README.md pyproject.toml mkdocs.yml \
        | xargs -0 cp -d --parents -t "$dest")
}

FAILED=()
PASSED=()

# suite_run CHROOTDIR LABEL PYTHON WHEEL [BIND]: one interpreter, one wheel
suite_run() {
    local dir=$1 label=$2 python=$3 wheel=$4 bind=${5:-} minor
    minor=$(basename "$wheel" | sed -n 's/^tlsctx-[^-]*-cp3\([0-9]*\)-.*/3.\1/p')
    echo "=== $label: $(basename "$wheel") ==="
    deps "$dir" "$minor"
    local work inside
    work=$(mktemp -d "$dir/tmp/tlsctx-wheeltest.XXXXXX")
    inside=${work#"$dir"}
    copy_tests "$work/tree"
    cp "$wheel" "$work/"
    cat > "$work/run.sh" <<SCRIPT
set -e
for tool in gcc cc; do ! command -v \$tool >/dev/null || { echo "a compiler is here: \$tool"; exit 1; }; done
[ ! -e /usr/include/openssl/ssl.h ] || { echo "OpenSSL headers are here"; exit 1; }
$python -m venv $inside/venv
. $inside/venv/bin/activate
export PIP_NO_INDEX=1 PIP_FIND_LINKS=/wheels/$minor PIP_DISABLE_PIP_VERSION_CHECK=1
python -m pip install -q --only-binary=:all: $inside/$(basename "$wheel") -r /wheels/$minor/requirements.txt
cd $inside/tree
python - <<'PY'
import os, sys, tlsctx
site = os.path.dirname(os.path.dirname(tlsctx.__file__))
assert site.endswith("site-packages") and site.startswith(sys.prefix), tlsctx.__file__
assert tlsctx._tlsctx._OPENSSL_BUNDLED, "not the bundled build"
print("tlsctx from", tlsctx.__file__)
PY
python -m tlsctx
python -m pytest -p no:cacheprovider ${PYTEST_ARGS:-tests}
SCRIPT
    if debian_run_in ${bind:+--bind "$bind"} "$dir" /bin/sh "$inside/run.sh"; then
        PASSED+=("$label")
    else
        FAILED+=("$label")
    fi
    rm -rf "$work"
}

# The sdist in the bare trixie chroot: pip must fail naming what is missing.
sdist_check() {
    local dir=$BASE/wheeltest-trixie work inside sdist
    echo "=== sdist in the bare trixie chroot: the build must name what is missing ==="
    deps "$dir" 3.13
    work=$(mktemp -d "$dir/tmp/tlsctx-sdist.XXXXXX")
    inside=${work#"$dir"}
    local tools=$ROOT/build/wheels/tools-venv   # tools/build_wheels.py's
    [ -x "$tools/bin/python" ] || { python3 -m venv "$tools" && "$tools/bin/pip" install -q setuptools wheel; }
    (cd "$ROOT" && "$tools/bin/python" -c \
        "import sys; from setuptools import build_meta as b; print(b.build_sdist(sys.argv[1]))" "$work" >/dev/null)
    sdist=$(cd "$work" && ls tlsctx-*.tar.gz)
    cat > "$work/run.sh" <<SCRIPT
python3.13 -m venv $inside/venv && . $inside/venv/bin/activate
python -m pip install -q --no-index --find-links /wheels/3.13 setuptools
python -m pip install --no-index --no-build-isolation $inside/$sdist > $inside/out.txt 2>&1
echo "pip exit status: \$?" >> $inside/out.txt
SCRIPT
    debian_run_in "$dir" /bin/sh "$inside/run.sh" || true
    sed -n '/tlsctx build error/,/^$/p;/pip exit status/p' "$work/out.txt" | sed -n '1,12p'
    if grep -q "lacks:" "$work/out.txt" && grep -q "a C compiler" "$work/out.txt" \
        && grep -q "openssl/ssl.h" "$work/out.txt" && grep -q "pip exit status: [1-9]" "$work/out.txt"; then
        PASSED+=("sdist error in trixie")
    else
        cat "$work/out.txt"
        FAILED+=("sdist error in trixie")
    fi
    rm -rf "$work"
}

# Every extension's glibc symbol versions against Debian 11's C library.
bullseye_check() {
    local dir=$BASE/wheelbuild-bullseye work inside
    [ -d "$dir" ] || { echo "test_wheels: no $dir (tools/build_wheels.py makes it)"; FAILED+=("bullseye ldd"); return; }
    echo "=== glibc 2.31 (bullseye) resolves every extension's libc symbol versions ==="
    work=$(mktemp -d "$dir/tmp/tlsctx-ldd.XXXXXX")
    inside=${work#"$dir"}
    for wheel in "$@"; do
        python3 -m zipfile -e "$wheel" "$work/$(basename "$wheel")"
    done
    if debian_run_in "$dir" /bin/sh -c "rc=0; for so in $inside/*/tlsctx/*.so; do
            out=\$(ldd \$so 2>&1); echo \"\$out\" | sed \"s|^|\$(basename \$so): |\"
            ! echo \"\$out\" | grep -q 'not found' || rc=1; done; exit \$rc"; then
        PASSED+=("bullseye ldd")
    else
        FAILED+=("bullseye ldd")
    fi
    rm -rf "$work"
}

if [ "${1:-}" = make ]; then
    for suite in bookworm trixie sid; do make_chroot "$suite"; done
    exit 0
fi
WHEELS=${1:-$ROOT/dist/wheels}
[ "$(id -u)" = 0 ] || { echo "test_wheels: needs root (debootstrap, chroot)" >&2; exit 1; }
wheel_for() {
    local found
    found=$(ls "$WHEELS"/tlsctx-*-cp3$1-cp3$1-manylinux*_x86_64.whl 2>/dev/null | tail -1)
    [ -n "$found" ] || { echo "test_wheels: no cp3$1 wheel in $WHEELS" >&2; return 1; }
    echo "$found"
}
wanted() { [ -z "${ONLY:-}" ] || [[ " $ONLY " == *" $1 "* ]]; }

for suite in bookworm trixie sid; do make_chroot "$suite"; done
all=()
for v in 10 11 12 13 14 15; do all+=("$(wheel_for "$v")"); done
bullseye_check "${all[@]}"

BOOKWORM=$BASE/wheeltest-bookworm
wanted 3.11 && suite_run "$BOOKWORM" "Debian 12 python3.11 (bookworm chroot)" python3.11 "$(wheel_for 11)"
# pyenv's builds only for the versions no Debian chroot here has (3.10, 3.12):
# the cp311 and cp313 wheels run on Debian's 3.11 and 3.13 (PYENV_TOO=1 adds them)
for py in /root/.pyenv/versions/3.1[0-3].*/bin/python; do
    version=$(basename "$(dirname "$(dirname "$py")")")
    minor=${version%.*}
    wanted "$minor" || continue
    case "$minor" in 3.11|3.13) [ -n "${PYENV_TOO:-}" ] || continue;; esac
    suite_run "$BOOKWORM" "pyenv CPython $version (bookworm chroot)" "$py" "$(wheel_for "${minor#3.}")" \
        "$(dirname "$(dirname "$py")")"
done
wanted 3.13 && suite_run "$BASE/wheeltest-trixie" "Debian 13 python3.13 (trixie chroot)" python3.13 "$(wheel_for 13)"
wanted 3.14 && suite_run "$BASE/wheeltest-sid" "sid python3.14 (sid chroot)" python3.14 "$(wheel_for 14)"
wanted 3.15 && suite_run "$BASE/wheeltest-sid" "sid python3.15 (sid chroot)" python3.15 "$(wheel_for 15)"
sdist_check

echo "test_wheels: passed: ${PASSED[*]:-none}"
if [ ${#FAILED[@]} -gt 0 ]; then
    echo "test_wheels: FAILED: ${FAILED[*]}" >&2
    exit 1
fi
