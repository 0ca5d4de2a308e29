#!/usr/bin/env bash
# Installs the Debian packages named that are not installed yet, quietly:
# `apt-get update` first when apt does not know them (a fresh machine has no
# package lists), waiting for another apt to finish, as root or with sudo.
# The CI scripts call it for what each needs; on failure it prints apt's
# output and exits 1.
#
#     scripts/install-debs.sh PACKAGE...
set -uo pipefail

missing=()
for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2> /dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -gt 0 ] || exit 0

sudo=()
[ "$(id -u)" = 0 ] || sudo=(sudo)
apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600)
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
echo "installing ${missing[*]}"
if ! apt-cache show "${missing[@]}" > /dev/null 2>&1; then
    "${apt[@]}" update -qq > "$log" 2>&1 || { cat "$log"; exit 1; }
fi
"${apt[@]}" install -y -qq --no-install-recommends "${missing[@]}" > "$log" 2>&1 || {
    cat "$log"
    exit 1
}
