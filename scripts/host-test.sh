#!/usr/bin/env bash
# Host backend tests (ctest label `host`, plain build only).
#   host-test.sh PINMM conformance   core scenarios pass on the running kernel,
#                                    and its answer to a uprobe over a pin
#   host-test.sh PINMM signal        SIGTERM mid-run restores KSM/THP sysfs
#   host-test.sh PINMM kill          SIGKILL (at several moments), SIGINT,
#                                    SIGTERM, SIGPIPE, a dead worker, a stopped
#                                    run, a run holding a swap device and a
#                                    uprobe: the journal lets the next run or
#                                    --restore put every setting back
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

# the settings a host run changes (host_sys.c)
knobs=(/sys/kernel/mm/ksm/run /sys/kernel/mm/ksm/pages_to_scan
       /sys/kernel/mm/ksm/sleep_millisecs /sys/kernel/mm/ksm/smart_scan
       /sys/kernel/mm/transparent_hugepage/enabled
       /sys/kernel/mm/transparent_hugepage/khugepaged/scan_sleep_millisecs
       /sys/kernel/mm/transparent_hugepage/khugepaged/alloc_sleep_millisecs
       /sys/kernel/mm/transparent_hugepage/hugepages-*kB/enabled
       /proc/sys/vm/nr_hugepages)
# the uprobes defined, through tracefs mounted in a mount namespace of
# its own (nothing global is mounted)
uprobes() {
	unshare -m --propagation private sh -c \
		'mount -t tracefs none /sys/kernel/tracing && cat /sys/kernel/tracing/uprobe_events' 2>/dev/null
}
# the settings, the swap devices, the zram devices and the uprobes
state() {
	cat "${knobs[@]}" 2>/dev/null
	tail -n +2 /proc/swaps
	for d in /sys/block/zram*; do
		[ -e "$d" ] && echo "$d $(cat "$d/initstate") $(cat "$d/disksize")"
	done
	uprobes
}
# read while no run is under way: not between a run's change and its restore
read_knobs() {
	if [ -d /run/pinmm ]; then
		flock -w 30 /run/pinmm/host.lock bash -c "$(declare -p knobs); $(declare -f uprobes state); state"
	else
		state
	fi
}
# Runs of an older pinmm (another checkout's tests) lock /tmp/pinmm-host.lock
# exclusively and know no journal: hold it shared for the test (this pinmm
# takes it shared too) so that none changes the settings meanwhile.
if [ -f /tmp/pinmm-host.lock ] && [ ! -L /tmp/pinmm-host.lock ] &&
   [ "$(stat -c %u /tmp/pinmm-host.lock)" = 0 ]; then
	exec 9</tmp/pinmm-host.lock
	flock -s -w 50 9 || { echo "FAIL: an older pinmm holds /tmp/pinmm-host.lock"; exit 1; }
fi

