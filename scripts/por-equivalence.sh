#!/usr/bin/env bash
# por-equivalence.sh PINMM POLICY_H FILE... - the explorer's partial-order
# reduction (`--strategy dfs`) against plain DFS (`--strategy dfs-plain`) on
# each scenario with threads, at its own bound (2 for one proved without a
# bound, whose unbounded reduction is checked against it too), under strict, legacy and
# strict with each switch of POLICY_H (include/pinmm/policy.h) off: both
# searches must exhaust, agree on whether a counterexample exists, find
# the same set of failure messages (--keep-going: every distinct one), and
# the reduced search must reach every end state the plain one reaches
# (--outcomes: fingerprints of the engine's state after the threads; the
# reduction may reach more, since under a bound it also runs some
# schedules with more preemptions).
# Registered by ctest as por_equivalence_<name>.
set -uo pipefail
pinmm=$1
policy_h=$2
shift 2
fail=0
checks=0

bad() {
	echo "FAIL $*"
	fail=$((fail + 1))
}

# "PINMM_SW_FORK_COPY_PINNED," -> fork_copy_pinned
switches=$(sed -n -E 's/^\s*PINMM_SW_([A-Z0-9_]+),.*/\1/p' "$policy_h" | tr 'A-Z' 'a-z')
[ -n "$switches" ] || { echo "FAIL no switches in $policy_h"; exit 1; }

# found, exhausted, executions and the sorted failure messages of a --json
summary() {
	python3 -c '
import json, sys
r = json.load(sys.stdin)
print("found", r["found"])
print("exhausted", r["exhausted"])
for m in sorted({c["message"] for c in r.get("counterexamples", [])}):
	print("failure", m)
for o in r.get("outcomes", []):
	print("outcome", o)
print("executions", r["executions"])'
}

for f in "$@"; do
	# a scenario proved without a bound is compared at bound 2 (plain DFS
	# without a bound ends only on the smallest programs), and the
	# unbounded reduction must reach every end state plain DFS reaches there
	unbounded=
	grep -q '^explore bound=none' "$f" && unbounded=1
	bound=()
	[ -n "$unbounded" ] && bound=(--bound 2)
	for pol in strict legacy $(for s in $switches; do echo "strict,-$s"; done); do
		checks=$((checks + 1))
		plain=$("$pinmm" explore "$f" --policy "$pol" --strategy dfs-plain "${bound[@]}" \
			--keep-going --outcomes --json 2>/dev/null | summary)
		por=$("$pinmm" explore "$f" --policy "$pol" --strategy dfs "${bound[@]}" --keep-going \
			--outcomes --json 2>/dev/null | summary)
		if [ -n "$unbounded" ] && missed=$(comm -23 <(grep ^outcome <<<"$plain") \
			<("$pinmm" explore "$f" --policy "$pol" --strategy dfs --keep-going --outcomes \
				--json 2>/dev/null | summary | grep ^outcome)) && [ -n "$missed" ]; then
			bad "$f $pol: the unbounded reduction misses $(wc -l <<<"$missed") end state(s)" \
				"plain DFS reaches at bound 2"
			continue
		fi
		if ! grep -q "^exhausted True" <<<"$plain" || ! grep -q "^exhausted True" <<<"$por"; then
			bad "$f $pol: a search did not exhaust: plain '$(head -n 2 <<<"$plain" | tr '\n' ' ')'," \
				"reduced '$(head -n 2 <<<"$por" | tr '\n' ' ')'"
		elif [ "$(grep -v '^executions\|^outcome' <<<"$plain")" != \
		       "$(grep -v '^executions\|^outcome' <<<"$por")" ]; then
			bad "$f $pol: the reduction disagrees with plain DFS:"
			diff <(echo "$plain") <(echo "$por") | head -n 10
		elif missed=$(comm -23 <(grep ^outcome <<<"$plain") <(grep ^outcome <<<"$por")) &&
		     [ -n "$missed" ]; then
			bad "$f $pol: the reduction misses $(wc -l <<<"$missed") end state(s) plain DFS" \
				"reaches (of $(grep -c ^outcome <<<"$plain"))"
		else
			echo "ok   $f $pol: $(head -n 1 <<<"$plain"), $(grep -c ^failure <<<"$plain") failures;" \
				"$(grep -c ^outcome <<<"$plain") end states;" \
				"executions plain $(sed -n 's/^executions //p' <<<"$plain")," \
				"reduced $(sed -n 's/^executions //p' <<<"$por")"
		fi
	done
done
echo "por-equivalence: $checks checks, $fail failures"
[ "$fail" -eq 0 ]
