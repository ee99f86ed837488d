#!/usr/bin/env bash
# check-junit.sh PINMM - `pinmm check --junit FILE` read against the JUnit
# schema docs/schema/junit.xsd by a real validator (xmllint, libxml2-utils),
# its counts those of the matrix, and files that break the schema rejected.
set -uo pipefail
pinmm=$1
source "$(dirname "${BASH_SOURCE[0]}")/lib-formats.sh"
command -v xmllint >/dev/null || no_reader xmllint libxml2-utils
xsd=docs/schema/junit.xsd

valid() {	# valid FILE
	expect 0 "$1 follows $xsd" -- xmllint --noout --schema "$xsd" "$1"
}
invalid() {	# invalid WHAT FILE
	expect 3 "a file with $1 is rejected" -- xmllint --noout --schema "$xsd" "$2"
}
is() {	# is WANT XPATH: the matrix's XML says WANT there
	local got
	n=$((n + 1))
	got=$(xmllint --xpath "$2" "$tmp/m.xml")
	[ "$got" = "$1" ] || bad "$2 is '$got', expected '$1'"
}

# an UNEXPECTED cell, n/a cells (--no-host), an explored scenario; TAP on
# stdout meanwhile
expect 1 "check with an UNEXPECTED cell" -- "$pinmm" check --tap --no-host --junit "$tmp/m.xml" \
	scenarios/e-munmap.pin scenarios/g5-pin-accounting.pin scenarios/g4-gup-fast-recheck.pin \
	"$(unexpected_pin)"
cp "$tmp/out" "$tmp/m.tap"
holds "--junit with --tap: stdout is TAP" -- grep -qx 'TAP version 13' "$tmp/m.tap"
valid "$tmp/m.xml"
# the XML says what the matrix says: cells, failures, skips, names, times
cells=$(grep -c '^\(not \)\?ok ' "$tmp/m.tap")
is "$cells" 'count(//testcase)'
is "$cells" 'string(/testsuites/@tests)'
is 1 'count(//testcase/failure)'
is 1 'string(/testsuites/@failures)'
is 4 'count(//testcase/skipped)'
is 4 'count(//testsuite)'
holds "the failure carries the cell's reason" -- grep -q \
	'<failure message="passed: declared to fail under -anon_exclusive" type="UNEXPECTED"' "$tmp/m.xml"
holds "a testcase has its time" -- grep -Eq \
	'<testcase name="e-munmap strict" classname="e-munmap" time="[0-9]+\.[0-9]{3}"' "$tmp/m.xml"

# a file that cannot be written is a usage error, known before the run
expect 2 "--junit into a missing directory" -- \
	"$pinmm" check --no-host --junit "$tmp/no/such/dir/m.xml" scenarios/e-munmap.pin

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

finish
