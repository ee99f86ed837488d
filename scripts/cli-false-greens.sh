#!/usr/bin/env bash
# cli-false-greens.sh PINMM - outcomes that must never look like success:
# each case states the exit status it must have.
set -uo pipefail
pinmm=$1
cd "$(dirname "${BASH_SOURCE[0]}")/.."
empty=$(mktemp -d)
trap 'rmdir "$empty"' EXIT
fail=0 n=0
expect() {	# expect STATUS DESCRIPTION -- COMMAND...
	local want=$1 what=$2
	shift 3
	n=$((n + 1))
	"$@" >/dev/null 2>&1
	local rc=$?
	if [ "$rc" -ne "$want" ]; then
		echo "FAIL: $what: exit $rc, expected $want ($*)"
		fail=$((fail + 1))
	fi
}
expect 2 "check of a directory with no scenario" -- "$pinmm" check --no-host "$empty"
expect 2 "replay of a schedule that does not fit (thread 5 of 2)" -- \
	"$pinmm" replay scenarios/g4-gup-fast-recheck.pin '0:1,28:5'
expect 2 "replay of a decision past the end of the execution" -- \
	"$pinmm" replay scenarios/g4-gup-fast-recheck.pin '0:1,99999:0'
expect 3 "explore that runs out of budget before it is exhausted" -- \
	"$pinmm" explore scenarios/g4-gup-fast-vs-ksm.pin --bound none --budget 0.05
expect 2 "run of a directory" -- "$pinmm" run scenarios
expect 2 "--json and --tap together" -- "$pinmm" check --json --tap --no-host scenarios/e-munmap.pin
expect 2 "--json and --ktap together" -- "$pinmm" check --json --ktap --no-host scenarios/e-munmap.pin
expect 2 "--ktap and --tap together" -- "$pinmm" check --ktap --tap --no-host scenarios/e-munmap.pin
expect 2 "--ktap for run (a matrix format)" -- "$pinmm" run --ktap scenarios/e-munmap.pin
expect 0 "--junit FILE with a stdout format" -- \
	"$pinmm" check --tap --junit /dev/null --no-host scenarios/e-munmap.pin
expect 2 "--junit without its file" -- "$pinmm" check --no-host --junit
expect 0 "a replay that fits" -- "$pinmm" replay scenarios/g4-gup-fast-recheck.pin ''
expect 2 "--filter that matches no scenario" -- "$pinmm" check --no-host --filter 'no-such-*' scenarios
n=$((n + 1))
listed=$("$pinmm" check --list --filter 'g4-*' scenarios | wc -l)
want=$(ls scenarios/g4-*.pin | wc -l)
if [ "$listed" -ne "$want" ]; then
	echo "FAIL: --list --filter 'g4-*' listed $listed scenarios, expected $want"
	fail=$((fail + 1))
fi
# a mistyped option names the nearest one, and is a usage error
says() {	# says TEXT -- COMMAND...: exit 2, TEXT on stderr
	local want=$1 said rc
	shift 2
	n=$((n + 1))
	said=$("$@" 2>&1 >/dev/null)
	rc=$?
	if [ $rc -ne 2 ] || [[ $said != *"$want"* ]]; then
		echo "FAIL: $*: exit $rc, expected 2 and \"$want\", got: $said"
		fail=$((fail + 1))
	fi
}
says "did you mean '--json'?" -- "$pinmm" check --jsno scenarios/e-munmap.pin
says "did you mean '--ktap'?" -- "$pinmm" check --ktpa scenarios/e-munmap.pin
says "did you mean '--policy'?" -- "$pinmm" run --polcy strict scenarios/e-munmap.pin
says "did you mean '--bound'?" -- "$pinmm" explore --bund 1 scenarios/g4-gup-fast-recheck.pin
says "did you mean '--quick'?" -- "$pinmm" bench --quik
says "option '--jobs' needs a value" -- "$pinmm" check --no-host --jobs
says "option '--json' takes no value" -- "$pinmm" check --json=yes scenarios/e-munmap.pin
says "did you mean 'check'?" -- "$pinmm" chek
echo "cli-false-greens: $((n - fail))/$n as expected"
[ $fail -eq 0 ]
