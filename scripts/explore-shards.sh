#!/usr/bin/env bash
# explore-shards.sh PINMM - a campaign in shards equals one search.
# For a race scenario under strict (DFS exhausts it) and with its switch
# off (--keep-going: the whole search, every distinct failure; DFS, and
# PCT's 1000 executions), the 3
# shards of `pinmm explore --shard K/3 --json`, run by GNU parallel, merged
# by `pinmm explore --merge`, give the unsharded run's executions,
# exhausted flag and failures (each message with the same first schedule).
# Also: bad --shard values and files of different campaigns are refused
# (exit 2). Exit 77 (ctest: skipped) without GNU parallel, except when
# PINMM_REQUIRE_PARALLEL is set (scripts/test.sh installs it and sets it).
# Registered by ctest as explore_shards (label unit: the TSan stage runs
# the explorer through explore_race_*; this one adds no thread of its own).
# shellcheck source=scripts/test-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/test-lib.sh"
pinmm=$1

if ! parallel --version 2>/dev/null | grep -q "GNU parallel"; then
	echo "explore-shards: GNU parallel is not installed (Debian: apt-get install parallel)"
	[ -n "${PINMM_REQUIRE_PARALLEL:-}" ] && exit 1
	exit 77
fi

# the fields a merge and one search must agree on
summary() {
	python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
print("executions", r["executions"])
print("exhausted", r["exhausted"])
print("failing_executions", r["failing_executions"])
for c in sorted(r["counterexamples"], key=lambda c: c["message"]):
	print("failure", c["message"], "| schedule", c["schedule"])' "$1"
}

# FILE POLICY OPTIONS (a sharded dfs is the plain search: compare with that)
while read -r f pol opts; do
	name=$(basename "$f" .pin)-${pol//,/}-${opts//[ -]/}
	# shellcheck disable=SC2086
	"$pinmm" explore "$f" --policy "$pol" $opts --json >"$dir/$name.all.json" 2>/dev/null
	# exit 1 (a counterexample) is an answer too: parallel counts it as failed
	parallel --will-cite -j 3 "'$pinmm' explore '$f' --policy '$pol' $opts --shard {}/3 --json \
		>'$dir/$name.{}.json' 2>/dev/null; [ \$? -le 1 ]" ::: 1 2 3 ||
		bad "$f $pol: a shard failed to run"
	"$pinmm" explore --merge --json "$dir/$name".[123].json >"$dir/$name.merged.json"
	rc=$?
	summary "$dir/$name.all.json" >"$dir/$name.all" || bad "$f $pol: unsharded --json"
	summary "$dir/$name.merged.json" >"$dir/$name.merged" || bad "$f $pol: merged --json"
	if ! cmp -s "$dir/$name.all" "$dir/$name.merged"; then
		bad "$f $pol $opts: the merge differs from one search:"
		diff "$dir/$name.all" "$dir/$name.merged" | head -n 10
	else
		per=$(for k in 1 2 3; do python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["executions"], end=" ")' "$dir/$name.$k.json"; done)
		echo "ok   $f $pol $opts: merge = one search: $(head -n 2 "$dir/$name.all" | tr '\n' ' ')(shards: $per) exit $rc"
	fi
done <<'LIST'
scenarios/g4-gup-fast-vs-fork.pin strict --strategy dfs-plain --bound 2
scenarios/g4-gup-fast-vs-fork.pin strict,-fork_gup_fast_seq --keep-going --strategy dfs-plain --bound 2
scenarios/g4-gup-fast-vs-ksm.pin legacy --keep-going --strategy dfs-plain --bound 2
scenarios/g4-gup-fast-vs-fork.pin strict,-fork_gup_fast_seq --keep-going --strategy pct
LIST

# refused: exit 2 with a message
f=scenarios/g4-gup-fast-vs-fork.pin
for s in 0/2 3/2 x/y 1/0 2 /3 1/ -1/2 1/2x; do
	out=$("$pinmm" explore "$f" --shard "$s" 2>&1)
	rc=$?
	[ $rc -eq 2 ] && grep -q -- "--shard" <<<"$out" || bad "--shard $s: exit $rc, '$out'"
done
"$pinmm" explore "$f" --policy legacy --bound 2 --shard 1/2 --json >"$dir/other.json" 2>/dev/null
"$pinmm" explore "$f" --policy strict --bound 2 --shard 2/2 --json >"$dir/strict2.json" 2>/dev/null
"$pinmm" explore "$f" --policy strict --bound 1 --shard 1/2 --json >"$dir/bound1.json" 2>/dev/null
for pair in "other strict2" "bound1 strict2" "strict2 strict2"; do
	# shellcheck disable=SC2086 # two file names
	set -- $pair
	out=$("$pinmm" explore --merge "$dir/$1.json" "$dir/$2.json" 2>&1)
	rc=$?
	[ $rc -eq 2 ] && [ -n "$out" ] || bad "--merge $pair: exit $rc (expected 2): $out"
done
echo '{' >"$dir/broken.json"
"$pinmm" explore --merge "$dir/broken.json" >/dev/null 2>&1
[ $? -eq 2 ] || bad "--merge of a broken file: not exit 2"

echo "explore-shards: $fail failures"
[ $fail -eq 0 ]
