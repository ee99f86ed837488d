#!/usr/bin/env bash
# The main job: builds pinmm and prints the guarantee matrix of the scenario
# library (`pinmm check scenarios/`): every scenario under strict, legacy and
# its declared ablations. Exits 0 only when the matrix is as declared.
# Works on a fresh Debian 12 as root (deps.sh installs what is missing).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/deps.sh
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# the build's output goes to a log, shown only when it fails; its progress
# to stderr, a line per tenth
echo "check.sh: building pinmm (build/)" >&2
set +e
{ cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPINMM_SANITIZE= &&
  cmake --build build -j2; } 2>&1 | tee "$log" |
	awk 'match($0, /^\[ *[0-9]+%\]/) {
		p = int(substr($0, RSTART + 1, RLENGTH - 3) / 10) * 10
		if (p > last) { last = p; printf "check.sh: build %d%%\n", p > "/dev/stderr" }
	     }'
rc=${PIPESTATUS[0]}
set -e
if [ "$rc" -ne 0 ]; then
	cat "$log" >&2
	echo "check.sh: build failed" >&2
	exit 1
fi
echo "check.sh: built; running the scenarios" >&2
# the host column (the same scenarios on this machine's kernel) needs root
if [ "$(id -u)" -eq 0 ]; then
	echo "check.sh: the host column runs each scenario on this kernel; KSM and THP settings change" \
	     "for the run and are restored after (a killed run's are restored by the next)" >&2
	exec build/tools/pinmm check --host scenarios/
fi
exec build/tools/pinmm check scenarios/
