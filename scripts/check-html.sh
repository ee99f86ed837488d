#!/usr/bin/env bash
# check-html.sh PINMM - the page of `pinmm check --html DIR` loaded in a
# real browser (headless Chromium, which builds the DOM and runs the page's
# script) and its DOM checked by scripts/html-dom.py: the script ran with no
# error, the matrix has a row per scenario, every #link resolves, every
# counterexample has its SVG trace (Graphviz) and a replay command that
# reproduces it; without dot the page says so and shows the text trace.
# Pages with a broken link, a script error, a missing picture or a missing
# row are rejected. chromium, graphviz: test-only dependencies.
set -uo pipefail
pinmm=$1
source "$(dirname "${BASH_SOURCE[0]}")/lib-formats.sh"
command -v chromium >/dev/null || no_reader chromium chromium
command -v dot >/dev/null || no_reader "Graphviz dot" graphviz
command -v python3 >/dev/null || no_reader python3 python3

# dom PAGE OUT: the DOM as Chromium built it; its console on OUT.log
dom() {
	timeout 120 chromium --headless --disable-gpu --no-sandbox --disable-dev-shm-usage \
		--user-data-dir="$tmp/profile" --enable-logging=stderr --v=0 \
		--dump-dom "file://$1" >"$2" 2>"$2.log"
}
# page_ok PAGE [html-dom.py args...]: the page loads and passes the checks,
# and its script logged no error on the console either
page_ok() {
	local page=$1
	shift
	dom "$page" "$tmp/dom.html" &&
		python3 scripts/html-dom.py "$tmp/dom.html" "$@" &&
		! grep -E ':CONSOLE.*(Uncaught|Error)' "$tmp/dom.html.log"
}

# a browser that cannot start here (no /dev/shm, seccomp, ...) is no verdict
printf '<!DOCTYPE html><p id="ok">ok</p>\n' >"$tmp/smoke.html"
if ! dom "$tmp/smoke.html" "$tmp/smoke.dom" || ! grep -q 'id="ok"' "$tmp/smoke.dom"; then
	cat "$tmp/smoke.dom.log"
	no_reader "chromium that runs here" chromium
fi

# an explored race with its ablation and legacy (2 counterexamples), an
# UNEXPECTED cell, plain cells, the host column's notes; JSON on stdout
pins=(scenarios/g4-gup-fast-recheck.pin scenarios/e-munmap.pin scenarios/g5-pin-accounting.pin
      "$(unexpected_pin)")
n=$((n + 1))
"$pinmm" check --json --no-host --html "$tmp/page" "${pins[@]}" >"$tmp/m.json" 2>"$tmp/err"
rc=$?
[ $rc -eq 1 ] || { cat "$tmp/err"; bad "check --html with an UNEXPECTED cell: exit $rc, expected 1"; }
# what the page must show, from the matrix's JSON: rows, counterexamples
read -r rows cxs < <(python3 -c '
import json, sys
m = json.load(open(sys.argv[1]))
print(len(m["scenarios"]), sum("schedule" in c for s in m["scenarios"] for c in s["cells"]))
' "$tmp/m.json")
holds "--html with --json: stdout is the JSON, 4 rows, 2 counterexamples" -- \
	test "$rows/$cxs" = 4/2
n=$((n + 1))
page_ok "$tmp/page/index.html" --rows "$rows" --counterexamples "$cxs" --svgs "$cxs" --replays "$tmp/replays" ||
	bad "the page in Chromium"
holds "every cell has its note and time in the page" -- \
	test "$(grep -o 'id="cell-[0-9]*-[0-9]*"' "$tmp/page/index.html" | wc -l)" -eq \
	"$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["summary"]["cells"])' \
		"$tmp/m.json")"
holds "the host column's note is in the page" -- grep -q '<td>skipped: --no-host</td>' \
	"$tmp/page/index.html"
# the filters, set from the query string: one row has an UNEXPECTED cell,
# one is named g5-*, four have a pass
for q in "result=unexpected 1" "name=g5 1" "result=pass 4" "name=g4&result=na 1" "name=nosuch 0"; do
	n=$((n + 1))
	page_ok "$tmp/page/index.html?${q% *}" --rows "$rows" --shown "${q#* }" ||
		bad "the page filtered by ?${q% *}"
done
# each replay command, as printed, reproduces its counterexample (exit 1)
while read -r cmd; do
	expect 1 "the page's '$cmd'" -- env PATH="$(dirname "$pinmm"):$PATH" bash -c "$cmd"
done <"$tmp/replays"

# without Graphviz: no picture, said so, the trace as text instead
n=$((n + 1))
env PATH=/nonexistent "$pinmm" check --no-host --html "$tmp/nodot" "${pins[0]}" >/dev/null ||
	bad "check --html without dot"
page_ok "$tmp/nodot/index.html" --rows 1 --counterexamples 2 --svgs 0 --nodot 2 || bad "the page without dot"

# a DIR that cannot be made or written: usage error before anything runs
touch "$tmp/file"
for dir in "$tmp/no/such/dir" "$tmp/file"; do
	expect 2 "--html $dir" -- "$pinmm" check --no-host --html "$dir" "${pins[1]}"
	holds "--html $dir: nothing ran" -- test "$(grep -c '^pinmm check: --html' "$tmp/out")" -eq 1 -a \
		"$(wc -l <"$tmp/out")" -eq 1
done

# the checks reject what breaks them: the real page, one thing changed
p="$tmp/page/index.html" b="$tmp/bad.html"
rejected() {	# rejected WHAT [html-dom.py args...]: $b fails the checks
	local what=$1
	shift
	n=$((n + 1))
	if page_ok "$b" "$@" >"$tmp/rejected" 2>&1; then
		bad "a page with $what passed"
	else
		echo "rejected, $what: $(grep -m1 -E 'html-dom|CONSOLE' "$tmp/rejected")"
	fi
}
sed 's|<a href="#scn-0">|<a href="#scn-none">|' "$p" >"$b"
rejected "a broken link" --rows "$rows" --counterexamples "$cxs" --svgs "$cxs"
sed 's|</body>|<script>nosuch();</script></body>|' "$p" >"$b"
rejected "a script error" --rows "$rows" --counterexamples "$cxs" --svgs "$cxs"
sed 's|document.body.dataset.script = "ready";|nosuch.x = 1;&|' "$p" >"$b"
rejected "an error in its own script" --rows "$rows" --counterexamples "$cxs" --svgs "$cxs"
python3 -c 'import re, sys; s = open(sys.argv[1]).read()
open(sys.argv[2], "w").write(re.sub(r"<figure>.*?</figure>", "", s, count=1, flags=re.S))' "$p" "$b"
rejected "a picture missing" --rows "$rows" --counterexamples "$cxs" --svgs "$cxs"
python3 -c 'import re, sys; s = open(sys.argv[1]).read()
open(sys.argv[2], "w").write(re.sub(r"<tr data-name=.*?</tr>", "", s, count=1, flags=re.S))' "$p" "$b"
rejected "a row missing" --rows "$rows" --counterexamples "$cxs" --svgs "$cxs"
sed '0,/<p class="title">/s//<p class="title" id="summary">/' "$p" >"$b"
rejected "an id used twice" --rows "$rows" --counterexamples "$cxs" --svgs "$cxs"

finish
