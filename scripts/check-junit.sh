#!/usr/bin/env bash
# check-junit.sh PINMM - `pinmm check --junit FILE` read against the JUnit
# schema docs/schema/junit.xsd by a real validator (xmllint, libxml2-utils),
# its counts those of the matrix, and files that break the schema rejected.
# Exit 4 (skip) when xmllint is missing outside CI; in CI that is a failure.
set -uo pipefail
pinmm=$1
cd "$(dirname "${BASH_SOURCE[0]}")/.."
xsd=docs/schema/junit.xsd
if ! command -v xmllint >/dev/null; then
	echo "check-junit: no xmllint (scripts/test-deps.sh installs libxml2-utils)"
	[ -n "${CI:-}" ] && exit 1
	exit 4
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0 n=0
bad() {
	echo "FAIL: $*"
	fail=$((fail + 1))
}
valid() {	# valid FILE
	n=$((n + 1))
	xmllint --noout --schema "$xsd" "$1" 2>"$tmp/err" || { cat "$tmp/err"; bad "$1 does not follow $xsd"; }
}
invalid() {	# invalid WHAT FILE
	n=$((n + 1))
	! xmllint --noout --schema "$xsd" "$2" 2>/dev/null || bad "a file with $1 was not rejected"
}
count() {	# count XPATH FILE
	xmllint --xpath "$1" "$2"
}

# an UNEXPECTED cell (a break declared that does not happen), n/a cells
# (--no-host), an explored scenario; TAP on stdout meanwhile
sed 's/^scenario .*/&\nbreaks-without anon_exclusive/' scenarios/e-munmap.pin >"$tmp/unexpected.pin"
"$pinmm" check --tap --no-host --junit "$tmp/m.xml" scenarios/e-munmap.pin \
	scenarios/g5-pin-accounting.pin scenarios/g4-gup-fast-recheck.pin "$tmp/unexpected.pin" \
	>"$tmp/m.tap"
rc=$?
n=$((n + 1))
[ $rc -eq 1 ] || bad "check with an UNEXPECTED cell exited $rc, not 1"
n=$((n + 1))
head -n 1 "$tmp/m.tap" | grep -qx 'TAP version 13' || bad "--junit with --tap: stdout is not TAP"
valid "$tmp/m.xml"
# the XML says what the matrix says: cells, failures, skips, names
n=$((n + 1))
cells=$(grep -c '^\(not \)\?ok ' "$tmp/m.tap")
[ "$(count 'count(//testcase)' "$tmp/m.xml")" = "$cells" ] || bad "not one testcase per cell"
[ "$(count 'string(/testsuites/@tests)' "$tmp/m.xml")" = "$cells" ] || bad "testsuites tests= is not the cell count"
[ "$(count 'count(//testcase/failure)' "$tmp/m.xml")" = 1 ] || bad "not one failure"
[ "$(count 'string(/testsuites/@failures)' "$tmp/m.xml")" = 1 ] || bad "testsuites failures= is not 1"
[ "$(count 'count(//testcase/skipped)' "$tmp/m.xml")" = 4 ] || bad "not one skipped per host cell"
[ "$(count 'count(//testsuite)' "$tmp/m.xml")" = 4 ] || bad "not one testsuite per scenario"
count 'string(//testcase[@name="unexpected -anon_exclusive"]/failure/@message)' "$tmp/m.xml" |
	grep -q 'declared to fail' || bad "the failure does not carry the cell's reason"
count 'string(//testcase[@name="e-munmap strict"]/@time)' "$tmp/m.xml" |
	grep -Eq '^[0-9]+\.[0-9]{3}$' || bad "a testcase has no time"

# a file that cannot be written is a usage error, known before the run
n=$((n + 1))
"$pinmm" check --no-host --junit "$tmp/no/such/dir/m.xml" scenarios/e-munmap.pin >/dev/null 2>&1
rc=$?
[ $rc -eq 2 ] || bad "--junit into a missing directory exited $rc, not 2"

# the schema rejects what breaks it: real output, one thing changed
m="$tmp/m.xml" b="$tmp/bad.xml"
sed '0,/<testcase name="[^"]*"/s//<testcase/' "$m" >"$b"
invalid "a testcase without a name" "$b"
sed '0,/<system-out>pass</s//<skipped\/><failure\/><system-out>pass</' "$m" >"$b"
invalid "two results in one testcase" "$b"
sed '0,/time="[0-9.]*"/s//time="fast"/' "$m" >"$b"
invalid "a time that is not a number" "$b"
sed '0,/ failures="[0-9]*"/s///' "$m" >"$b"
invalid "testsuites without failures=" "$b"
sed 's/name="g5-pin-accounting legacy"/name="g5-pin-accounting strict"/' "$m" >"$b"
invalid "two testcases of one name" "$b"
sed '0,/<testsuite /s//<testsuit /; 0,/<\/testsuite>/s//<\/testsuit>/' "$m" >"$b"
invalid "an unknown element" "$b"

echo "check-junit: $((n - fail))/$n as expected"
[ $fail -eq 0 ]