# schema_ok STATUS: scripts/validate-json.py's status is a pass: valid, or no
# validator (exit 4) outside CI only (in CI scripts/test-deps.sh installs it)
schema_ok() {
	[ "$1" -eq 0 ] || { [ "$1" -eq 4 ] && [ -z "${CI:-}" ]; }
}

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
	# the kernel's answer to a uprobe over a pinned page (the engine's
	# differs: docs/host-conformance.md)
	if unshare -m --propagation private mount -t tracefs none /sys/kernel/tracing 2>/dev/null; then
		files+=(tests/host/uprobe-pinned-rw.pin scenarios/e-uprobe.pin)
	else
		echo "note: no tracefs, the uprobe tests are skipped"
	fi
	out=$(mktemp)
	"$pinmm" host --json --timeout 20 "${files[@]}" >"$out"
	rc=$?
	cat "$out"
	# a JSON line per scenario, each as docs/schema/pinmm-host.schema.json says
	lines=$(grep -c . "$out")
	python3 scripts/validate-json.py --lines docs/schema/pinmm-host.schema.json "$out"
	valid=$?
	rm -f "$out"
	[ $rc -eq 0 ] || { echo "FAIL: pinmm host exited $rc"; exit 1; }
	[ "$lines" -eq ${#files[@]} ] || { echo "FAIL: $lines JSON lines for ${#files[@]} scenarios"; exit 1; }
	schema_ok $valid || { echo "FAIL: the JSON does not follow its schema"; exit 1; }
	# shared hugetlb memory and a hugetlb file: a pass, or a skip (exit 4)
	# when the kernel cannot fill the scenario's pool
	"$pinmm" host --timeout 20 scenarios/g1-hugetlb-shared-fork.pin \
		scenarios/e-hugetlb-file-private-cow.pin
	rc=$?
	[ $rc -eq 0 ] || [ $rc -eq 4 ] || { echo "FAIL: pinmm host exited $rc (hugetlb)"; exit 1; }
	# reclaim where MADV_PAGEOUT would take other pages than the engine's
	# (one shared after fork): skipped with that reason, never answered
	if [ -w /sys/class/zram-control/hot_add ]; then
		out=$("$pinmm" host --timeout 20 tests/host/reclaim-shared.pin 2>&1)
		rc=$?
		[ $rc -eq 4 ] && grep -q 'skipped: reclaim .*mapped by more than one process' <<<"$out" ||
			{ echo "FAIL: reclaim over a shared page (exit $rc): $out"; exit 1; }
	fi
	echo "PASS: ${#files[@]} scenarios agree with the kernel"
	;;
signal)
	[ -w /sys/kernel/mm/ksm/run ] || { echo "SKIP: KSM absent"; exit 4; }
	before=$(read_knobs)
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
	after=$(read_knobs)
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
kill)
	[ -w /sys/kernel/mm/ksm/run ] || { echo "SKIP: KSM absent"; exit 4; }
	before=$(read_knobs)
	orig=()
	for k in "${knobs[@]}"; do orig+=("$(cat "$k" 2>/dev/null)"); done
	scn=tests/host/ksm-long.pin
	pids=()
	# what a run may leave: its temp dir (12 hex digits: not an older
	# pinmm's), anything in /dev/shm, the journal
	leftovers() {
		ls -d /tmp/pinmm-host.????????????  /var/tmp/pinmm-host.???????????? \
		      /dev/shm/*pinmm* /run/pinmm/journal* 2>/dev/null
	}
	# whatever happens below, the machine gets its settings back
	put_back() {
		for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; kill -CONT "$p" 2>/dev/null; done
		wait 2>/dev/null
		[ "$(read_knobs)" = "$before" ] && return
		echo "test: putting the settings back itself"
		"$pinmm" host --restore --timeout 10
		for i in "${!knobs[@]}"; do
			v=${orig[$i]}
			[[ $v == *\[* ]] && { v=${v#*[}; v=${v%%]*}; }
			[ -n "$v" ] && echo "$v" >"${knobs[$i]}" 2>/dev/null
		done
	}
	trap put_back EXIT
	fail() { echo "FAIL: $*"; exit 1; }
	check_back() {	# $1: the case
		local after left
		after=$(read_knobs)
		[ "$after" = "$before" ] || { diff <(echo "$before") <(echo "$after"); fail "$1: settings not restored"; }
		left=$(leftovers)
		[ -z "$left" ] || fail "$1: left behind: $left"
	}
	start() {
		"$pinmm" host --timeout 50 "$@" >/dev/null 2>&1 &
		pid=$!
		pids+=("$pid")
	}
	# settings changed by this run, not yet put back
	changed() { [ "$(read_knobs)" != "$before" ]; }
	[ -z "$(leftovers)" ] || fail "left by an earlier run before the test: $(leftovers)"

	SECONDS=0
	# SIGKILL: nothing runs in the process; --restore (or the next run)
	# puts back what the journal lists, one line per setting
	recovered=0
	for t in 0.2 0.5 1 2; do
		start "$scn"
		sleep "$t"
		kill -KILL "$pid"
		wait "$pid" 2>/dev/null
		was_changed=false
		changed && was_changed=true
		out=$("$pinmm" host --restore --timeout 20 2>&1) || fail "SIGKILL at ${t}s: --restore: $out"
		echo "[${SECONDS}s] SIGKILL at ${t}s: $(grep -c '^pinmm host: restored /sys' <<<"$out") settings restored"
		if $was_changed; then
			grep -q '^pinmm host: restored /sys' <<<"$out" || fail "SIGKILL at ${t}s: --restore said: $out"
			recovered=$((recovered + 1))
		fi
		check_back "SIGKILL at ${t}s"
	done
	[ $recovered -gt 0 ] || fail "no SIGKILL came after the run had changed a setting"

	# SIGKILL, then another run repairs before it starts
	start "$scn"
	sleep 1
	kill -KILL "$pid"
	wait "$pid" 2>/dev/null
	changed || fail "SIGKILL at 1s: nothing changed yet"
	out=$("$pinmm" host --timeout 20 tests/host/dontneed-repin.pin 2>&1) ||
		fail "the run after a SIGKILL: $out"
	grep -q '^pinmm host: restored /sys' <<<"$out" || fail "the run after a SIGKILL said: $out"
	check_back "SIGKILL, then a run"
	echo "[${SECONDS}s] SIGKILL, then a run: it restored first"

	# catchable signals: put back by the run itself, which dies of them
	for sig in INT TERM QUIT HUP USR1; do
		start "$scn"
		sleep 1
		kill -"$sig" "$pid"
		wait "$pid" 2>/dev/null
		rc=$?
		[ $rc -eq $((128 + $(kill -l "$sig"))) ] || fail "SIG$sig: exit $rc"
		check_back "SIG$sig"
		out=$("$pinmm" host --restore --timeout 20 2>&1)
		[ "$out" = "pinmm host: nothing to restore" ] || fail "SIG$sig: journal left: $out"
	done
	echo "[${SECONDS}s] SIGINT, SIGTERM, SIGQUIT, SIGHUP, SIGUSR1: restored by the run"

	# SIGPIPE: --trace into a pipe whose reader is gone
	"$pinmm" host --trace --timeout 50 "$scn" 2>&1 >/dev/null | head -c 1 >/dev/null
	rc=${PIPESTATUS[0]}
	[ $rc -eq 141 ] || fail "SIGPIPE: exit $rc"
	check_back "SIGPIPE"
	echo "[${SECONDS}s] SIGPIPE (--trace | head): restored by the run"

	# a worker dies: the run fails, and restores
	start "$scn"
	sleep 1
	kill -KILL $(pgrep -P "$pid") 2>/dev/null
	wait "$pid"
	rc=$?
	[ $rc -eq 1 ] || fail "dead worker: exit $rc"
	check_back "dead worker"
	echo "[${SECONDS}s] a worker killed: the run failed and restored"

	# a stopped run holds the lock: the next says so and times out
	start "$scn"
	sleep 0.5
	kill -STOP "$pid"
	out=$("$pinmm" host --timeout 2 tests/host/dontneed-repin.pin 2>&1)
	rc=$?
	grep -q "waiting for another run (pid $pid)" <<<"$out" || fail "stopped run: the waiter said: $out"
	[ $rc -eq 1 ] || fail "stopped run: the waiter exited $rc: $out"
	kill -KILL "$pid"
	kill -CONT "$pid"
	wait "$pid" 2>/dev/null
	"$pinmm" host --restore --timeout 20 >/dev/null 2>&1
	check_back "stopped run"
	echo "[${SECONDS}s] a stopped run: the next one said it waits for pid $pid and timed out"

	# a run with a zram swap device and a uprobe of its own: killed while
	# they are set up, the journal has them swapped off, reset, removed
	long=tests/host/swap-uprobe-long.pin
	if [ ! -w /sys/class/zram-control/hot_add ] ||
	   ! unshare -m --propagation private mount -t tracefs none /sys/kernel/tracing 2>/dev/null ||
	   ! command -v mkswap >/dev/null; then
		echo "note: no zram-control, tracefs or mkswap: the swap and uprobe cases are left out"
		echo "PASS: every setting and file put back after SIGKILL, signals, a dead worker (${SECONDS}s)"
		exit 0
	fi
	# until the run has a swap device (swap) or its uprobe too (probe)
	wait_for() {
		for _ in $(seq 400); do
			if grep -q '^/dev/zram' /proc/swaps; then
				[ "$1" = swap ] && return 0
				uprobes | grep -q '^p:pinmm/' && return 0
			fi
			sleep 0.025
		done
		fail "the run never set up its $1"
	}
	for what in swap probe; do
		start "$long"
		wait_for "$what"
		kill -KILL "$pid"
		wait "$pid" 2>/dev/null
		out=$("$pinmm" host --restore --timeout 20 2>&1) || fail "SIGKILL with $what: --restore: $out"
		grep -q '^pinmm host: removed swap device /dev/zram' <<<"$out" &&
		grep -q '^pinmm host: removed zram device ' <<<"$out" ||
			fail "SIGKILL with $what: --restore said: $out"
		[ "$what" = swap ] || grep -q '^pinmm host: removed uprobe pinmm/p' <<<"$out" ||
			fail "SIGKILL with a probe: --restore said: $out"
		check_back "SIGKILL with $what set up"
	done
	echo "[${SECONDS}s] SIGKILL with a swap device, then with a uprobe: --restore removed them"
	# early: while the device is made (hot_add, mkswap, swapon)
	for t in 0.02 0.05 0.1; do
		start "$long"
		sleep "$t"
		kill -KILL "$pid"
		wait "$pid" 2>/dev/null
		"$pinmm" host --restore --timeout 20 >/dev/null 2>&1 || fail "SIGKILL at ${t}s: --restore failed"
		check_back "SIGKILL at ${t}s of the swap run"
	done
	echo "[${SECONDS}s] SIGKILL at 0.02, 0.05, 0.1 s of the swap run: put back"
	start "$long"
	wait_for probe
	kill -KILL "$pid"
	wait "$pid" 2>/dev/null
	out=$("$pinmm" host --timeout 20 tests/host/dontneed-repin.pin 2>&1) || fail "the run after: $out"
	grep -q '^pinmm host: removed uprobe pinmm/p' <<<"$out" || fail "the run after a SIGKILL said: $out"
	check_back "SIGKILL with a probe, then a run"
	echo "[${SECONDS}s] SIGKILL with a swap device and a uprobe, then a run: it removed them first"
	for sig in INT TERM; do
		start "$long"
		wait_for probe
		kill -"$sig" "$pid"
		wait "$pid" 2>/dev/null
		rc=$?
		[ $rc -eq $((128 + $(kill -l "$sig"))) ] || fail "SIG$sig with a probe: exit $rc"
		check_back "SIG$sig with a probe"
		out=$("$pinmm" host --restore --timeout 20 2>&1)
		[ "$out" = "pinmm host: nothing to restore" ] || fail "SIG$sig with a probe: journal left: $out"
	done
	echo "[${SECONDS}s] SIGINT, SIGTERM with a swap device and a uprobe: removed by the run"
	# a journal line this pinmm never writes is not acted on
	flock -w 30 /run/pinmm/host.lock sh -c 'printf "pinmm-host-journal 1\npid 1\nswap /etc/hostname\nzram 0 all\nuprobe other/p1\n" >/run/pinmm/journal.undo && chmod 600 /run/pinmm/journal.undo'
	out=$("$pinmm" host --restore --timeout 20 2>&1)
	[ "$(grep -c '^pinmm host: ignored the journal' <<<"$out")" -eq 3 ] ||
		fail "foreign journal lines: --restore said: $out"
	check_back "foreign journal lines"
	echo "[${SECONDS}s] journal lines naming another device or probe: ignored, the journal removed"
	echo "PASS: every setting and file put back after SIGKILL, signals, a dead worker (${SECONDS}s)"
	;;
bench)
	# a smoke test: small sizes, so the goals say little (exit 0 or 1)
	before=$(read_knobs)
	tmp=$(mktemp -d)
	plot=()
	command -v gnuplot >/dev/null && plot=(--plot "$tmp/bench.svg")
	"$pinmm" bench --quick --reps 3 --json "${plot[@]}" >"$tmp/out.json"
	rc=$?
	after=$(read_knobs)
	out=$(cat "$tmp/out.json")
	python3 scripts/validate-json.py docs/schema/pinmm-bench.schema.json "$tmp/out.json"
	valid=$?
	svg=$(head -c 300 "$tmp/bench.svg" 2>/dev/null)
	rm -rf "$tmp"
	[ "$before" = "$after" ] || { echo "FAIL: KSM sysfs not restored"; exit 1; }
	[ $rc -eq 4 ] && { echo "SKIP: host side skipped"; echo "$out" | grep host_skipped; exit 4; }
	[ $rc -le 1 ] || { echo "FAIL: pinmm bench exited $rc"; exit 1; }
	schema_ok $valid || { echo "FAIL: the JSON does not follow its schema"; exit 1; }
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
	echo "usage: host-test.sh PINMM conformance|signal|kill|bench" >&2
	exit 2
	;;
esac
