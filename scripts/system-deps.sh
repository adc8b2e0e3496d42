#!/usr/bin/env bash
# Debian packages the test suite needs, listed in scripts/debian-packages.txt
# (one per line, # comments). Installs only what is missing.
set -euo pipefail
list="$(dirname "$0")/debian-packages.txt"
packages=()
while read -r pkg _; do
  [ -z "$pkg" ] && continue
  case "$pkg" in \#*) continue ;; esac
  dpkg -s "$pkg" >/dev/null 2>&1 || packages+=("$pkg")
done < "$list"
[ ${#packages[@]} -eq 0 ] && exit 0
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}"
else
  echo "please install these Debian packages: ${packages[*]}" >&2
  exit 1
fi
