#!/usr/bin/env bash
# Host backend tests (ctest label `host`, plain build only).
#   host-test.sh PINMM conformance   core scenarios pass on the running kernel
#   host-test.sh PINMM signal        SIGTERM mid-run restores KSM/THP sysfs
#   host-test.sh PINMM bench         `pinmm bench --quick`: every row measured
#                                    on both sides, KSM knobs restored, SVG
# Exit 4 (ctest SKIP_RETURN_CODE) when not root or io_uring is unavailable.
set -uo pipefail
pinmm=$1
what=$2
cd "$(dirname "${BASH_SOURCE[0]}")/.."

[ "$(id -u)" -eq 0 ] || { echo "SKIP: not root"; exit 4; }
[ "$(cat /proc/sys/kernel/io_uring_disabled 2>/dev/null || echo 0)" -eq 0 ] ||
	{ echo "SKIP: io_uring disabled"; exit 4; }

case $what in
conformance)
	# fork with a pinned buffer, DONTNEED then repin, mremap, KSM skip of
	# a pinned page, collapse refused
	files=(scenarios/g1-fork-rw-longterm.pin scenarios/g3-fork-early-copy.pin
	       tests/host/dontneed-repin.pin scenarios/e-dontneed.pin
	       scenarios/e-mremap-move.pin scenarios/e-mremap-dontunmap.pin
	       scenarios/g3-madvise-collapse-pinned.pin)
	if [ -w /sys/kernel/mm/ksm/run ]; then
		files+=(tests/host/ksm-skips-pinned.pin)
	else
		echo "note: KSM absent, its test is skipped"
	fi
	"$pinmm" host --timeout 20 "${files[@]}"
	rc=$?
	[ $rc -eq 0 ] || { echo "FAIL: pinmm host exited $rc"; exit 1; }
	echo "PASS: ${#files[@]} scenarios agree with the kernel"
	;;
signal)
	[ -w /sys/kernel/mm/ksm/run ] || { echo "SKIP: KSM absent"; exit 4; }
	knobs=(/sys/kernel/mm/ksm/run /sys/kernel/mm/ksm/pages_to_scan
	       /sys/kernel/mm/ksm/sleep_millisecs /sys/kernel/mm/ksm/smart_scan
	       /sys/kernel/mm/transparent_hugepage/enabled
	       /sys/kernel/mm/transparent_hugepage/khugepaged/scan_sleep_millisecs
	       /sys/kernel/mm/transparent_hugepage/khugepaged/alloc_sleep_millisecs)
	before=$(cat "${knobs[@]}" 2>/dev/null)
	tmp=$(mktemp -d)
	PINMM_HOST_TMPDIR=$tmp "$pinmm" host --timeout 50 tests/host/ksm-long.pin >/dev/null 2>&1 &
	pid=$!
	# wait until the run has changed the settings (ksmd at full speed)
	for _ in $(seq 200); do
		[ "$(cat /sys/kernel/mm/ksm/run)" = 1 ] && break
		sleep 0.05
	done
	[ "$(cat /sys/kernel/mm/ksm/run)" = 1 ] || { echo "FAIL: ksm never started"; kill "$pid"; exit 1; }
	kill -TERM "$pid"
	wait "$pid"
	rc=$?
	after=$(cat "${knobs[@]}" 2>/dev/null)
	left=$(ls -A "$tmp")
	rmdir "$tmp" 2>/dev/null
	[ $rc -eq 143 ] || { echo "FAIL: expected death by SIGTERM (143), got $rc"; exit 1; }
	[ "$before" = "$after" ] || { echo "FAIL: sysfs not restored"; diff <(echo "$before") <(echo "$after"); exit 1; }
	[ -z "$left" ] || { echo "FAIL: temp files left: $left"; exit 1; }
	sleep 0.2
	if pgrep -f "pinmm host --timeout 50 tests/host/ksm-long.pin" >/dev/null; then
		echo "FAIL: worker processes left"; exit 1
	fi
	echo "PASS: SIGTERM mid-run restored every setting and removed the temp files"
	;;
bench)
	# a smoke test: small sizes, so the goals say little (exit 0 or 1)
	knobs=(/sys/kernel/mm/ksm/run /sys/kernel/mm/ksm/pages_to_scan
	       /sys/kernel/mm/ksm/sleep_millisecs /sys/kernel/mm/ksm/smart_scan)
	before=$(cat "${knobs[@]}" 2>/dev/null)
	tmp=$(mktemp -d)
	plot=()
	command -v gnuplot >/dev/null && plot=(--plot "$tmp/bench.svg")
	"$pinmm" bench --quick --reps 3 --json "${plot[@]}" >"$tmp/out.json"
	rc=$?
	after=$(cat "${knobs[@]}" 2>/dev/null)
	out=$(cat "$tmp/out.json")
	svg=$(head -c 300 "$tmp/bench.svg" 2>/dev/null)
	rm -rf "$tmp"
	[ "$before" = "$after" ] || { echo "FAIL: KSM sysfs not restored"; exit 1; }
	[ $rc -eq 4 ] && { echo "SKIP: host side skipped"; echo "$out" | grep host_skipped; exit 4; }
	[ $rc -le 1 ] || { echo "FAIL: pinmm bench exited $rc"; exit 1; }
	for row in pin-4 pin-64 pin-1024 fault-write fork fork-pinned fork-ratio ksm-merge; do
		grep -Eq "\"name\": ?\"$row\"" <<<"$out" || { echo "FAIL: no row $row"; exit 1; }
	done
	# a host figure may be missing only for KSM, and only when KSM is absent
	bad=$(awk -v ksm="$([ -w /sys/kernel/mm/ksm/run ] && echo 1 || echo 0)" '
		/"name":/ { name = $0; sub(/.*"name": ?"/, "", name); sub(/".*/, "", name) }
		/"host_skipped":/ && (name != "ksm-merge" || ksm == 1) { print name ": " $0 }' <<<"$out")
	[ -z "$bad" ] || { echo "FAIL: host side skipped:"; echo "$bad"; exit 1; }
	[ ${#plot[@]} -eq 0 ] || grep -q '<svg' <<<"$svg" || { echo "FAIL: no SVG"; exit 1; }
	echo "PASS: pinmm bench --quick measured both sides (exit $rc) and restored KSM"
	;;
*)
	echo "usage: host-test.sh PINMM conformance|signal|bench" >&2
	exit 2
	;;
esac
