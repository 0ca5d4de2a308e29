#!/usr/bin/env bash
# The LoRa radio part of the operator kit, proven in a real stack: four
# simulated hotspots (exporters capturing GWMP on lo from examples/gwmp-sim
# forwarders and gateways), a real Prometheus with the shipped rules and a
# real VictoriaMetrics (scripts/stack_lora_test.py says what is asserted).
# promtool's unit tests of rules/lora-alerts.yml and vmalert -dryRun run in
# scripts/ci-stack.sh with every other rule file. Needs root (CAP_NET_RAW);
# without it: skipped, or failed under CI=true.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/checks-lib.sh
source scripts/checks-lib.sh

if ! python3 -c 'import socket; socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, 0).close()' 2>/dev/null; then
    if [ "${CI:-}" = true ]; then
        echo "ci-stack-lora: no CAP_NET_RAW (run as root); required under CI=true"; exit 1
    fi
    echo "SKIPPED ci-stack-lora: no CAP_NET_RAW (run as root)"; exit 0
fi
bash scripts/install-debs.sh prometheus victoria-metrics python3-yaml

phase "build the exporter and the simulators"
cargo build --quiet --bin linxdot-exporter --example dashboard-sim --example gwmp-sim
target_dir=$(cargo_target_dir)

phase "four hotspots, Prometheus and VictoriaMetrics (scripts/stack_lora_test.py)"
check "LoRa dashboard row and alerts on Prometheus and VictoriaMetrics" \
    /usr/bin/python3 scripts/stack_lora_test.py \
    --exporter "$target_dir/debug/linxdot-exporter" \
    --dashboard-sim "$target_dir/debug/examples/dashboard-sim" \
    --gwmp-sim "$target_dir/debug/examples/gwmp-sim"
finish
