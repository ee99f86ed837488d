#!/usr/bin/env bash
# explore-progress.sh PINMM - what `pinmm explore` shows while it runs.
#   - on a terminal (script(1) provides one): a live line on stderr,
#     carriage-return updated, with executions, rate, bound, the estimated
#     fraction done and the elapsed time, cleared at the end; stdout has
#     none of it;
#   - not on a terminal, without --progress: nothing on stderr.
# Registered by ctest as explore_progress (label unit). Exit 77 (skipped)
# without script(1).
# shellcheck source=scripts/test-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/test-lib.sh"
pinmm=$1
f=scenarios/g4-gup-fast-vs-fork.pin

command -v script >/dev/null || { echo "explore-progress: no script(1)"; exit 77; }

# a search longer than the first report (0.25 s), cut by its budget
# (what reaches the terminal is stderr: stdout goes to a file)
script -qec "'$pinmm' explore $f --strategy dfs-plain --bound 3 --budget 2 >'$dir/out'" /dev/null \
	>"$dir/tty-err" 2>&1
err=$(cat "$dir/tty-err")
line=$(tr '\r' '\n' <"$dir/tty-err" | grep -a executions | tail -n 1)
grep -q $'\r\033\\[K' <<<"$err" || bad "no carriage-return line on the terminal: $(od -c <"$dir/tty-err" | head -n 3)"
grep -q -E '^.\[K[0-9]+ executions, [0-9]+/s, bound [0-3] of 3(, ~[0-9]+% done)?, [0-9.]+ s$' <<<"$line" ||
	bad "the live line lacks executions, rate, bound, elapsed: '$line'"
grep -a -q -E 'bound 3 of 3, ~[0-9]+% done' "$dir/tty-err" || bad "no fraction done in the last bound"
[ "$(tail -c 4 "$dir/tty-err" | od -An -c | tr -d ' ')" = '\r033[K' ] || bad "the line is not cleared at the end"
grep -q executions "$dir/out" && ! grep -q $'\r' "$dir/out" || bad "stdout is not the plain report"

"$pinmm" explore $f --bound 1 >/dev/null 2>"$dir/plain-err"
[ -s "$dir/plain-err" ] && bad "stderr not a terminal, no --progress: $(head -c 200 "$dir/plain-err")"

echo "explore-progress: $fail failures (last live line: '${line#?[K}')"
[ $fail -eq 0 ]
