#!/usr/bin/env bash
# check-install.sh BUILD_DIR SOURCE_DIR - install libpinmm to a scratch
# prefix as a packager would, then build and run the example program
# (tools/pinmm-demo.c) against it twice: through pkg-config alone, and as a
# CMake project with find_package(pinmm) and the target pinmm::pinmm.
set -euo pipefail
build=$1
src=$(cd "$2" && pwd)
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
# the bash completion where bash-completion finds it, under the prefix
[ -f "$prefix/share/bash-completion/completions/pinmm" ] ||
	{ echo "check-install: no share/bash-completion/completions/pinmm" >&2; exit 1; }
pcdir=$(dirname "$(find "$prefix" -name pinmm.pc | head -n 1)")
export PKG_CONFIG_PATH=$pcdir
# only the engine's headers are installed
for h in "$prefix"/include/pinmm/*.h; do
	echo "#include <pinmm/$(basename "$h")>" | cc -fsyntax-only -x c - $(pkg-config --cflags pinmm)
done
# the example is installed with the documentation, and is what we build
example=$(find "$prefix/share/doc" -name pinmm-demo.c | head -n 1)
[ -n "$example" ] || { echo "check-install: pinmm-demo.c not installed as an example" >&2; exit 1; }
cc -o "$prefix/demo" "$example" $(pkg-config --cflags --libs pinmm) \
   -Wl,-rpath,"$(pkg-config --variable=libdir pinmm)"
"$prefix/demo" >/dev/null

# a CMake consumer: nothing but the prefix to find it by
mkdir "$prefix/consumer"
cat >"$prefix/consumer/CMakeLists.txt" <<EOF2
cmake_minimum_required(VERSION 3.25)
project(consumer LANGUAGES C)
find_package(pinmm 0.1 REQUIRED)
add_executable(demo "$src/tools/pinmm-demo.c")
target_link_libraries(demo PRIVATE pinmm::pinmm)
EOF2
cmake -S "$prefix/consumer" -B "$prefix/consumer/build" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$prefix/consumer/build" >/dev/null
"$prefix/consumer/build/demo" >/dev/null
# and a version it does not provide is refused
sed -i 's/find_package(pinmm 0.1 REQUIRED)/find_package(pinmm 99 REQUIRED)/' "$prefix/consumer/CMakeLists.txt"
if cmake -S "$prefix/consumer" -B "$prefix/consumer/build99" -DCMAKE_PREFIX_PATH="$prefix" \
	>/dev/null 2>&1; then
	echo "check-install: find_package(pinmm 99) succeeded" >&2
	exit 1
fi
echo "check-install: completion installed, headers compile alone, pinmm-demo builds with pkg-config and with" \
     "find_package(pinmm) (pinmm::pinmm) and runs"
