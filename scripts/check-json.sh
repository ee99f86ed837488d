#!/usr/bin/env bash
# check-json.sh PINMM - every kind of JSON document pinmm writes (check, run,
# explore, replay) validated against its schema in docs/schema/ by a real
# validator (scripts/validate-json.py, python3-jsonschema), and documents
# that break a schema rejected. host and bench JSON are validated by
# scripts/host-test.sh (they need root).
set -uo pipefail
pinmm=$1
source "$(dirname "${BASH_SOURCE[0]}")/lib-formats.sh"
python3 scripts/validate-json.py --available || no_reader "JSON Schema validator" python3-jsonschema
schema=docs/schema

# valid SCHEMA FILE / invalid WHAT SCHEMA FILE (--lines first for JSON Lines)
valid() {
	expect 0 "${*: -1} follows ${*: -2:1}" -- python3 scripts/validate-json.py "$@"
}
invalid() {
	local what=$1
	shift
	expect 1 "a document with $what is rejected" -- python3 scripts/validate-json.py "$@"
}

"$pinmm" check --json scenarios/e-munmap.pin scenarios/g5-pin-accounting.pin \
	scenarios/g4-gup-fast-recheck.pin "$(unexpected_pin)" >"$tmp/check.json" 2>/dev/null
holds "an UNEXPECTED cell" -- grep -q '"verdict":"UNEXPECTED"' "$tmp/check.json"
holds "an explored cell" -- grep -q '"explored":true' "$tmp/check.json"
valid "$schema/pinmm-check.schema.json" "$tmp/check.json"
# explore bound=none: a proved cell, bound null
"$pinmm" check --json --no-host tests/scenarios/threads-proved.pin >"$tmp/check-proved.json"
holds "a proved cell (bound null)" -- python3 -c '
import json, sys
c = json.load(open(sys.argv[1]))["scenarios"][0]["cells"][0]
sys.exit(not (c["verdict"] == "pass" and c["exhausted"] and c["bound"] is None))' \
	"$tmp/check-proved.json"
valid "$schema/pinmm-check.schema.json" "$tmp/check-proved.json"
holds "the text says proved" -- bash -c "'$pinmm' check --no-host tests/scenarios/threads-proved.pin |
	grep -q '^threads-proved  *proved '"
holds "a bounded pass says its bound" -- bash -c "'$pinmm' check --no-host \
	scenarios/e-fork-swap-cache-concurrent.pin | grep -q 'pass (explore, bound 2)'"
"$pinmm" explore --json --bound none tests/scenarios/threads-proved.pin >"$tmp/explore-none.json"
valid "$schema/pinmm-explore.schema.json" "$tmp/explore-none.json"
"$pinmm" explore --json --strategy dfs-plain --bound 1 scenarios/g4-gup-fast-recheck.pin \
	>"$tmp/explore-plain.json"
valid "$schema/pinmm-explore.schema.json" "$tmp/explore-plain.json"
"$pinmm" run --json scenarios/e-munmap.pin >"$tmp/run-pass.json"
valid "$schema/pinmm-run.schema.json" "$tmp/run-pass.json"
"$pinmm" run --json --policy legacy scenarios/g5-pin-accounting.pin >"$tmp/run-fail.json"
valid "$schema/pinmm-run.schema.json" "$tmp/run-fail.json"
"$pinmm" explore --json scenarios/g4-gup-fast-recheck.pin >"$tmp/explore.json"
valid "$schema/pinmm-explore.schema.json" "$tmp/explore.json"
"$pinmm" explore --json --policy strict,-gup_fast_recheck scenarios/g4-gup-fast-recheck.pin \
	>"$tmp/explore-found.json"
valid "$schema/pinmm-explore.schema.json" "$tmp/explore-found.json"
"$pinmm" explore --json --strategy pct --seed 1 --max-executions 20 \
	scenarios/g4-gup-fast-recheck.pin >"$tmp/explore-pct.json"
valid "$schema/pinmm-explore.schema.json" "$tmp/explore-pct.json"
"$pinmm" replay --json scenarios/g4-gup-fast-recheck.pin '' >"$tmp/replay.json"
valid "$schema/pinmm-explore.schema.json" "$tmp/replay.json"

# each schema rejects what breaks it: real output, one thing changed
mutate() {	# mutate IN OUT PYTHON-STATEMENT (on d, the document)
	python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
exec(sys.argv[3])
json.dump(d, open(sys.argv[2], "w"))' "$1" "$2" "$3"
}
c="$tmp/check.json" b="$tmp/bad.json"
mutate "$c" "$b" 'del d["schema_version"]'
invalid "no schema_version" "$schema/pinmm-check.schema.json" "$b"
mutate "$c" "$b" 'd["schema_version"] = 2'
invalid "another schema_version" "$schema/pinmm-check.schema.json" "$b"
mutate "$c" "$b" 'd["scenarios"][0]["cells"][0]["verdict"] = "maybe"'
invalid "an unknown verdict" "$schema/pinmm-check.schema.json" "$b"
mutate "$c" "$b" 'del d["scenarios"][0]["cells"][0]["ms"]'
invalid "a cell without ms" "$schema/pinmm-check.schema.json" "$b"
mutate "$c" "$b" 'd["scenarios"][0]["cells"][0]["ms"] = "3"'
invalid "ms as a string" "$schema/pinmm-check.schema.json" "$b"
mutate "$c" "$b" 'd["summary"]["flaky"] = 0'
invalid "an undocumented field" "$schema/pinmm-check.schema.json" "$b"
mutate "$c" "$b" 'd["scenarios"][0]["cells"][0]["na"] = "not-built"'
invalid "a reason code on a cell that is not n/a" "$schema/pinmm-check.schema.json" "$b"
mutate "$tmp/run-fail.json" "$b" 'd["result"] = "unsupported"'
invalid "unsupported without its statement" "$schema/pinmm-run.schema.json" "$b"
mutate "$tmp/replay.json" "$b" 'd["strategy"] = "dfs"'
invalid "a replay that names a strategy" "$schema/pinmm-explore.schema.json" "$b"
printf '%s\n' '{"schema_version":1,"file":"a.pin","kernel":"6.1","outcome":"pass","failures":[],"skipped_expectations":0,"notes":[]}' \
	'{"schema_version":1,"file":"b.pin","kernel":"6.1","outcome":"skipped","failures":[],"skipped_expectations":0,"notes":[]}' >"$b"
invalid "a skipped host line without its reason" --lines "$schema/pinmm-host.schema.json" "$b"
head -n 1 "$b" >"$tmp/host.json"
valid --lines "$schema/pinmm-host.schema.json" "$tmp/host.json"

finish
