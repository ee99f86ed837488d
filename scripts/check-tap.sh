#!/usr/bin/env bash
# check-tap.sh PINMM - the matrix's TAP output read by a real TAP consumer
# (prove): every test point parses, the plan matches, skips are skips.
set -euo pipefail
pinmm=$1
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$pinmm" check --tap --no-host scenarios/g5-*.pin scenarios/g2-ro-longterm-*.pin >"$out"
grep -q '^# Totals: pass:[0-9]* fail:0 xfail:0 xpass:0 skip:[0-9]* error:0$' "$out"
prove -e cat "$out"
