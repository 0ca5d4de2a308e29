#!/usr/bin/env bash
# Figures for /probe (issue 13): builds the release binary and the
# probe-figures example, then runs it: MINERS simulated dashboards plus one
# that hangs, ROUNDS rounds of probing them all at once, then 1,000 distinct
# targets (closed ports on 127.0.x.y). Prints success counts, the healthy
# probes' latency p50/p99/max while one miner hangs, and the exporter's RSS.
#
# usage: scripts/probe-figures.sh [MINERS] [ROUNDS]   (default 50 20)
# Loopback only; takes about ROUNDS x 2.5 s.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --release --bin linxdot-exporter --example probe-figures
target_dir="${CARGO_TARGET_DIR:-target}"
"$target_dir/release/examples/probe-figures" "$target_dir/release/linxdot-exporter" "${1:-50}" "${2:-20}"
