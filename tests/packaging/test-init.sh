#!/usr/bin/env bash
# Runs the procd init script against stub rc.common/UCI/procd (stubs/) for
# each UCI config in init-cases/ (and the shipped default config) and compares
# what procd would get with init-cases/NAME.expected. Each case runs under
# every available POSIX shell close to OpenWrt's busybox ash: dash and
# busybox sh. The interfaces that network.sh knows are in init-cases/interfaces.
# Besides the expected procd calls, each case checks that the password is in
# no command line, environment or log line of the instance but in a 0600
# file, which `stop` removes, and that the exporter logs to syslog (with
# priorities by level) unless a log file is set.
# Prints "ok NAME" / "not ok NAME" per check; exits 1 on failure.
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
run_dir="$work/run/linxdot-exporter"
# What the init script sees: network.sh from stubs/, the password file under
# $work/run instead of /var/run (written as /var/run/... in the .expected).
export IPKG_INSTROOT="$here/stubs" NETWORK_INTERFACES="$here/init-cases/interfaces"
export LINXDOT_EXPORTER_RUN_DIR="$run_dir"
# Installed under its real name: procd's service name is the script's name.
cp "$init" "$work/etc/init.d/linxdot-exporter"

# The password of a UCI file, read with the stub's own UCI parser.
uci_password() {
    UCI_CONFIG_DIR="$(dirname "$1")" PROCD_LOG=/dev/null sh -c '
        . "$0/functions.sh"; config_load "$1"; printf "%s" "$CONFIG_main_password"' \
        "$here/stubs" "$(basename "$1")"
}

# run_init SHELL ACTION: the init script through the stub rc.common; procd's
# calls in $work/procd.log (the run directory spelled /var/run/...), other
# output in $work/stdout.
run_init() {
    : > "$work/procd.log"
    # shellcheck disable=SC2086 # "busybox sh" is two words on purpose
    UCI_CONFIG_DIR="$work/etc/config" PROCD_LOG="$work/procd.log" \
        $1 "$here/stubs/rc.common" "$work/etc/init.d/linxdot-exporter" "$2" > "$work/stdout" 2>&1
    local status=$?
    sed -i "s|$run_dir|/var/run/linxdot-exporter|g" "$work/procd.log"
    return "$status"
}

run_case() {
    local name="$1" uci="$2" expected="$3" sh out password file_password password_file
    for sh in "${shells[@]}"; do
        rm -f "$work/etc/config/linxdot-exporter"
        rm -rf "$work/run"
        cp "$uci" "$work/etc/config/linxdot-exporter"
        out="$work/procd.log"
        if ! run_init "$sh" start; then
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
        if grep -q '^INSTANCE command:' "$out"; then
            if grep '^INSTANCE command:' "$out" | grep -q "'--log_file'"; then
                check_absent "$name ($sh): with a log file, no --log-target" "'--log-target'" "$out"
            elif grep '^INSTANCE command:' "$out" | grep -qF "'--log-target' 'syslog'"; then
                ok "init $name ($sh): logs to syslog, a priority per level"
            else
                notok "init $name ($sh): neither --log_file nor --log-target syslog"
            fi
        fi
        password="$(uci_password "$work/etc/config/linxdot-exporter")"
        [ -n "$password" ] || continue
        # The whole record: command, environment, files, logger lines.
        check_absent "$name ($sh): the password is in no command, environment or log line" \
            "$password" "$out"
        password_file="$(grep -o "'--password-file' '[^']*'" "$out" | sed "s/^'--password-file' '//; s/'\$//")"
        if [ "$password_file" = /var/run/linxdot-exporter/password ]; then
            file_password="$(cat "$run_dir/password")"
            if [ "$file_password" = "$password" ] &&
                [ "$(stat -c %a "$run_dir/password")" = 600 ] &&
                [ "$(stat -c %a "$run_dir")" = 700 ]; then
                ok "init $name ($sh): the password is in a 0600 file in a 0700 directory"
            else
                notok "init $name ($sh): password file $(stat -c %a "$run_dir" "$run_dir/password" | tr '\n' ' ')wrong mode or content"
            fi
            run_init "$sh" stop
            if [ ! -e "$run_dir/password" ]; then
                ok "init $name ($sh): stop removes the password file"
            else
                notok "init $name ($sh): the password file is left after stop"
            fi
        elif [ -e "$run_dir/password" ]; then
            notok "init $name ($sh): a password file in $run_dir that the instance does not use"
        fi
    done
}

# check_absent NAME TEXT FILE: ok when FILE contains TEXT neither as it is
# nor as the stubs quote it (each ' as '\'').
check_absent() {
    if contains "$3" "$2"; then notok "init $1"; else ok "init $1"; fi
}
contains() {
    grep -qF -- "$2" "$1" || grep -qF -- "$(printf '%s' "$2" | sed "s/'/'\\\\''/g")" "$1"
}

for uci in "$here"/init-cases/*.uci; do
    name="$(basename "$uci" .uci)"
    run_case "$name" "$uci" "${uci%.uci}.expected"
done
run_case shipped "$shipped_config" "$here/init-cases/shipped.expected"

# A reload that starts no instance (disabled, interface without address)
# leaves no password file behind from the run before.
for later in disabled listen_down; do
    rm -rf "$work/run"
    cp "$here/init-cases/full.uci" "$work/etc/config/linxdot-exporter"
    run_init dash start
    cp "$here/init-cases/$later.uci" "$work/etc/config/linxdot-exporter"
    if [ -e "$run_dir/password" ] && run_init dash reload && [ ! -e "$run_dir/password" ]; then
        ok "init: a reload to '$later' removes the password file"
    else
        notok "init: after a reload to '$later' the password file is still there (or never was)"
    fi
done

# The checks must notice a broken script, or they prove nothing: an init
# script that puts the password in procd's environment (as this one once
# did) or on the command line has to fail.
# shellcheck disable=SC2016 # the $ are literal: they match the script's text
for broken in 'procd_set_param env MINER_PASSWORD="$password"' \
    'procd_append_param command --password "$password"'; do
    sed "s|^\(\t\t\)procd_append_param command --password-file \"\$RUN_PASSWORD\"|\1$broken|" \
        "$init" > "$work/etc/init.d/linxdot-exporter"
    if cmp -s "$init" "$work/etc/init.d/linxdot-exporter"; then
        notok "init self-test: could not make the broken variant '$broken'"
        continue
    fi
    cp "$here/init-cases/full.uci" "$work/etc/config/linxdot-exporter"
    run_init dash start
    if contains "$work/procd.log" "$(uci_password "$work/etc/config/linxdot-exporter")"; then
        ok "init self-test: a script doing '$broken' is caught"
    else
        notok "init self-test: a script doing '$broken' was not caught"
    fi
done

exit "$failed"
