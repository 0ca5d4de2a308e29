#!/usr/bin/env bash
# Runs the procd init script against stub rc.common/UCI/procd (stubs/) for
# each UCI config in init-cases/ (and the shipped default config) and compares
# what procd would get with init-cases/NAME.expected. Each case runs under
# every available POSIX shell close to OpenWrt's busybox ash: dash and
# busybox sh. Prints "ok NAME" / "not ok NAME" per check; exits 1 on failure.
set -uo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
init="$repo/openwrt/linxdot-exporter/files/linxdot-exporter.init"
shipped_config="$repo/openwrt/linxdot-exporter/files/linxdot-exporter.config"

failed=0
ok() { echo "ok $*"; }
notok() { echo "not ok $*"; failed=1; }

shells=()
command -v dash >/dev/null && shells+=("dash")
command -v busybox >/dev/null && busybox sh -c : 2>/dev/null && shells+=("busybox sh")
if [ ${#shells[@]} -eq 0 ]; then
    notok "init: no dash or busybox to run the init script with"
    exit 1
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/etc/init.d" "$work/etc/config"
# Installed under its real name: procd's service name is the script's name.
cp "$init" "$work/etc/init.d/linxdot-exporter"

# The password of a UCI file, read with the stub's own UCI parser.
uci_password() {
    UCI_CONFIG_DIR="$(dirname "$1")" PROCD_LOG=/dev/null sh -c '
        . "$0/functions.sh"; config_load "$1"; printf "%s" "$CONFIG_main_password"' \
        "$here/stubs" "$(basename "$1")"
}

run_case() {
    local name="$1" uci="$2" expected="$3" sh out password
    for sh in "${shells[@]}"; do
        rm -f "$work/etc/config/linxdot-exporter"
        cp "$uci" "$work/etc/config/linxdot-exporter"
        out="$work/procd.log"
        : > "$out"
        # shellcheck disable=SC2086 # "busybox sh" is two words on purpose
        if ! UCI_CONFIG_DIR="$work/etc/config" PROCD_LOG="$out" \
            $sh "$here/stubs/rc.common" "$work/etc/init.d/linxdot-exporter" start \
            > "$work/stdout" 2>&1; then
            notok "init $name ($sh): init script failed: $(cat "$work/stdout")"
            continue
        fi
        if [ -s "$work/stdout" ]; then
            notok "init $name ($sh): unexpected output: $(cat "$work/stdout")"
            continue
        fi
        if diff -u "$expected" "$out" > "$work/diff"; then
            ok "init $name ($sh): procd gets the expected instance"
        else
            notok "init $name ($sh): procd instance differs from $expected"
            sed 's/^/    /' "$work/diff"
        fi
        password="$(uci_password "$work/etc/config/linxdot-exporter")"
        if [ -n "$password" ]; then
            if grep '^INSTANCE command:' "$out" | grep -qF -- "$password"; then
                notok "init $name ($sh): the password is on the command line"
            else
                ok "init $name ($sh): the password is not on the command line"
            fi
        fi
    done
}

for uci in "$here"/init-cases/*.uci; do
    name="$(basename "$uci" .uci)"
    run_case "$name" "$uci" "${uci%.uci}.expected"
done
run_case shipped "$shipped_config" "$here/init-cases/shipped.expected"

# The stubs must notice a broken script, or the checks above prove nothing:
# an init script that puts the password on the command line has to fail.
# shellcheck disable=SC2016 # the $ are literal: they match the script's text
sed 's|procd_set_param env MINER_PASSWORD="$password"|procd_append_param command --password "$password"|' \
    "$init" > "$work/etc/init.d/linxdot-exporter"
if cmp -s "$init" "$work/etc/init.d/linxdot-exporter"; then
    notok "init self-test: could not make the broken variant"
else
    cp "$here/init-cases/full.uci" "$work/etc/config/linxdot-exporter"
    : > "$work/procd.log"
    UCI_CONFIG_DIR="$work/etc/config" PROCD_LOG="$work/procd.log" \
        dash "$here/stubs/rc.common" "$work/etc/init.d/linxdot-exporter" start 2>/dev/null
    if diff -q "$here/init-cases/full.expected" "$work/procd.log" >/dev/null; then
        notok "init self-test: a script passing the password in argv was not caught"
    else
        ok "init self-test: a script passing the password in argv is caught"
    fi
fi

exit "$failed"
