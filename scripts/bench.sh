#!/usr/bin/env bash
# Benchmarks of the release exporter fed by the dashboard simulator, all on
# 127.0.0.1; writes BENCHMARKS.md (or the file named by $BENCH_OUT) with the
# exact command behind every figure.
#
#     scripts/bench.sh
#
# Paths in the report are relative to the repository (target/ for cargo's
# target directory), so its commands run from any clone.
#
# Needs wrk, valgrind (callgrind_control), curl, python3. Takes about two
# minutes. The machine's load is recorded with the figures: run it on a quiet
# machine for numbers worth comparing.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
report=${BENCH_OUT:-$root/BENCHMARKS.md}
work=$(mktemp -d /tmp/bench.XXXXXX)
WRK_SECONDS=${WRK_SECONDS:-10}
CALLGRIND_N=${CALLGRIND_N:-1000}
SCRAPES=${SCRAPES:-100000}

echo "bench: building (release)"
(cd "$root" && cargo build --quiet --release --bin linxdot-exporter --example dashboard-sim --example sim-exporter)
bin=$CARGO_TARGET_DIR/release/linxdot-exporter
sim=$CARGO_TARGET_DIR/release/examples/dashboard-sim
# The same exporter with simulated TEMPer sensors in place of USB.
sim_exporter=$CARGO_TARGET_DIR/release/examples/sim-exporter
# A static musl build of the host's architecture, if scripts/build-static.sh made one.
static_bin=$CARGO_TARGET_DIR/$(uname -m)-unknown-linux-musl/release/linxdot-exporter

