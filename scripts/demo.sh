#!/usr/bin/env bash
# Runs the exporter against the bundled simulators and prints one real
# scrape: no miner, no USB sensor, no radio needed.
#
#   scripts/demo.sh            # one scrape, then stop
#   scripts/demo.sh --serve    # keep everything running until Ctrl-C:
#                              #   open http://127.0.0.1:18061/ in a browser
#
# What runs, all on 127.0.0.1:
#   - the dashboard simulator (examples/dashboard-sim.rs) as the miner;
#   - the exporter over two simulated TEMPer sensors, a TEMPer2 and a
#     TEMPerHUM (examples/sim-exporter.rs: the binary's collectors, routes
#     and server, with a simulated USB bus in place of hidapi);
#   - as root, the GWMP simulator (examples/gwmp-sim.rs: a packet forwarder
#     and a gateway on lo) and the exporter's LoRa capture (--lora-port).
#
# Ports (change them when they are taken):
#   DEMO_PORT             the exporter, default 18061
#   DEMO_DASHBOARD_PORT   the dashboard simulator, default 18080
#   DEMO_LORA_PORT        the simulated gateway's UDP port, whose GWMP traffic the
#                         LoRa capture watches on lo, default 11680
set -euo pipefail
cd "$(dirname "$0")/.."

dashboard_port=${DEMO_DASHBOARD_PORT:-18080}
port=${DEMO_PORT:-18061}
lora_port=${DEMO_LORA_PORT:-11680}
serve=0
case "${1:-}" in
    --serve) serve=1 ;;
    "") ;;
    -h | --help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "demo: unknown argument '$1' (scripts/demo.sh [--serve])" >&2; exit 2 ;;
esac

say() { printf 'demo: %s\n' "$*" >&2; }

# A port is taken when something accepts a connection on it.
port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

check_port() { # PORT VARIABLE WHAT
    local value=$1 variable=$2 what=$3
    case $value in
        '' | *[!0-9]*) say "$variable='$value' is not a port number"; exit 2 ;;
    esac
    if [ "$value" -lt 1 ] || [ "$value" -gt 65535 ]; then
        say "$variable=$value is not a port number (1-65535)"; exit 2
    fi
    if port_taken "$value"; then
        say "port $value on 127.0.0.1 (the $what) is taken by another program" \
            "(another demo still running?): stop it, or choose a free port with" \
            "$variable, e.g. $variable=$((value + 1)) scripts/demo.sh"
        exit 1
    fi
}
check_port "$dashboard_port" DEMO_DASHBOARD_PORT "dashboard simulator"
check_port "$port" DEMO_PORT "exporter"
[ "$dashboard_port" != "$port" ] || {
    say "DEMO_PORT and DEMO_DASHBOARD_PORT are both $port: give them different ports"; exit 2; }

cargo build --quiet --release --bin linxdot-exporter --example dashboard-sim --example sim-exporter
target=${CARGO_TARGET_DIR:-target}/release
logs=$(mktemp -d)

