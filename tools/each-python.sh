# Sourced by the tools/check_*.sh scripts after they define check_one:
# runs check_one once per interpreter given, each in a child process so that
# `set -e` applies inside it, and reports which failed.  $LABEL names the check.

if [ "${1:-}" = "--one" ]; then
    check_one "$2"
    exit
fi

failed=()
for py in "$@"; do
    bash "$0" --one "$py" || failed+=("$py")
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "$LABEL: FAILED with ${failed[*]}" >&2
    exit 1
fi
echo "$LABEL: OK with $*"
