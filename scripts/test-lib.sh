# shellcheck shell=bash
# test-lib.sh - sourced by the ctest scripts: strict mode, a temporary
# directory $dir removed at exit, and bad() to count a failure.
set -uo pipefail
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail=0

bad() {
	echo "FAIL $*"
	fail=$((fail + 1))
}