pids=()
# Every process this script started is stopped on the way out, also those
# that have already exited (kill fails on them: that is fine).
# shellcheck disable=SC2317  # called through the trap
cleanup() {
    local pid
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$logs"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Waits until process PID has written PATTERN to FILE; fails (and shows
# FILE) when the process exits first or 20 s pass.
wait_for_line() { # PID FILE PATTERN WHAT
    local pid=$1 file=$2 pattern=$3 what=$4
    for _ in $(seq 200); do
        grep -q -- "$pattern" "$file" 2>/dev/null && return 0
        if ! kill -0 "$pid" 2>/dev/null; then
            say "the $what exited before it was ready:"
            sed 's/^/    /' "$file" >&2
            return 1
        fi
        sleep 0.1
    done
    say "the $what was not ready within 20 s:"
    sed 's/^/    /' "$file" >&2
    return 1
}

"$target/examples/dashboard-sim" --listen "127.0.0.1:$dashboard_port" >"$logs/dashboard" 2>&1 &
pids+=($!)
wait_for_line "$!" "$logs/dashboard" "listening on" "dashboard simulator" || {
    say "is port $dashboard_port taken? choose a free one with DEMO_DASHBOARD_PORT"; exit 1; }

lora_args=()
# --- LoRa (issue 22): started when the exporter has --lora-port and a GWMP
# simulator is in examples/ (scripts/ci-compose.sh runs it as root) -------
# The capture is passive (raw socket: it needs root, or CAP_NET_RAW); the
# simulator runs a gateway on 127.0.0.1:$DEMO_LORA_PORT and a packet
# forwarder sending GWMP to it over lo, which the exporter counts.
gwmp_sim=$(find examples -maxdepth 1 -name 'gwmp*.rs' -printf '%f\n' 2>/dev/null | head -n 1)
gwmp_sim=${gwmp_sim%.rs}
if [ "$(id -u)" != 0 ]; then
    echo "demo: LoRa capture not shown: it needs root (sudo scripts/demo.sh shows it)"
elif ! "$target/linxdot-exporter" --help | grep -q -- '--lora-port'; then
    echo "demo: LoRa capture not shown: this exporter has no --lora-port yet"
elif [ -z "$gwmp_sim" ]; then
    echo "demo: LoRa capture not shown: no GWMP simulator in examples/ yet"
else
    cargo build --quiet --release --example "$gwmp_sim"
    "$target/examples/$gwmp_sim" --server "127.0.0.1:$lora_port" --uplinks-per-second 2 \
        --stat-interval 5 >"$logs/gwmp" 2>&1 &
    pids+=($!)
    if wait_for_line "$!" "$logs/gwmp" "gwmp-sim:" "GWMP simulator"; then
        lora_args=(--lora-port "$lora_port" --lora-interface lo)
        echo "demo: LoRa: $gwmp_sim sends GWMP traffic to 127.0.0.1:$lora_port (DEMO_LORA_PORT)"
    else
        echo "demo: LoRa capture not shown: $gwmp_sim did not start (DEMO_LORA_PORT moves its port)"
    fi
fi
# --- end of the LoRa hook -----------------------------------------------

# The password reaches the exporter through its environment, not argv.
MINER_PASSWORD="admin" "$target/examples/sim-exporter" --sim-sensors 2 \
    --host "127.0.0.1:$dashboard_port" --username admin \
    --bind-address 127.0.0.1 --port "$port" --refresh_interval 5 "${lora_args[@]}" \
    2>"$logs/exporter" &
exporter=$!
pids+=("$exporter")
wait_for_line "$exporter" "$logs/exporter" " listening on " "exporter" || {
    say "is port $port taken? choose a free one with DEMO_PORT"; exit 1; }

# Plain bash HTTP client: no curl needed.
scrape() {
    exec 3<>"/dev/tcp/127.0.0.1/$port" || return 1
    printf 'GET /metrics HTTP/1.0\r\n\r\n' >&3
    sed '1,/^\r$/d' <&3
    exec 3>&-
}

# Ready: the miner read, both sensors, and (with the capture) uplinks counted.
ready() {
    grep -q '^miner_up 1' <<<"$1" && grep -q '^temper_devices 2' <<<"$1" &&
        { [ ${#lora_args[@]} = 0 ] || grep -Eq '^lora_rx_packets_total(\{[^}]*\})? [1-9]' <<<"$1"; }
}

for _ in $(seq 150); do
    # Only this demo's own exporter is scraped: it must still be running.
    kill -0 "$exporter" 2>/dev/null || break
    if body=$(scrape 2>/dev/null) && ready "$body"; then
        echo "----- http://127.0.0.1:$port/metrics -----"
        printf '%s\n' "$body"
        echo "----- the landing page: http://127.0.0.1:$port/ -----"
        if [ "$serve" = 1 ]; then
            echo "----- serving until Ctrl-C; the exporter's log: -----"
            cat "$logs/exporter"
            tail -n 0 -f "$logs/exporter" &
            pids+=($!)
            wait "$exporter" || true
            say "the exporter stopped"
            exit 1
        fi
        exit 0
    fi
    sleep 0.1
done
say "the exporter did not report miner_up 1, two TEMPer sensors (and LoRa uplinks) within 15 s; its log:"
sed 's/^/    /' "$logs/exporter" >&2
exit 1
