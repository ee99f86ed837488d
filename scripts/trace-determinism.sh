#!/usr/bin/env bash
# trace-determinism.sh PINMM - the same schedule prints the same bytes in
# every run. For race scenarios with a known counterexample:
#   - `pinmm replay` of its schedule, run in separate processes (address
#     space layout randomised, and once without randomisation when setarch
#     can turn it off, so heap addresses surely differ), prints the same
#     text, the same DOT picture and the same JSON trace, byte for byte;
#   - the trace explore printed is the trace replay prints;
#   - no output holds anything like an address (0x and 6+ hex digits);
#   - every step has a scenario line and names its object (no "object #N"
#     fallback) in these, where every object is the scenario's: an entry
#     of a table khugepaged has detached, a mapping mmap is creating.
# Registered by ctest as trace_determinism (label unit).
# shellcheck source=scripts/test-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/test-lib.sh"
pinmm=$1

norand=()
if setarch "$(uname -m)" -R true 2>/dev/null; then
	norand=(setarch "$(uname -m)" -R)
fi

# the JSON without its timings: what must not change from run to run
json_stable() {
	python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
for k in ("seconds", "executions_per_second"):
	r.pop(k, None)
print(json.dumps(r, indent=1, sort_keys=True))' "$1"
}

# FILE POLICY NAMED: a scenario and a policy under which it has a
# counterexample; whether every object must have a name
while read -r f pol named; do
	name=$(basename "$f" .pin)
	out="$dir/$name"
	"$pinmm" explore "$f" --policy "$pol" >"$out.explore" 2>&1
	sched=$(sed -n -E 's/^  schedule: (.*)$/\1/p' "$out.explore")
	if ! grep -q "^  schedule: " "$out.explore"; then
		bad "$f $pol: no counterexample to replay"
		cat "$out.explore"
		continue
	fi
	for run in 1 2 3; do
		pre=()
		[ $run = 3 ] && pre=("${norand[@]}")
		"${pre[@]}" "$pinmm" replay "$f" "$sched" --policy "$pol" --dot "$out.$run.dot" \
			>"$out.$run.txt" 2>/dev/null
		"${pre[@]}" "$pinmm" replay "$f" "$sched" --policy "$pol" --json >"$out.$run.json" \
			2>/dev/null
		if command -v python3 >/dev/null; then
			json_stable "$out.$run.json" >"$out.$run.sjson" || bad "$f $pol: --json does not parse"
		fi
	done
	for run in 2 3; do
		for ext in txt dot sjson; do
			[ -e "$out.1.$ext" ] || continue
			cmp -s "$out.1.$ext" "$out.$run.$ext" ||
				bad "$f $pol: replay $run's $ext differs from the first: $(diff "$out.1.$ext" "$out.$run.$ext" | head -n 5)"
		done
	done
	# the trace explore printed (its last part) is the one replay prints
	sed -n '/^  trace (/,$p' "$out.explore" >"$out.etrace"
	sed -n '/^  trace (/,$p' "$out.1.txt" >"$out.rtrace"
	[ -s "$out.etrace" ] && cmp -s "$out.etrace" "$out.rtrace" ||
		bad "$f $pol: explore's trace and replay's differ: $(diff "$out.etrace" "$out.rtrace" | head -n 5)"
	if grep -n -E '0x[0-9a-f]{6,}' "$out.explore" "$out.1.txt" "$out.1.dot" "$out.1.json"; then
		bad "$f $pol: an address in the output (above)"
	fi
	if [ "$named" = named ] && grep -n -E 'object #[0-9]' "$out.rtrace"; then
		bad "$f $pol: an object the scenario names is unnamed (above)"
	fi
	if grep -v '^  trace (' "$out.rtrace" | grep -v -E "$f:[0-9]+ " | grep .; then
		bad "$f $pol: a step without its scenario line (above)"
	fi
	echo "ok   $f $pol: schedule '$sched', $(grep -c . "$out.rtrace") trace lines, 3 replays identical"
done <<'EOF'
scenarios/g4-gup-fast-vs-fork.pin strict,-fork_gup_fast_seq named
scenarios/g4-gup-fast-vs-ksm.pin strict,-ksm_clear_then_check named
scenarios/g4-gup-fast-vs-khugepaged.pin strict,-gup_fast_pmd_recheck named
scenarios/g4-gup-fast-recheck.pin legacy named
EOF

echo "trace-determinism: $fail failures"
[ $fail -eq 0 ]
