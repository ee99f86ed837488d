#!/usr/bin/env bash
# explore-fork.sh PINMM FILE... - executions forked from a set-up made once
# (`--fork always`) against set-up for each (`--fork never`): on each
# scenario, under strict and under every breaks-without switch off, the
# two searches run the same number of executions, exhaust alike, find the
# same failures and reach the same end states (--outcomes), and the forked
# one says it forked. Registered by ctest as explore_fork.
set -uo pipefail
pinmm=$1
shift
fail=0
checks=0

summary() {
	python3 -c '
import json, sys
r = json.load(sys.stdin)
print("forked", r["forked"])
print("found", r["found"], "exhausted", r["exhausted"], "executions", r["executions"])
for m in sorted({c["message"] for c in r.get("counterexamples", [])}):
	print("failure", m)
for m in r["messages"]:
	print("message", m)
for o in r["outcomes"]:
	print("outcome", o)'
}

for f in "$@"; do
	switches=$(sed -n -E 's/^breaks-without +//p' "$f" | sed 's/#.*//')
	for pol in strict $(for s in $switches; do echo "strict,-$s"; done); do
		checks=$((checks + 1))
		home=$("$pinmm" explore "$f" --policy "$pol" --fork never --keep-going --outcomes \
			--json 2>/dev/null | summary)
		forked=$("$pinmm" explore "$f" --policy "$pol" --fork always --keep-going --outcomes \
			--json 2>/dev/null | summary)
		if ! grep -q "^forked True" <<<"$forked" || ! grep -q "^forked False" <<<"$home"; then
			echo "FAIL $f $pol: --fork always/never not as asked"
			fail=$((fail + 1))
		elif [ "$(tail -n +2 <<<"$home")" != "$(tail -n +2 <<<"$forked")" ]; then
			echo "FAIL $f $pol: forked executions differ from executions at home:"
			diff <(echo "$home") <(echo "$forked") | head -n 10
			fail=$((fail + 1))
		else
			echo "ok   $f $pol: $(sed -n 2p <<<"$home"), $(grep -c ^outcome <<<"$home") end states"
		fi
	done
done
echo "explore-fork: $checks checks, $fail failures"
[ "$fail" -eq 0 ] && [ "$checks" -gt 0 ]
