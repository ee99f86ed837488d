#!/usr/bin/env bash
# fuzz.sh [SECONDS] - fuzz the scenario parser and interpreter with libFuzzer
# for SECONDS (default 60), seeded with scenarios/ and scenarios/bad/.
# Builds build-fuzz with clang, ASan and UBSan. A crashing input is left in
# build-fuzz/artifacts/; once fixed, copy it to tests/fuzz/crashers/ (ctest
# fuzz_crashers replays them in every build).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
secs=${1:-60}

cc=$(command -v clang || command -v clang-14 || true)
if [ -z "$cc" ]; then
	echo "fuzz.sh: clang not found" >&2
	exit 1
fi
log=$(mktemp)
corpus=$(mktemp -d)
trap 'rm -rf "$log" "$corpus"' EXIT
if ! { CC=$cc cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	-DPINMM_FUZZ=ON -DPINMM_SANITIZE=address,undefined -DPINMM_WERROR=OFF \
	-DBUILD_TESTING=OFF &&
       cmake --build build-fuzz -j2 --target fuzz_scenario; } >"$log" 2>&1; then
	cat "$log" >&2
	echo "fuzz.sh: build failed" >&2
	exit 1
fi
mkdir -p build-fuzz/artifacts
# the engine's arena is reserved, not touched: ASan's RSS limit is what
# bounds a run; a scenario may legitimately take a second or two
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
build-fuzz/src/scenario/fuzz_scenario -max_total_time="$secs" -timeout=20 \
	-rss_limit_mb=4096 -max_len=4096 -print_final_stats=1 \
	-artifact_prefix=build-fuzz/artifacts/ \
	"$corpus" scenarios scenarios/bad 2>&1 | tail -n 25
