#!/usr/bin/env bash
# Build the documentation with MkDocs, warnings as errors (mkdocs.yml sets
# strict: true; --strict is passed as well).
#
#   tools/build_docs.sh [python]     (default: python3)
#
# MkDocs is installed into a private virtual environment, not the
# interpreter; the site is written to build/site.
set -euo pipefail
cd "$(dirname "$0")/.."
py=${1:-python3}
venv=$(mktemp -d "${TMPDIR:-/tmp}/tlsctx-docs.XXXXXX")
trap 'rm -rf "$venv"' EXIT
"$py" -m venv "$venv"
"$venv/bin/python" -m pip install -q --upgrade pip "mkdocs>=1.5,<2"
"$venv/bin/python" -m mkdocs build --strict --clean --site-dir build/site
echo "docs: built build/site with $("$venv/bin/python" -m mkdocs --version)"
