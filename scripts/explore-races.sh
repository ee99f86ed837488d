#!/usr/bin/env bash
# explore-races.sh PINMM FILE... - the explorer against each race scenario
# (a .pin with `thread` blocks, `explore bound=K|none` and `breaks-without`):
#   - strict: `pinmm explore` exhausts the bound with no counterexample (exit 0);
#     with `bound=none`, every interleaving;
#   - each breaks-without switch off, and legacy: a counterexample (exit 1),
#     and `pinmm replay` of its schedule reproduces it (exit 1, the same
#     first failure), while the same schedule under strict passes (exit 0);
#   - --json is valid JSON carrying the schedule and the trace events.
# Registered by ctest as explore_race_<name> (label race).
set -uo pipefail
pinmm=$1
shift
fail=0
checks=0

bad() {
	echo "FAIL $*"
	fail=$((fail + 1))
}

# first failure line of a text report: "  FILE:LINE: ..."
first_failure() {
	grep -m1 -E "^  $1:[0-9]+: " || true
}

for f in "$@"; do
	bound=$(sed -n -E 's/^explore( bound=([0-9]+|none))?.*/\2/p' "$f" | head -n 1)
	grep -q '^explore' "$f" && bound=${bound:-2}
	switches=$(sed -n -E 's/^breaks-without +//p' "$f" | sed 's/#.*//')
	[ -n "$switches" ] || { bad "$f: no breaks-without line"; continue; }

	# strict: exhausted, clean
	out=$("$pinmm" explore "$f" --policy strict 2>&1)
	rc=$?
	checks=$((checks + 1))
	if [ $rc -ne 0 ] || ! grep -q "exhausted, no counterexample" <<<"$out"; then
		bad "$f strict: expected exhausted and clean (exit 0), got exit $rc:"
		echo "$out" | head -n 20
	else
		echo "ok   $f strict: $(grep -m1 executions <<<"$out" | sed 's/^ *//')"
	fi

	for pol in $(for s in $switches; do echo "strict,-$s"; done) legacy; do
		checks=$((checks + 1))
		out=$("$pinmm" explore "$f" --policy "$pol" 2>&1)
		rc=$?
		sched=$(sed -n -E 's/^  schedule: (.*)$/\1/p' <<<"$out")
		msg=$(first_failure "$f" <<<"$out")
		if [ $rc -ne 1 ] || [ -z "$msg" ] || ! grep -q "^  schedule: " <<<"$out"; then
			bad "$f $pol: expected a counterexample (exit 1), got exit $rc:"
			echo "$out" | head -n 20
			continue
		fi
		echo "ok   $f $pol: found, schedule '$sched': $(grep -m1 executions <<<"$out" | sed 's/^ *//')"
		# the counterexample replays, to the same failure
		rout=$("$pinmm" replay "$f" "$sched" --policy "$pol" 2>&1)
		rc=$?
		rmsg=$(first_failure "$f" <<<"$rout")
		if [ $rc -ne 1 ] || [ "$rmsg" != "$msg" ]; then
			bad "$f $pol: replay '$sched' exit $rc (expected 1), '$rmsg' vs '$msg'"
		fi
		# under strict the same interleaving holds
		"$pinmm" replay "$f" "$sched" --policy strict >/dev/null 2>&1
		rc=$?
		[ $rc -eq 0 ] || bad "$f: replay '$sched' under strict exit $rc (expected 0)"
		# JSON: the schedule and the trace, parseable
		if command -v python3 >/dev/null; then
			# (explore exits 1 here: a counterexample; pipefail must not see it)
			{ "$pinmm" explore "$f" --policy "$pol" --json 2>/dev/null || true; } | python3 -c '
import json, sys
r = json.load(sys.stdin)
assert r["found"] and r["schedule"] == sys.argv[1], (r["found"], r["schedule"])
assert len(r["trace"]) > 0 and {"step", "thread", "point", "object", "value"} <= set(r["trace"][0])
' "$sched" || bad "$f $pol: --json"
		fi
	done
	[ -n "$bound" ] || bad "$f: no explore line"
done

echo "explore-races: $checks cells, $fail failures"
[ $fail -eq 0 ]
