#!/usr/bin/env bash
# Packaging check: build the sdist and the wheel with `python -m build`, make
# sure the sdist carries everything a build and the tests need, install the
# sdist (not editable) into a fresh virtual environment, and use it from
# outside the source tree: import it, run `python -m tlsctx --json`, and
# type-check tests/typing_sample.py against the installed stubs.
#
#   tools/check_packaging.sh [python ...]     (default: python3)
#
# Each interpreter gets its own scratch directory under $TMPDIR; nothing is
# installed outside it.  Exit status is non-zero if any interpreter fails.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
[ $# -gt 0 ] || set -- python3

# Files the sdist must contain, relative to its top directory.
required_files() {
    git -C "$ROOT" ls-files 'src/*.c' 'src/*.h' 'tests/*.py' 'tlsctx/*.py' 'tlsctx/*.pyi'
    printf '%s\n' tlsctx/py.typed tools/gen_errtables.py src/errtables.h \
        LICENSE README.md pyproject.toml setup.py MANIFEST.in
}

check_one() {
    local py=$1 work version sdist wheel missing
    version=$("$py" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')
    work=$(mktemp -d "${TMPDIR:-/tmp}/tlsctx-pkg.XXXXXX")
    echo "=== packaging with CPython $version ($py) in $work ==="

    # build: a private venv so the shared interpreter stays untouched
    "$py" -m venv "$work/buildenv"
    "$work/buildenv/bin/python" -m pip install -q --upgrade pip build
    # from a copy of the tracked tree: what a fresh clone has, and no
    # egg-info or build/ shared with editable installs running beside it
    mkdir "$work/tree"
    (cd "$ROOT" && git ls-files -z --cached --others --exclude-standard \
        | xargs -0 cp -d --parents -t "$work/tree")
    "$work/buildenv/bin/python" -m build --outdir "$work/dist" "$work/tree" >"$work/build.log" 2>&1 || {
        tail -40 "$work/build.log"; echo "packaging: python -m build failed" >&2; return 1; }
    sdist=$(ls "$work"/dist/tlsctx-*.tar.gz)
    wheel=$(ls "$work"/dist/tlsctx-*.whl)
    echo "built $(basename "$sdist") and $(basename "$wheel")"

    # the sdist's contents
    missing=0
    local listing top
    listing=$(tar -tzf "$sdist")
    top=$(basename "$sdist" .tar.gz)
    while read -r f; do
        if ! grep -qxF "$top/$f" <<<"$listing"; then
            echo "packaging: $f missing from the sdist" >&2
            missing=1
        fi
    done < <(required_files)
    [ $missing = 0 ] || return 1
    # the wheel carries the type information
    "$py" - "$wheel" <<'EOF'
import sys, zipfile
names = set(zipfile.ZipFile(sys.argv[1]).namelist())
need = {"tlsctx/py.typed", "tlsctx/__init__.pyi", "tlsctx/_tlsctx.pyi", "tlsctx/_version.py"}
lacking = need - names
if lacking:
    sys.exit("packaging: wheel lacks %s" % sorted(lacking))
if not any(n.startswith("tlsctx/_tlsctx.") and n.endswith(".so") for n in names):
    sys.exit("packaging: wheel has no compiled extension")
print("wheel holds the extension, stubs and py.typed")
EOF

    # install the sdist, not editable, into a fresh venv and use it elsewhere
    "$py" -m venv "$work/venv"
    "$work/venv/bin/python" -m pip install -q --upgrade pip
    "$work/venv/bin/python" -m pip install -q --no-cache-dir "$sdist"
    mkdir "$work/elsewhere"
    (cd "$work/elsewhere" && "$work/venv/bin/python" - "$ROOT" <<'EOF'
import os, sys
import tlsctx
root = os.path.realpath(sys.argv[1])
where = os.path.realpath(tlsctx.__file__)
assert not where.startswith(root + os.sep), "imported from the source tree: " + where
assert "site-packages" in where, where
ctx = tlsctx.create_default_context()
print("imported tlsctx %s from %s: %s" % (tlsctx.__version__, os.path.dirname(where),
                                          ctx.cert_store_stats()))
EOF
    ) || return 1
    (cd "$work/elsewhere" && "$work/venv/bin/python" -m tlsctx --json >"$work/main.json") || {
        echo "packaging: python -m tlsctx --json failed" >&2; return 1; }
    "$work/venv/bin/python" -c '
import json, sys
report = json.load(open(sys.argv[1]))
print("python -m tlsctx --json: %d keys" % len(report))' "$work/main.json"
    # the installed stubs and py.typed serve a type checker (PEP 561)
    "$work/venv/bin/python" -m pip install -q mypy
    cp "$ROOT/tests/typing_sample.py" "$work/elsewhere/"
    (cd "$work/elsewhere" && "$work/venv/bin/python" -m mypy --strict --no-incremental typing_sample.py)
    rm -rf "$work"
    echo "=== CPython $version: packaging OK ==="
}

LABEL=packaging
source "$ROOT/tools/each-python.sh"
