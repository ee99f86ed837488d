#!/usr/bin/env bash
# scenario-bad.sh PINMM DIR - every DIR/*.pin must be refused by `PINMM run`
# with exit status 2 and the error its first line announces:
#   # expect-error: LINE:COL: <a substring of the message>
# The message must read "FILE:LINE:COL: error: ..." and nothing may run.
set -uo pipefail
pinmm=$1
dir=$2
fail=0
n=0
for f in "$dir"/*.pin; do
	n=$((n + 1))
	want=$(head -n 1 "$f")
	if [[ $want != "# expect-error: "* ]]; then
		echo "FAIL $f: first line is not '# expect-error: LINE:COL: message'"
		fail=$((fail + 1))
		continue
	fi
	want=${want#"# expect-error: "}
	loc=${want%%: *}
	msg=${want#*: }
	out=$("$pinmm" run "$f" 2>&1 >/dev/null)
	rc=$?
	if [ $rc -ne 2 ]; then
		echo "FAIL $f: exit status $rc, expected 2"
		fail=$((fail + 1))
	elif [[ $out != "$f:$loc: error: "* ]]; then
		echo "FAIL $f: expected '$f:$loc: error: ...', got '$out'"
		fail=$((fail + 1))
	elif [[ $out != *"$msg"* ]]; then
		echo "FAIL $f: message lacks '$msg': '$out'"
		fail=$((fail + 1))
	fi
done
echo "scenario-bad: $((n - fail))/$n bad scenarios refused as announced"
[ $fail -eq 0 ] && [ $n -gt 0 ]
