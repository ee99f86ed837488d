#!/usr/bin/env bash
# check-exports.sh LIBPINMM_SO INCLUDE_DIR HEADER... - the shared library
# exports its public API and nothing else: every defined dynamic symbol is
# pinmm_*, and every function the installed headers (HEADER..., the list
# CMake installs) declare is defined in it.
set -uo pipefail
lib=$1
inc=$2
shift 2
headers=("$@")
if [ ${#headers[@]} -eq 0 ]; then
	echo "usage: check-exports.sh LIBPINMM_SO INCLUDE_DIR HEADER..." >&2
	exit 2
fi
fail=0
syms=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVW]$/ { print $3 }' | sed 's/@.*//' | sort -u)
leaked=$(grep -v '^pinmm_' <<<"$syms" | grep -v '^PINMM_0$' || true)
if [ -n "$leaked" ]; then
	echo "FAIL: $lib exports symbols outside the API:"
	sed 's/^/  /' <<<"$leaked"
	fail=1
fi
for h in "${headers[@]}"; do
	# declarations: a pinmm_ name followed by '(' on a line that is neither
	# a macro nor a static inline definition
	for f in $(grep -v -e '^#' -e 'static inline' "$inc/pinmm/$h" |
		   grep -oE '\bpinmm_[a-z0-9_]+\(' | tr -d '(' | sort -u); do
		if ! grep -qx "$f" <<<"$syms"; then
			echo "FAIL: $h declares $f, which $lib does not define"
			fail=1
		fi
	done
done
n=$(wc -l <<<"$syms")
[ $fail -eq 0 ] && echo "check-exports: $n symbols, all pinmm_*, every declared function defined"
exit $fail
