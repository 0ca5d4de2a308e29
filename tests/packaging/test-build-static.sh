#!/usr/bin/env bash
# scripts/build-static.sh changes nothing on the machine without consent: with
# zig and cargo-zigbuild out of reach (PATH=/usr/bin:/bin, Debian's python3
# without ziglang, an empty LXE_TOOLS_DIR) it must stop and name what is
# missing when not allowed to install: no terminal and no CI=true;
# --no-install (even with CI=true); on a terminal (util-linux `script`),
# after its y/N question answered "n". Nothing may be installed in any case.
# Prints "ok NAME" / "not ok NAME" per check; exits 1 on failure.
set -uo pipefail

repo="$(cd "$(dirname "$0")/../.." && pwd)"
failed=0
ok() { echo "ok $*"; }
notok() { echo "not ok $*"; failed=1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

tools="$work/tools"
base=(env -u CI -u PYTHONPATH PATH=/usr/bin:/bin LXE_TOOLS_DIR="$tools" HOME="$work")
if PATH=/usr/bin:/bin command -v zig > /dev/null || PATH=/usr/bin:/bin command -v cargo-zigbuild > /dev/null ||
    /usr/bin/python3 -c 'import ziglang' 2> /dev/null; then
    notok "build-static consent: zig is reachable from /usr/bin: this test cannot hide it"
    exit 1
fi
want="missing PyPI packages: ziglang==0.17.1: run with --install"

# refuses NAME [ENV...] -- ARGS...: build-static.sh must exit 1, say $want, install nothing.
refuses() {
    local name="$1" status
    shift
    "$@" > "$work/out" 2>&1 < /dev/null
    status=$?
    if [ "$status" = 1 ] && grep -qF "$want" "$work/out" && [ ! -e "$tools" ]; then
        ok "build-static consent: $name: stops, installs nothing ($(grep -oF "$want" "$work/out"))"
    else
        notok "build-static consent: $name: status $status, $(tail -n 3 "$work/out"), tools dir: $(ls "$tools" 2>&1)"
    fi
}
refuses "no terminal, no CI" "${base[@]}" bash "$repo/scripts/build-static.sh" x86_64-unknown-linux-musl
refuses "--no-install beats CI=true" "${base[@]}" CI=true bash "$repo/scripts/build-static.sh" --no-install \
    x86_64-unknown-linux-musl

if command -v script > /dev/null; then
    # On a terminal: the question, answered "n".
    printf 'n\n' | "${base[@]}" script -qec "bash '$repo/scripts/build-static.sh' x86_64-unknown-linux-musl" \
        /dev/null > "$work/tty" 2>&1
    if grep -qF 'is missing. Install it now? [y/N]' "$work/tty" && grep -qF "$want" "$work/tty" &&
        [ ! -e "$tools" ]; then
        ok "build-static consent: on a terminal it asks [y/N]; 'n' stops it, nothing installed"
    else
        notok "build-static consent: on a terminal: $(tr -d '\r' < "$work/tty" | tail -n 3)"
    fi
else
    notok "build-static consent: no 'script' (util-linux) to give it a terminal"
fi
if grep -q 'break-system-packages' <(sed -n '/^pip_install()/,/^}/p' "$repo/scripts/build-static.sh"); then
    notok "build-static: pip_install still uses --break-system-packages"
else
    ok "build-static: pip installs with --target into its own directory, never --break-system-packages"
fi
exit "$failed"
