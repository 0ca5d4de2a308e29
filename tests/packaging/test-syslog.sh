#!/usr/bin/env bash
# What logread shows: runs the exporter with --log-target syslog (as the
# OpenWrt init script starts it) in a mount namespace whose /dev/log is a
# socket of this test, and checks the priority of every line that arrives:
# facility daemon, DEBUG 7, INFO 6, WARN 4, ERROR 3 (logd shows them as
# daemon.debug, daemon.info, daemon.warn, daemon.err), and that nothing of it
# went to stderr. Needs root (unshare --mount) and python3.
#
# usage: tests/packaging/test-syslog.sh DASHBOARD_SIM [RUNNER...] BINARY
#   DASHBOARD_SIM  the dashboard simulator (cargo build --example dashboard-sim)
#   e.g. tests/packaging/test-syslog.sh target/release/examples/dashboard-sim \
#            qemu-aarch64-static target/packaging/aarch64-unknown-linux-musl/release/linxdot-exporter
# Prints "ok NAME" / "not ok NAME" per check; exits 1 on any failure.
set -uo pipefail

[ $# -ge 2 ] || { echo "usage: test-syslog.sh DASHBOARD_SIM [RUNNER...] BINARY" >&2; exit 2; }
sim="$1"
shift
command=("$@")

# shellcheck source=scripts/checks-lib.sh
source "$(dirname "$0")/../../scripts/checks-lib.sh"

if [ "$(id -u)" != 0 ] || ! unshare --mount true 2> /dev/null; then
    notok "syslog: needs root and unshare --mount"
    finish
fi

# The system log: each datagram on one line of $work/messages.
python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a") as out:
    print("ready", file=out, flush=True)
    while True:
        out.write(s.recv(65536).decode("utf-8", "replace").rstrip("\n") + "\n")
        out.flush()
' "$work/log.sock" "$work/messages" &
pids+=($!)

wait_for 10 grep -qx ready "$work/messages" 2> /dev/null || { notok "syslog: no listener"; finish; }

# INFO: the start; WARN: a password file others can read; ERROR: the
# simulator refuses that password; DEBUG (--debug): the login backoff.
printf 'not-the-password\n' > "$work/password"
chmod 0644 "$work/password"
sim_port=$(free_port)
"$sim" --listen "127.0.0.1:$sim_port" > "$work/sim.out" 2>&1 &
pids+=($!)
wait_for 30 grep -qs "^listening on 127.0.0.1:$sim_port" "$work/sim.out" ||
    { notok "syslog: the dashboard simulator did not start: $(cat "$work/sim.out")"; finish; }
# shellcheck disable=SC2016 # expanded by the inner shell
unshare --mount sh -c '
    mount --make-rprivate / &&
    mkdir "$1/dev" && touch "$1/dev/null" && mount --bind /dev/null "$1/dev/null" &&
    ln -s "$1/log.sock" "$1/dev/log" && mount --bind "$1/dev" /dev && shift && exec "$@"' \
    sh "$work" "${command[@]}" --log-target syslog --debug --no-temper --bind-address 127.0.0.1 \
    --port 0 -o "127.0.0.1:$sim_port" -u admin --password-file "$work/password" -r 0.2 \
    > "$work/stdout" 2> "$work/stderr" &
pids+=($!)

# shellcheck disable=SC2317 # called through wait_for
all_levels() {
    local level
    for level in DEBUG INFO WARN ERROR; do
        grep -q "linxdot-exporter\[[0-9]*\]: $level " "$work/messages" || return 1
    done
}
if wait_for 60 all_levels; then
    ok "syslog: DEBUG, INFO, WARN and ERROR lines arrive at /dev/log"
else
    notok "syslog: not every level arrived; got: $(cat "$work/messages"); stderr: $(cat "$work/stderr")"
fi

# <PRI> = facility daemon (3) * 8 + severity.
bad="$(grep 'linxdot-exporter\[' "$work/messages" | awk '
    match($0, /^<[0-9]+>/) {
        pri = substr($0, 2, RLENGTH - 2)
        level = $0; sub(/^.*linxdot-exporter\[[0-9]+\]: /, "", level); sub(/ .*/, "", level)
        want["DEBUG"] = 31; want["INFO"] = 30; want["WARN"] = 28; want["ERROR"] = 27
        if (!(level in want) || want[level] != pri) print
        next
    }
    { print }')"
n="$(grep -c 'linxdot-exporter\[' "$work/messages")"
if [ -z "$bad" ] && [ "$n" -gt 0 ]; then
    ok "syslog: all $n lines are daemon.* with their level's priority (debug 31, info 30, warn 28, err 27)"
else
    notok "syslog: lines with the wrong priority: $bad"
fi
if grep -q . "$work/stderr" "$work/stdout"; then
    notok "syslog: output on stdout/stderr as well: $(head -n 3 "$work/stderr" "$work/stdout")"
else
    ok "syslog: nothing on stdout or stderr (procd would log it as daemon.err/info)"
fi
if grep -q not-the-password "$work/messages"; then
    notok "syslog: the password is in the log"
else
    ok "syslog: the password is not in the log"
fi

finish
