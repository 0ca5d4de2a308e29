#!/usr/bin/env bash
# Runs the exporter against the bundled dashboard simulator and prints one
# real scrape: no miner needed.
#
#   scripts/demo.sh            # one scrape, then stop
#   scripts/demo.sh --serve    # keep both running until Ctrl-C
#
# Ports: DEMO_DASHBOARD_PORT (default 18080), DEMO_PORT (default 18061).
set -euo pipefail
cd "$(dirname "$0")/.."

dashboard_port=${DEMO_DASHBOARD_PORT:-18080}
port=${DEMO_PORT:-18061}
serve=0
[ "${1:-}" = "--serve" ] && serve=1

cargo build --quiet --release --bin linxdot-exporter --example dashboard-sim
target=${CARGO_TARGET_DIR:-target}

pids=()
# shellcheck disable=SC2317  # called through the trap
cleanup() { [ ${#pids[@]} -gt 0 ] && kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

"$target/release/examples/dashboard-sim" --listen "127.0.0.1:$dashboard_port" >/dev/null &
pids+=($!)
# The password reaches the exporter through its environment, not argv.
MINER_PASSWORD="admin" "$target/release/linxdot-exporter" \
    --host "127.0.0.1:$dashboard_port" --username admin \
    --bind-address 127.0.0.1 --port "$port" --no-temper --refresh_interval 5 &
pids+=($!)

# Plain bash HTTP client: no curl needed.
scrape() {
    exec 3<>"/dev/tcp/127.0.0.1/$port" || return 1
    printf 'GET /metrics HTTP/1.0\r\n\r\n' >&3
    sed '1,/^\r$/d' <&3
    exec 3>&-
}

for _ in $(seq 100); do
    if body=$(scrape 2>/dev/null) && grep -q '^miner_up 1' <<<"$body"; then
        echo "----- http://127.0.0.1:$port/metrics -----"
        printf '%s\n' "$body"
        if [ "$serve" = 1 ]; then
            echo "----- serving on http://127.0.0.1:$port/metrics; Ctrl-C to stop -----"
            wait
        fi
        exit 0
    fi
    sleep 0.1
done
echo "demo: the exporter did not report miner_up 1 within 10 s" >&2
exit 1
