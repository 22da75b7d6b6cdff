#!/usr/bin/env bash
# Run every fuzz harness for SECONDS each (default 30) from a generated seed corpus.
#   PYTHON=python3.11 fuzz/run.sh 20
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-python3}
SECONDS_EACH=${1:-30}
WORK=$(mktemp -d /tmp/tlsctx-fuzz.XXXXXX)
cd "$ROOT"
"$PYTHON" -m pip install -q atheris trustme cryptography >/dev/null
"$PYTHON" fuzz/make_seeds.py "$WORK/seeds"
for target in cadata_pem cadata_der cert_chain ciphers alpn; do
    mkdir -p "$WORK/corpus/$target"
    echo "fuzz: $target for ${SECONDS_EACH}s"
    "$PYTHON" fuzz/harnesses.py "$target" -max_total_time="$SECONDS_EACH" -rss_limit_mb=4096 \
        -artifact_prefix="$WORK/crash-$target-" "$WORK/corpus/$target" "$WORK/seeds/$target" \
        2>&1 | tail -n 3
done
rm -rf "$WORK"
echo "fuzz: all harnesses ran clean"
