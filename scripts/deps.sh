#!/usr/bin/env bash
# Install pinmm's build dependencies (Debian 12), or the packages named as
# arguments (scripts/test.sh: what only tests need). Idempotent and quiet:
# does nothing when every package is already installed.
set -euo pipefail

PKGS=(build-essential cmake pkg-config liburcu-dev libbsd-dev libcmocka-dev
      liburing-dev libjson-c-dev clang libclang-rt-14-dev gnuplot-nox)
[ $# -eq 0 ] || PKGS=("$@")

missing=()
for p in "${PKGS[@]}"; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$status" = installed ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps.sh: installing ${missing[*]}" >&2
SUDO=
if [ "$(id -u)" -ne 0 ]; then
	SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
# update the package lists once: first if there are none, else only when an
# install fails (stale lists)
if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
	$SUDO apt-get update -qq
	$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
elif ! $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
	$SUDO apt-get update -qq
	$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
