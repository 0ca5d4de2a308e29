#!/usr/bin/env bash
# Benchmarks of the LoRa capture (figures, not pass/fail; run as root):
#   1. idle wake-ups/s of the exporter capturing GWMP on lo: with no traffic,
#      and with 5,000 datagrams/s flowing to another UDP port of lo (the BPF
#      filter must keep those from waking it: <= 0.5/s);
#   2. CPU time per captured GWMP datagram (PUSH_DATA with one rxpk, 5,000/s
#      for 10 s), and wake-ups per datagram (how well reads are batched);
#   3. a flood of 20,000 GWMP datagrams/s for 10 s: peak RSS (<= 2 MiB), scrape
#      p50/p99 during it beside the same without it, and whether
#      lora_capture_dropped_total accounts for every datagram not counted
#      (also with the exporter stopped by SIGSTOP for 1.5 s of a 3 s flood);
#   4. the size of the static aarch64 binary (scripts/build-static.sh).
#
#     scripts/bench-lora.sh [FLOOD_SECONDS]      # default 10
#
# Measures the static musl build of this machine's architecture (as
# scripts/bench.sh does), or the host release build when that fails. Prints
# a Markdown block for docs/lora.md ("Benchmarks").
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# shellcheck source=scripts/checks-lib.sh
source scripts/checks-lib.sh
flood_seconds=${1:-10}
if ! python3 -c 'import socket; socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, 0).close()' 2>/dev/null; then
    echo "bench-lora: needs CAP_NET_RAW (run as root)" >&2
    exit 1
fi
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
musl=$(uname -m)-unknown-linux-musl

phase "build (release, and the static $musl and aarch64 builds)"
cargo build --quiet --release --bin linxdot-exporter --example gwmp-sim
sim=$CARGO_TARGET_DIR/release/examples/gwmp-sim
bin=$CARGO_TARGET_DIR/$musl/release/linxdot-exporter
build_note="static $musl build"
if ! scripts/build-static.sh "$musl" >"$work/static-host.log" 2>&1; then
    bin=$CARGO_TARGET_DIR/release/linxdot-exporter
    build_note="host release build (the static build failed)"
fi
aarch64_size="(scripts/build-static.sh failed)"
if scripts/build-static.sh aarch64-unknown-linux-musl >"$work/static-aarch64.log" 2>&1; then
    aarch64_size=$(stat -c %s "$CARGO_TARGET_DIR/aarch64-unknown-linux-musl/release/linxdot-exporter")
fi

