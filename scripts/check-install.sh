#!/usr/bin/env bash
# check-install.sh BUILD_DIR SOURCE_DIR - install libpinmm to a scratch
# prefix as a packager would, then build and run the example program
# (tools/pinmm-demo.c) against it through pkg-config alone.
set -euo pipefail
build=$1
src=$2
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
pcdir=$(dirname "$(find "$prefix" -name pinmm.pc | head -n 1)")
export PKG_CONFIG_PATH=$pcdir
# only the engine's headers are installed
for h in "$prefix"/include/pinmm/*.h; do
	echo "#include <pinmm/$(basename "$h")>" | cc -fsyntax-only -x c - $(pkg-config --cflags pinmm)
done
cc -o "$prefix/demo" "$src/tools/pinmm-demo.c" $(pkg-config --cflags --libs pinmm) \
   -Wl,-rpath,"$(pkg-config --variable=libdir pinmm)"
"$prefix/demo" >/dev/null
echo "check-install: headers compile alone, pinmm-demo builds with pkg-config and runs"
