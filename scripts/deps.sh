#!/usr/bin/env bash
# deps.sh [PACKAGE...] - install pinmm's build dependencies (Debian 12):
# what the main job (scripts/check.sh) needs; with arguments, those packages
# instead (scripts/test-deps.sh adds the test-only ones that way).
# Idempotent and quiet: does nothing when every package is already installed.
set -euo pipefail

PKGS=(build-essential cmake pkg-config liburcu-dev libbsd-dev libcmocka-dev
      liburing-dev libjson-c-dev libxml2-dev)
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