port=$(free_port)
gwmp_port=$(free_port)
noise_port=$(free_port)
"$bin" --bind-address 127.0.0.1 --port "$port" --no-temper --lora-port "$gwmp_port" 2>"$work/exporter.log" &
pid=$!
pids+=("$pid")
scrape() { curl -fsS "http://127.0.0.1:$port/metrics"; }
value() { scrape | awk -v s="$1" '$1 == s { print $2 }'; }
wait_for 10 sh -c "curl -fsS http://127.0.0.1:$port/metrics | grep -qx 'lora_capture_up 1.0'"
# What listens on the two ports (a UDP socket that never reads: like any
# server, it is not where the capture gets its copies).
python3 -c "
import socket, time
socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2)]
socks[0].bind(('127.0.0.1', $gwmp_port)); socks[1].bind(('127.0.0.1', $noise_port))
time.sleep(3600)" &
pids+=("$!")
cpu_ns() { cat /proc/"$pid"/task/*/schedstat | awk '{ s += $1 } END { print s }'; }
counted() { scrape | awk '/^lora_gwmp_datagrams_total|^lora_gwmp_invalid_datagrams_total/ { s += $2 } END { print s }'; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$pid/status"; }
# mark: notes the datagrams counted and dropped so far; since_mark prints
# how many of each came since: "COUNTED DROPPED".
mark() { before_count=$(counted); before_dropped=$(value lora_capture_dropped_total); }
since_mark() {
    echo "$(( $(counted) - before_count )) $(awk -v a="$(value lora_capture_dropped_total)" -v b="$before_dropped" 'BEGIN { printf "%d", a - b }')"
}

phase "1. wake-ups: idle, then 5,000 datagrams/s on another UDP port of lo"
idle=$(scripts/wakeups.sh "$pid" 10 | awk '/^wakeups/ {print $4}')
"$sim" noise --server "127.0.0.1:$noise_port" --rate 5000 --seconds 12 >"$work/noise.out" &
noise_pid=$!
sleep 1
noisy=$(scripts/wakeups.sh "$pid" 10 | awk '/^wakeups/ {print $4}')
wait "$noise_pid"
noise_sent=$(awk '{print $4}' "$work/noise.out")
noise_counted=$(counted)
echo "idle $idle/s; with noise $noisy/s ($noise_sent datagrams sent to port $noise_port; counted by the exporter: $noise_counted)"

phase "2. CPU time per captured datagram (5,000 GWMP datagrams/s for 10 s)"
before_cpu=$(cpu_ns)
mark
"$sim" flood --server "127.0.0.1:$gwmp_port" --rate 5000 --seconds 10 >"$work/steady.out" &
steady_pid=$!
steady_wakeups=$(scripts/wakeups.sh "$pid" 10 | awk '/^wakeups/ {print $2}')
wait "$steady_pid"
sleep 0.5
steady_sent=$(awk '{print $4}' "$work/steady.out")
read -r steady_counted steady_dropped < <(since_mark)
steady_cpu=$(( $(cpu_ns) - before_cpu ))
per_datagram_us=$(awk -v c="$steady_cpu" -v n="$steady_counted" 'BEGIN { printf "%.2f", c / n / 1000 }')
wakeups_per_datagram=$(awk -v w="$steady_wakeups" -v n="$steady_counted" 'BEGIN { printf "%.3f", w / n }')
echo "sent $steady_sent, counted $steady_counted, dropped $steady_dropped; CPU ${per_datagram_us} µs per datagram; $wakeups_per_datagram wake-ups per datagram"

phase "3. flood: 20,000 GWMP datagrams/s for ${flood_seconds}s"
timing() {
    python3 - "$port" "$1" <<'PY'
import socket, sys, time
port, seconds = int(sys.argv[1]), float(sys.argv[2])
lat, end = [], time.time() + seconds
while time.time() < end:
    t = time.perf_counter()
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n")
    data = b""
    while chunk := s.recv(65536):
        data += chunk
    s.close()
    lat.append(time.perf_counter() - t)
    assert data.startswith(b"HTTP/1.1 200") and b"lora_capture_up 1.0" in data, data[:200]
    time.sleep(0.02)
lat.sort()
print(f"{len(lat)} {1000 * lat[len(lat) // 2]:.3f} {1000 * lat[int(len(lat) * 0.99)]:.3f}")
PY
}
read -r quiet_n quiet_p50 quiet_p99 < <(timing 5)
mark
rss_before=$(rss_kib)
"$sim" flood --server "127.0.0.1:$gwmp_port" --rate 20000 --seconds "$flood_seconds" >"$work/flood.out" &
flood_pid=$!
rss_peak=$rss_before
( while kill -0 "$flood_pid" 2>/dev/null; do rss_kib; sleep 0.2; done ) >"$work/rss" &
rss_sampler=$!
read -r flood_n flood_p50 flood_p99 < <(timing "$flood_seconds")
wait "$flood_pid"
wait "$rss_sampler" || true
rss_peak=$(sort -n "$work/rss" | tail -1)
sleep 0.5
flood_sent=$(awk '{print $4}' "$work/flood.out")
read -r flood_counted flood_dropped < <(since_mark)
unaccounted=$(( flood_sent - flood_counted - flood_dropped ))
echo "sent $flood_sent; counted $flood_counted; dropped (lora_capture_dropped_total) $flood_dropped; unaccounted $unaccounted"
echo "RSS $rss_before KiB before, peak $rss_peak KiB; scrapes p50/p99 quiet $quiet_p50/$quiet_p99 ms ($quiet_n), flood $flood_p50/$flood_p99 ms ($flood_n)"
hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status")

phase "3b. the same flood for 3 s while the exporter is stopped (SIGSTOP) for 1.5 s of it"
mark
"$sim" flood --server "127.0.0.1:$gwmp_port" --rate 20000 --seconds 3 >"$work/stall.out" &
stall_pid=$!
sleep 0.5
kill -STOP "$pid"
sleep 1.5
kill -CONT "$pid"
wait "$stall_pid"
sleep 0.5
stall_sent=$(awk '{print $4}' "$work/stall.out")
read -r stall_counted stall_dropped < <(since_mark)
stall_unaccounted=$(( stall_sent - stall_counted - stall_dropped ))
echo "sent $stall_sent; counted $stall_counted; dropped $stall_dropped; unaccounted $stall_unaccounted"

cat <<MD

### Figures ($(date -u +%Y-%m-%d), $(nproc) cores, $build_note, one run)

| figure | value |
|---|---|
| idle wake-ups/s, no traffic | $idle |
| idle wake-ups/s, 5,000 datagrams/s to another UDP port of lo | $noisy (limit 0.5; those datagrams counted: $noise_counted) |
| CPU time per captured GWMP datagram (5,000/s, 10 s: $steady_sent sent, $steady_counted counted, $steady_dropped dropped) | $per_datagram_us µs |
| wake-ups per captured datagram at 5,000/s | $wakeups_per_datagram |
| flood 20,000/s for ${flood_seconds} s: sent / counted / dropped (lora_capture_dropped_total) / unaccounted | $flood_sent / $flood_counted / $flood_dropped / $unaccounted |
| the same for 3 s with the exporter stopped 1.5 s: sent / counted / dropped / unaccounted | $stall_sent / $stall_counted / $stall_dropped / $stall_unaccounted |
| RSS before / peak during the flood / high-water mark (KiB) | $rss_before / $rss_peak / $hwm (limit 2048) |
| scrape p50 / p99 without flood ($quiet_n scrapes) | $quiet_p50 / $quiet_p99 ms |
| scrape p50 / p99 during the flood ($flood_n scrapes) | $flood_p50 / $flood_p99 ms |
| static aarch64 binary (scripts/build-static.sh) | $aarch64_size bytes (limit 524288) |
MD
exit 0
