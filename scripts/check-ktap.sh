#!/usr/bin/env bash
# check-ktap.sh PINMM CACHE_DIR - `pinmm check --ktap` read by the kernel's
# own KTAP parser (tools/testing/kunit/kunit_parser.py, through
# scripts/ktap-verdict.py): no parse error, the counts of the Totals line,
# two spaces a nesting level; and malformed KTAP rejected. The parser comes
# from $PINMM_KUNIT_DIR, else from Debian's linux-source package
# (/usr/src/linux-source-*.tar.xz, installed by scripts/test-deps.sh),
# unpacked once into CACHE_DIR.
set -uo pipefail
pinmm=$1
cache=$2
source "$(dirname "${BASH_SOURCE[0]}")/lib-formats.sh"

kunit=${PINMM_KUNIT_DIR:-}
if [ -z "$kunit" ]; then
	tarball=$(ls /usr/src/linux-source-*.tar.xz 2>/dev/null | sort -V | tail -n 1)
	kunit=$cache/kunit
	if [ -n "$tarball" ] && [ ! -f "$kunit/$(basename "$tarball").done" ]; then
		rm -rf "$kunit"
		mkdir -p "$kunit"
		top=$(basename "$tarball" .tar.xz)
		tar -xJf "$tarball" -C "$kunit" --strip-components=4 \
			--wildcards "$top/tools/testing/kunit/*.py" &&
			touch "$kunit/$(basename "$tarball").done"
	fi
fi
[ -f "$kunit/kunit_parser.py" ] || no_reader "kunit_parser.py (nor PINMM_KUNIT_DIR)" linux-source

# verdict FILE STATUS: the parser accepts FILE and calls it STATUS
verdict() {
	n=$((n + 1))
	python3 scripts/ktap-verdict.py "$kunit" "$1" 2>"$tmp/parser.log" >"$tmp/verdict"
	local rc=$?
	if [ $rc -ne 0 ] || [ "$(tail -n 1 "$tmp/verdict")" != "status: $2" ]; then
		cat "$tmp/parser.log" "$tmp/verdict"
		bad "$1: not accepted as $2 (exit $rc)"
	fi
}
# rejected WHAT FILE: the parser finds it malformed
rejected() {
	expect 1 "KTAP with $1 is rejected" -- python3 scripts/ktap-verdict.py "$kunit" "$2"
}

"$pinmm" check --ktap --no-host scenarios/e-munmap.pin scenarios/g5-pin-accounting.pin \
	scenarios/g4-gup-fast-recheck.pin >"$tmp/ok.ktap"
verdict "$tmp/ok.ktap" SUCCESS
# an UNEXPECTED cell (a break declared that does not happen) fails its
# scenario and the run
"$pinmm" check --ktap --no-host scenarios/e-munmap.pin "$(unexpected_pin)" >"$tmp/fail.ktap"
verdict "$tmp/fail.ktap" FAILURE
holds "the scenario with an UNEXPECTED cell is 'not ok'" -- grep -q '^not ok 2 unexpected$' "$tmp/fail.ktap"

# malformed KTAP: real output, one thing broken
k="$tmp/ok.ktap" b="$tmp/bad.ktap"
sed '1d' "$k" >"$b"
rejected "no version line" "$b"
sed '0,/^  ok 2 /s//  ok 3 /' "$k" >"$b"
rejected "a test number out of sequence" "$b"
sed '0,/^  ok 1 strict$/{/^  ok 1 strict$/d}' "$k" >"$b"
rejected "a missing test result" "$b"
sed '2s/.*/1..9/' "$k" >"$b"
rejected "a plan larger than the tests" "$b"
sed '$s/pass:[0-9]*/pass:0/' "$k" >"$b"
rejected "Totals that are not the results" "$b"
sed '$d' "$k" >"$b"
rejected "no Totals line" "$b"
sed '0,/^  ok 1 strict$/s//ok 1 strict/' "$k" >"$b"
rejected "a subtest's result not indented" "$b"
sed '0,/^  1\.\./s//    1../' "$k" >"$b"
rejected "a subtest's plan indented too far" "$b"

finish
