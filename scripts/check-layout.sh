#!/usr/bin/env bash
# check-layout.sh BUILD_DIR [SOURCE_DIR] - the source tree's folders call each other in
# one direction only. From the object files of the build, folder A calls
# folder B when an object of A needs a symbol an object of B defines
# (nm). The parts above the engine must stack in this order, each calling
# only those before it:
#     src/lang  <  src/scenario  <  src/report  <  src/host
# and no two folders of the engine (src/base, src/mem, src/mm, src/gup,
# src/daemons, src/check, src/sched) may call each other both ways. Prints
# every edge that breaks a rule, and exits 1 if there is one.
set -euo pipefail
build=$1
src=${2:-.}
order=(lang scenario report host)

# "folder symbol" lines: what each folder's objects define / need
defs=$(mktemp)
needs=$(mktemp)
trap 'rm -f "$defs" "$needs"' EXIT
objects() {
	# the scenario library (normal build) and the explore build of the
	# engine, whose objects name their source path
	find "$build" \( -path '*pinmm_scenario.dir*' -o -path '*pinmm_explore.dir*' \) -name '*.c.o'
}
folder_of() {
	sed -E 's#.*/(src|__)/([a-z_]+)/[^/]+\.c\.o$#\2#; t; s#.*#?#' <<<"$1"
}
n=0
while read -r obj; do
	f=$(folder_of "$obj")
	[ "$f" = "?" ] && continue
	# an object whose source moved away since is not part of the build
	[ -f "$src/src/$f/$(basename "$obj" .o)" ] || continue
	nm --defined-only -g "$obj" | awk -v f="$f" 'NF == 3 { print f, $3 }' >>"$defs"
	nm --undefined-only -g "$obj" | awk -v f="$f" '{ print f, $NF }' >>"$needs"
	n=$((n + 1))
done < <(objects)
[ "$n" -gt 0 ] || { echo "check-layout: no object files under $build" >&2; exit 2; }

# edges "A B": A needs what B defines (A != B)
edges=$(join -1 2 -2 2 <(sort -k2 "$needs") <(sort -k2 "$defs") |
	awk '$2 != $3 { print $2, $3 }' | sort -u)

rank() {
	for i in "${!order[@]}"; do
		[ "${order[$i]}" = "$1" ] && { echo "$i"; return; }
	done
	echo -1
}
bad=0
while read -r a b; do
	[ -n "$a" ] || continue
	ra=$(rank "$a")
	rb=$(rank "$b")
	if [ "$ra" -ge 0 ] && [ "$rb" -ge 0 ] && [ "$rb" -gt "$ra" ]; then
		echo "check-layout: src/$a calls src/$b, which comes after it" \
		     "($(join -1 2 -2 2 <(grep "^$a " "$needs" | sort -k2) \
			<(grep "^$b " "$defs" | sort -k2) | awk '{print $1}' | head -n 3 | xargs))"
		bad=1
	elif grep -qx "$b $a" <<<"$edges" && [[ "$a" < "$b" ]]; then
		echo "check-layout: src/$a and src/$b call each other"
		bad=1
	fi
done <<<"$edges"
[ $bad -eq 0 ] && echo "check-layout: $(wc -l <<<"$edges") calls between folders, all one way"
exit $bad
