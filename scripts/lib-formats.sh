# lib-formats.sh - sourced by scripts/check-{json,ktap,junit}.sh, each of
# which has an output format of pinmm read by its real reader: counted
# checks, a scratch directory, and the rule for a missing reader (a skip,
# exit 4, outside CI; a failure in CI, where scripts/test-deps.sh installs
# every reader).
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
me=$(basename "$0" .sh)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0 n=0

# no_reader WHAT PACKAGE: the reader is not installed
no_reader() {
	echo "$me: no $1 (scripts/test-deps.sh installs $2)"
	[ -n "${CI:-}" ] && exit 1
	exit 4
}

# bad WHAT: the check under way failed
bad() {
	echo "FAIL: $*"
	fail=$((fail + 1))
}

# expect STATUS WHAT -- COMMAND...: one check: COMMAND exits STATUS (its
# output is shown when it does not)
expect() {
	local want=$1 what=$2 rc
	shift 3
	n=$((n + 1))
	"$@" >"$tmp/out" 2>&1
	rc=$?
	if [ $rc -ne "$want" ]; then
		cat "$tmp/out"
		bad "$what: exit $rc, expected $want"
	fi
}

# holds WHAT -- COMMAND...: one check: COMMAND succeeds
holds() {
	local what=$1
	shift 2
	n=$((n + 1))
	"$@" >/dev/null 2>&1 || bad "$what"
}

# unexpected_pin: a scenario declaring a break that does not happen, whose
# matrix has an UNEXPECTED cell (-anon_exclusive); prints its path
unexpected_pin() {
	sed 's/^scenario .*/&\nbreaks-without anon_exclusive/' scenarios/e-munmap.pin \
		>"$tmp/unexpected.pin"
	echo "$tmp/unexpected.pin"
}

# finish: the count, and the exit status of the script
finish() {
	echo "$me: $((n - fail))/$n as expected"
	[ $fail -eq 0 ]
}