# A path as the report shows it: relative to the repository, with target/
# for the target directory wherever it is on this machine.
show() {
    local path=$1
    case $path in
        "$CARGO_TARGET_DIR"/*) path=target/${path#"$CARGO_TARGET_DIR"/} ;;
        "$root"/*) path=${path#"$root"/} ;;
    esac
    printf '%s' "$path"
}

pids=()
cleanup() {
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_for() { # file text
    for _ in $(seq 600); do
        grep -q "$2" "$1" 2>/dev/null && return 0
        sleep 0.05
    done
    echo "bench: '$2' never appeared in $1" >&2
    cat "$1" >&2
    exit 1
}

sim_port=$(free_port)
"$sim" --listen "127.0.0.1:$sim_port" >"$work/sim.out" 2>&1 &
pids+=($!)
wait_for "$work/sim.out" 'listening on'

# Scrapes /metrics COUNT times over one keep-alive connection (as Prometheus
# does), checking every answer; prints the seconds taken.
scrape_n() { # url count
    python3 - "$1" "$2" <<'EOF'
import http.client, sys, time, urllib.parse
url = urllib.parse.urlsplit(sys.argv[1])
count = int(sys.argv[2])
conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
started = time.monotonic()
for _ in range(count):
    conn.request("GET", url.path)
    answer = conn.getresponse()
    body = answer.read()
    if answer.status != 200 or not body.endswith(b"\n"):
        sys.exit(f"bad answer: {answer.status}")
    if answer.getheader("Connection", "").lower() == "close":
        conn.close()
print(f"{time.monotonic() - started:.3f}")
EOF
}

exporter_args=(--bind-address 127.0.0.1 --no-temper -o "127.0.0.1:$sim_port" -u admin -p admin -r 60 --timeout 5)
args_text="--bind-address 127.0.0.1 --port PORT --no-temper -o 127.0.0.1:$sim_port -u admin -p admin -r 60 --timeout 5"

# --- start-up to the first answered scrape (5 runs, median) ---------------
startup=$(python3 - "$bin" "${exporter_args[@]}" <<'EOF'
import socket, subprocess, sys, time
def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close(); return port
times = []
for _ in range(5):
    port = free_port()
    started = time.monotonic()
    proc = subprocess.Popen([sys.argv[1], "--port", str(port)] + sys.argv[2:],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as c:
                c.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
                if c.recv(16).startswith(b"HTTP/1.1 200"):
                    break
        except OSError:
            time.sleep(0.0002)
    times.append(time.monotonic() - started)
    proc.kill(); proc.wait()
times.sort()
print(f"{times[2] * 1000:.1f} ms (runs: {', '.join(f'{t * 1000:.1f}' for t in times)})")
EOF
)

# --- the exporter under test ----------------------------------------------
port=$(free_port)
"$bin" --port "$port" "${exporter_args[@]}" 2>"$work/exporter.log" &
exporter_pid=$!
pids+=("$exporter_pid")
wait_for "$work/exporter.log" 'first poll good'
url="http://127.0.0.1:$port/metrics"
sleep 2

memory() { # label
    local status=/proc/$exporter_pid/status rollup=/proc/$exporter_pid/smaps_rollup
    printf '| %s | %s | %s | %s | %s | %s |\n' "$1" \
        "$(awk '/^VmRSS:/ {print $2 " KiB"}' "$status")" \
        "$(awk '/^Rss:/ {print $2 " KiB"}' "$rollup")" \
        "$(awk '/^Private_Dirty:/ {print $2 " KiB"}' "$rollup")" \
        "$(awk '/^Private_Clean:/ {print $2 " KiB"}' "$rollup")" \
        "$(awk '/^Shared_Clean:/ {print $2 " KiB"}' "$rollup")"
}
mem_idle=$(memory "idle: started, first dashboard poll done, no scrape yet")
scrape_n "$url" 1 >/dev/null
sleep 1
mem_one=$(memory "idle after 1 scrape")

# --- throughput and latency -----------------------------------------------
wrk -t1 -c1 -d2s "$url" >/dev/null # warm-up
wrk_1="wrk -t1 -c1 -d${WRK_SECONDS}s --latency $url"
$wrk_1 >"$work/wrk1.txt"
wrk_64="wrk -t2 -c64 -d${WRK_SECONDS}s --latency $url"
$wrk_64 >"$work/wrk64.txt"
wrk_row() { # connections file command
    awk -v c="$1" -v cmd="$3" '
        /Requests\/sec/ { rps = $2 }
        /^ +50%/ { p50 = $2 } /^ +99%/ { p99 = $2 }
        /requests in/ { n = $1 }
        /Non-2xx/ { bad = $NF }
        END { printf "| %s | %s | %s | %s | %s | %s | `%s` |\n", c, rps, p50, p99, n, bad ? bad : 0, cmd }
    ' "$2"
}
row_1=$(wrk_row 1 "$work/wrk1.txt" "$wrk_1")
row_64=$(wrk_row 64 "$work/wrk64.txt" "$wrk_64")

# --- the same with 32 simulated TEMPer sensors (examples/sim-exporter.rs) --
sensors_port=$(free_port)
sensor_args=()
for a in "${exporter_args[@]}"; do [ "$a" = --no-temper ] || sensor_args+=("$a"); done
"$sim_exporter" --sim-sensors 32 --port "$sensors_port" "${sensor_args[@]}" 2>"$work/sensors.log" &
sensors_pid=$!
pids+=("$sensors_pid")
wait_for "$work/sensors.log" 'first poll good'
sensors_url="http://127.0.0.1:$sensors_port/metrics"
for _ in $(seq 100); do
    [ "$(curl -s "$sensors_url" | grep -c '^temper_temperature_celsius{')" -ge 48 ] && break
    sleep 0.1
done
sensor_series=$(curl -s "$sensors_url" | grep -c '^temper_')
wrk -t1 -c1 -d2s "$sensors_url" >/dev/null # warm-up
wrk_1s="wrk -t1 -c1 -d${WRK_SECONDS}s --latency $sensors_url"
$wrk_1s >"$work/wrk1s.txt"
wrk_64s="wrk -t2 -c64 -d${WRK_SECONDS}s --latency $sensors_url"
$wrk_64s >"$work/wrk64s.txt"
row_1s=$(wrk_row "1, 32 sensors" "$work/wrk1s.txt" "$wrk_1s")
row_64s=$(wrk_row "64, 32 sensors" "$work/wrk64s.txt" "$wrk_64s")
kill "$sensors_pid" 2>/dev/null || true

# --- idle memory of the static musl build, if there is one -----------------
if [ -x "$static_bin" ]; then
    static_port=$(free_port)
    "$static_bin" --port "$static_port" "${exporter_args[@]}" 2>"$work/static.log" &
    static_pid=$!
    pids+=("$static_pid")
    wait_for "$work/static.log" 'first poll good'
    sleep 2
    static_row="| static musl build ($(show "$static_bin")), idle | $(awk '/^VmRSS:/ {print $2 " KiB"}' "/proc/$static_pid/status") | $(awk '/^Rss:/ {print $2 " KiB"}' "/proc/$static_pid/smaps_rollup") | $(awk '/^Private_Dirty:/ {print $2 " KiB"}' "/proc/$static_pid/smaps_rollup") | $(awk '/^Private_Clean:/ {print $2 " KiB"}' "/proc/$static_pid/smaps_rollup") | $(awk '/^Shared_Clean:/ {print $2 " KiB"}' "/proc/$static_pid/smaps_rollup") |"
    kill "$static_pid" 2>/dev/null || true
else
    static_row="| static musl build | not built (\`scripts/build-static.sh $(uname -m)-unknown-linux-musl\` makes it) | | | | |"
fi

# --- RSS after 100,000 scrapes --------------------------------------------
scrapes_seconds=$(scrape_n "$url" "$SCRAPES")
sleep 1
mem_after=$(memory "after $SCRAPES more scrapes (keep-alive, one connection, ${scrapes_seconds}s)")
fds_after=$(find "/proc/$exporter_pid/fd" -mindepth 1 -maxdepth 1 | wc -l)

# --- instructions per scrape (callgrind) ----------------------------------
cg_port=$(free_port)
cg_url="http://127.0.0.1:$cg_port/metrics"
cg_cmd="valgrind --tool=callgrind --callgrind-out-file=$work/cg.out.%p $bin --port $cg_port $args_text"
cg_cmd=${cg_cmd/--port PORT /}
# As the report shows it: the profile goes to the current directory.
cg_text="valgrind --tool=callgrind --callgrind-out-file=cg.out.%p $(show "$bin") --port $cg_port $args_text"
cg_text=${cg_text/--port PORT /}
# shellcheck disable=SC2086
$cg_cmd 2>"$work/cg.log" &
cg_pid=$!
pids+=("$cg_pid")
wait_for "$work/cg.log" 'first poll good'
scrape_n "$cg_url" 20 >/dev/null # warm: every code path once
ir_of_dump() { # the Ir total of the newest dump
    local f
    f=$(find "$work" -name "cg.out.$cg_pid.*" -newer "$work/cg.mark" | sort | tail -1)
    awk '/^(summary|totals):/ {print $2; exit}' "$f"
}
callgrind_control --zero "$cg_pid" >/dev/null
touch "$work/cg.mark"
sleep 0.2
idle_seconds=5
sleep "$idle_seconds"
callgrind_control --dump=idle "$cg_pid" >/dev/null
ir_idle=$(ir_of_dump)
touch "$work/cg.mark"
sleep 0.2
t1=$(scrape_n "$cg_url" "$CALLGRIND_N")
callgrind_control --dump=first "$cg_pid" >/dev/null
ir_n=$(ir_of_dump)
touch "$work/cg.mark"
sleep 0.2
t2=$(scrape_n "$cg_url" "$CALLGRIND_N")
callgrind_control --dump=second "$cg_pid" >/dev/null
ir_2n=$(ir_of_dump)
cg_figures=$(python3 - "$ir_idle" "$idle_seconds" "$ir_n" "$t1" "$ir_2n" "$t2" "$CALLGRIND_N" <<'EOF'
import sys
ir_idle, idle_s, ir_n, t1, ir_2n, t2, n = sys.argv[1:]
ir_idle, idle_s, ir_n, t1, ir_2n, t2, n = int(ir_idle), float(idle_s), int(ir_n), float(t1), int(ir_2n), float(t2), int(n)
rate = ir_idle / idle_s
print(f"| scrapes 1..N (N = {n}, {t1:.1f} s under valgrind) | {ir_n:,} | {ir_n / n:,.0f} | {(ir_n - rate * t1) / n:,.0f} |")
print(f"| scrapes N+1..2N ({t2:.1f} s) | {ir_2n:,} | {ir_2n / n:,.0f} | {(ir_2n - rate * t2) / n:,.0f} |")
print(f"| idle, {idle_s:.0f} s, no scrape | {ir_idle:,} | {rate:,.0f} per second | |")
EOF
)

# --- sizes and context ----------------------------------------------------
size_of() { if [ -f "$1" ]; then stat -c '%s bytes' "$1"; else echo "not built"; fi; }
host_size=$(size_of "$bin")
aarch64=not-built
for candidate in "$root/target/aarch64-unknown-linux-musl/release/linxdot-exporter" \
    "$CARGO_TARGET_DIR/aarch64-unknown-linux-musl/release/linxdot-exporter"; do
    if [ -f "$candidate" ]; then aarch64=$candidate; fi
done
if [ "$aarch64" = not-built ]; then
    aarch64_row="| static aarch64 musl binary | not built (neither target/ nor \$CARGO_TARGET_DIR has aarch64-unknown-linux-musl/release/linxdot-exporter) | |"
else
    aarch64_row="| static aarch64 musl binary | $(size_of "$aarch64") | \`stat -c %s $(show "$aarch64")\` |"
fi
commit=$(cd "$root" && git rev-parse --short HEAD)$(cd "$root" && git diff --quiet HEAD -- src Cargo.toml || echo "+changes")
linkage=$(file -b "$bin" | cut -d, -f1-5)

cat >"$report" <<EOF
# Benchmarks

Written by \`scripts/bench.sh\` on $(date -u +%Y-%m-%d) at commit $commit. Host: $(nproc) cores,
$(uname -m), load average at the end $(cut -d' ' -f1-3 /proc/loadavg) (a shared machine: other
builds were running; rerun on a quiet one before comparing). All traffic on 127.0.0.1. The
exporter is the host release build (\`cargo build --release\`: opt-level z, LTO, panic=abort;
$linkage), polling the dashboard simulator
(\`$(show "$sim") --listen 127.0.0.1:$sim_port\`, healthy, 0 simulated sensors) with

    $(show "$bin") $args_text

## Scrape throughput and latency

| connections | requests/s | p50 | p99 | requests | non-2xx | command |
|---|---|---|---|---|---|---|
$row_1
$row_64
$row_1s
$row_64s

The "32 sensors" rows scrape \`$(show "$sim_exporter") --sim-sensors 32\` (the same collectors, routes and
server over a simulated USB bus; TEMPer2 and TEMPerHUM models in turn): $sensor_series \`temper_\`
lines per scrape.

Target: p99 ≤ 0.5 ms at 1 connection. wrk keeps its connections alive; at 64 connections the
server closes a connection after each answer while others wait for a worker (by design), so
that row includes a new TCP connection per request.

## Memory

VmRSS is from /proc/PID/status; the other columns from /proc/PID/smaps_rollup. On this glibc,
dynamically linked host build, Rss includes the pages of libc, libgcc_s and the loader that the
process maps but shares with every other process (Shared_Clean) and the binary's own text
(Private_Clean, file-backed, reclaimable). **Private_Dirty is the exporter's own memory**:
heap, thread stacks, data. Target: idle RSS ≤ 1.5 MiB.

| state | VmRSS | Rss | Private_Dirty | Private_Clean | Shared_Clean |
|---|---|---|---|---|---|
$mem_idle
$mem_one
$mem_after
$static_row

The static musl build is what runs on the miner: no shared libraries, so its VmRSS is all its own.

The $SCRAPES scrapes: \`scrape_n $url $SCRAPES\` (python http.client, one keep-alive
connection, every answer checked; see scripts/bench.sh). Open descriptors afterwards: $fds_after.

## CPU instructions per scrape (callgrind)

    $cg_text

Method: the exporter runs under callgrind with collection on from the start; after the first
dashboard poll and 20 warm-up scrapes, \`callgrind_control --zero\` resets the counters, then
\`callgrind_control --dump\` closes three intervals: 5 s idle, N scrapes, N more scrapes (each
dump resets the counters, so the third is the difference between 2N and N). Ir is instructions
executed by all threads, the watchdog's 50 ms ticks and the acceptor included; the last column
subtracts the idle rate for the interval's length (valgrind serialises threads and runs ~50×
slower, so the ticks weigh more than on real time). \`--toggle-collect\` on the render function
is not used because the release profile strips symbols.

| interval | Ir | Ir per scrape | Ir per scrape, idle ticks removed |
|---|---|---|---|
$cg_figures

## Start-up

| figure | value | command |
|---|---|---|
| start-up to the first answered scrape (median of 5) | $startup | python: spawn \`$(show "$bin") $args_text\`, then connect and \`GET /metrics\` every 0.2 ms until a 200 (scripts/bench.sh) |

## Binary size

| binary | size | command |
|---|---|---|
| host release ($(uname -m), glibc, dynamic) | $host_size | \`stat -c %s $(show "$bin")\` |
$aarch64_row
EOF
echo "bench: wrote $report"
cat "$report"
