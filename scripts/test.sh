#!/usr/bin/env bash
# Every test: builds pinmm three ways and runs ctest in each, stopping at the
# first failure.
#   build       plain RelWithDebInfo            all tests (host ones: root, io_uring)
#   build-asan  AddressSanitizer + UBSan        all tests but the host ones
#   build-tsan  ThreadSanitizer                 tests labelled concurrency|race
#   build-fuzz  clang libFuzzer, ASan+UBSan     30 s of scripts/fuzz.sh
# Works on a fresh Debian 12 as root: deps.sh installs what the build needs,
# test-deps.sh what only the tests need (clang, the formats' validators).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/deps.sh
bash scripts/test-deps.sh
# GNU parallel's campaign test (explore_shards) must run here, not skip
export PINMM_REQUIRE_PARALLEL=1

passed=0
failed=0
stage=

summary() {
	local rc=$?
	if [ $rc -eq 0 ]; then
		echo "test.sh: every stage passed (build, build-asan, build-tsan, fuzz)"
	else
		echo "test.sh: FAILED at ${stage:-setup}" >&2
		[ $failed -gt 0 ] || failed=1
	fi
	echo "summary: $passed passed, $failed failed"
	exit $rc
}
trap summary EXIT

# configure DIR [cmake args...]; then build it
build() {
	local dir=$1
	shift
	stage="$dir (configure)"
	cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@"
	stage="$dir (build)"
	cmake --build "$dir" -j2
}

# run_ctest DIR [wrapper...] -- [ctest args...]; adds its counts to the totals
run_ctest() {
	local dir=$1 log rc line total fail
	shift
	local wrapper=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		wrapper+=("$1")
		shift
	done
	[ $# -gt 0 ] && shift
	stage="$dir (ctest)"
	log=$(mktemp)
	set +e
	"${wrapper[@]}" ctest --test-dir "$dir" --output-on-failure -j2 "$@" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	set -e
	# "100% tests passed, 0 tests failed out of 18"
	line=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n 1 || true)
	rm -f "$log"
	if [ -n "$line" ]; then
		total=$(sed -E 's/.* out of ([0-9]+).*/\1/' <<<"$line")
		fail=$(sed -E 's/.*passed, ([0-9]+) tests? failed.*/\1/' <<<"$line")
		passed=$((passed + total - fail))
		failed=$((failed + fail))
	fi
	return "$rc"
}

build build -DPINMM_SANITIZE=
run_ctest build --

build build-asan -DPINMM_SANITIZE=address,undefined
# host tests (label host: the running kernel) run in the plain build only,
# and so do the reduction-vs-plain comparisons (label equivalence: a check
# of the search's logic, minutes of executions under the sanitizers)
run_ctest build-asan -- -LE 'host|equivalence'

# TSan needs a narrow address-space layout: on kernels with high mmap ASLR
# entropy it dies with "unexpected memory mapping"; running without
# randomisation avoids that wherever setarch -R is allowed.
tsan_wrap=(env)
if setarch "$(uname -m)" -R true 2>/dev/null; then
	tsan_wrap=(setarch "$(uname -m)" -R)
fi
build build-tsan -DPINMM_SANITIZE=thread
run_ctest build-tsan "${tsan_wrap[@]}" -- -L 'concurrency|race'

# a short libFuzzer run of the scenario parser and interpreter (clang)
stage="fuzz (build-fuzz)"
bash scripts/fuzz.sh 30
stage=
