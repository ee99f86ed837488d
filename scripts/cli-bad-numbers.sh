#!/usr/bin/env bash
# cli-bad-numbers.sh PINMM - every numeric option of the pinmm program
# refuses a value that is not a number in its range: exit status 2 and a
# message on stderr naming the option and the value, before anything runs.
# (No case reaches a run: the file arguments do not exist, or a stray
# argument follows, so an option taken as valid fails some other way.)
set -uo pipefail
pinmm=$1
fail=0
n=0
# want VERB OPTION VALUE [ARGS...]: `pinmm VERB OPTION VALUE ARGS...`
want() {
	local verb=$1 opt=$2 val=$3
	shift 3
	n=$((n + 1))
	out=$("$pinmm" "$verb" "$opt" "$val" "$@" 2>&1 >/dev/null)
	rc=$?
	if [ $rc -ne 2 ]; then
		echo "FAIL pinmm $verb $opt '$val': exit status $rc, expected 2"
		fail=$((fail + 1))
	elif [[ $out != *"$opt"*"'$val'"* ]]; then
		echo "FAIL pinmm $verb $opt '$val': message lacks $opt and '$val': '$out'"
		fail=$((fail + 1))
	fi
}
nofile=/nonexistent/none.pin
for v in 2abc 4294967297 18446744073709551617 0 -1 17 '' ' 2' +2 0x 1.5; do
	want check -j "$v" "$nofile"
done
for v in abc 0 -1 86401 99999999999999999999 10s; do
	want host --timeout "$v" "$nofile"
done
for v in 0 1x 100 -5 ''; do
	want bench --reps "$v" stray
done
for v in 17 abc -1 0x; do
	want explore --bound "$v" "$nofile"
done
for v in 0 17 2x; do
	want explore --depth "$v" "$nofile"
done
for v in -1 1x 18446744073709551616; do
	want explore --seed "$v" "$nofile"
	want explore --max-executions "$v" "$nofile"
done
for v in abc 0 -1 inf nan 1e999 2s; do
	want explore --budget "$v" "$nofile"
done
echo "cli-bad-numbers: $((n - fail))/$n bad values refused"
[ $fail -eq 0 ]
