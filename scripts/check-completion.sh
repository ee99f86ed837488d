#!/usr/bin/env bash
# check-completion.sh PINMM - the bash completion (tools/pinmm.bash-completion)
# sourced as bash-completion would: it registers itself for pinmm, and
# completing words as bash would (COMP_WORDS, COMP_CWORD) offers verbs,
# options, policies and switches, scenario names and .pin files.
set -uo pipefail
pinmm=$1
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# the completion runs `pinmm` as typed: this build's
PATH=$(cd "$(dirname "$pinmm")" && pwd):$PATH
# shellcheck source=../tools/pinmm.bash-completion
source tools/pinmm.bash-completion
fail=0 n=0

n=$((n + 1))
[ "$(complete -p pinmm 2>&1)" = "complete -F _pinmm pinmm" ] ||
	{ echo "FAIL: complete -p pinmm: $(complete -p pinmm 2>&1)"; fail=$((fail + 1)); }

# offers WANT -- WORD...: completing the last WORD offers exactly WANT
offers() {
	local want=$1
	shift 2
	n=$((n + 1))
	COMP_WORDS=("$@")
	COMP_CWORD=$(($# - 1))
	COMPREPLY=()
	_pinmm
	if [ "${COMPREPLY[*]}" != "$want" ]; then
		echo "FAIL: [$*]: offered '${COMPREPLY[*]}', expected '$want'"
		fail=$((fail + 1))
	fi
}
offers "check" -- pinmm ch
offers "explore" -- pinmm exp
offers "--json" -- pinmm check --js
offers "--ktap" -- pinmm check --kt
offers "--junit" -- pinmm check --ju
offers "--html" -- pinmm check --ht
offers "" -- pinmm check --html scenarios/e-munm
offers "--policy" -- pinmm run --pol
offers "strict" -- pinmm run --policy st
offers "strict,-anon_exclusive" -- pinmm run --policy strict,-anon_ex
offers "legacy,+pin_accounting,-gup_fast_recheck" -- pinmm explore --policy legacy,+pin_accounting,-gup_fast_rech
offers "dfs dfs-plain pct" -- pinmm explore --strategy ''
offers "none" -- pinmm explore --bound n
offers "g5-pin-accounting" -- pinmm check --filter g5-pin-acc
offers "scenarios/e-munmap.pin" -- pinmm run scenarios/e-munm
offers "scenarios" -- pinmm check scenari
offers "" -- pinmm check -j ''

echo "check-completion: $((n - fail))/$n as expected"
[ $fail -eq 0 ]
