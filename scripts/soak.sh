#!/usr/bin/env bash
# Soak test: the release exporter scraped flat out for MINUTES while its
# simulated dashboard flaps, with its memory and descriptors watched.
#
#     scripts/soak.sh [MINUTES]        (default 10)
#
# What it does, all on 127.0.0.1:
#   - builds the release binary and the dashboard simulator (examples/dashboard-sim.rs);
#   - starts the simulator and the exporter (-r 0.5 --timeout 1, USB off);
#   - scrapes /metrics with wrk (1 thread, 4 connections) for the whole run;
#   - every FLAP_SECONDS kills the simulator and starts it again on the
#     same port in the next mode of MODES (a fault mode of the simulator, or
#     "down": no simulator at all, so connections are refused). By default
#     the warm-up meets every mode once: FLAP_SECONDS is the warm-up divided
#     by the number of modes (7 s for 10 minutes), within 3..20 s;
#   - every SAMPLE_SECONDS (default 5) records the exporter's VmRSS,
#     Private_Dirty (smaps_rollup), open descriptors and miner_up.
#
# It FAILS (exit 1) if:
#   - the exporter dies, or wrk saw a timeout or a non-2xx answer;
#   - RSS grows: warm-up is the first 25% of the run; the largest VmRSS
#     sampled after it may exceed the largest sampled during it by at most
#     RSS_SLACK_KIB (default 64 KiB);
#   - descriptors grow: at rest (no load, healthy dashboard, 3 s after the
#     last poll) the count after the run must EQUAL the count before it; and
#     the largest count sampled under load after warm-up may exceed the
#     largest during warm-up by at most FD_SLACK (default 2: one scrape's
#     /proc file and one dashboard connection in flight at the sampling
#     instant);
#   - miner_up was never seen both 1 and 0 (the flapping did not reach it);
#   - temper_devices never changed (the sensors did not come and go).
#
# Samples go to $SOAK_OUT/samples.csv (default: a temporary directory that is
# kept and printed at the end), with the logs and wrk's report.
#
# USB sensors: the exporter under soak is examples/sim-exporter.rs, the same
# collectors, routes and server as the binary over a simulated USB bus:
# SOAK_SENSORS (default 8) TEMPer devices, one of them unplugged and plugged
# back every SOAK_SENSOR_FLAP_MS (default 1000) ms, round robin, all along.
set -euo pipefail

minutes=${1:-10}
case $minutes in
    '' | *[!0-9]*) echo "usage: $0 [MINUTES]" >&2; exit 2 ;;
esac
[ "$minutes" -ge 1 ] || { echo "soak: at least 1 minute" >&2; exit 2; }
total=$((minutes * 60))
warmup=$((total / 4))
SAMPLE_SECONDS=${SAMPLE_SECONDS:-5}
RSS_SLACK_KIB=${RSS_SLACK_KIB:-64}
FD_SLACK=${FD_SLACK:-2}
# The first flap (well inside the warm-up) is the 64 MiB body: reading up to
# the 1 MiB body cap sets the allocator's high-water mark once (glibc keeps
# the freed pages for reuse; ~1 MiB, the same after 100 such bodies). That
# is a bound, not growth, and the warm-up is there to reach it.
MODES=${MODES:-"none huge-body-unannounced none server-error hang none down none drip login-redirect none deep-nesting expire-every-request not-json none huge-body missing-keys none login-redirect-with-cookie"}
# By default the warm-up goes through every mode once (each allocation
# pattern reaches its high-water mark there), at most 20 s per mode, at
# least 3 s.
read -r -a modes <<<"$MODES"
flap_default=$((warmup / ${#modes[@]}))
[ "$flap_default" -le 20 ] || flap_default=20
[ "$flap_default" -ge 3 ] || flap_default=3
FLAP_SECONDS=${FLAP_SECONDS:-$flap_default}

root=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
out=${SOAK_OUT:-$(mktemp -d /tmp/soak.XXXXXX)}
mkdir -p "$out"

echo "soak: building (release)"
(cd "$root" && cargo build --quiet --release --example sim-exporter --example dashboard-sim)
bin=$CARGO_TARGET_DIR/release/examples/sim-exporter
sim=$CARGO_TARGET_DIR/release/examples/dashboard-sim

# The simulator's port is released at every flap (and for a whole flap in
# mode "down"): take it below the ephemeral range, so that no other program
# on this machine is handed it meanwhile by a bind to port 0.
free_port() {
    python3 -c '
import random, socket
low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
for _ in range(100):
    port = random.randrange(max(1024, low - 10000), low)
    try:
        socket.socket().bind(("127.0.0.1", port))
        print(port)
        break
    except OSError:
        pass
'
}

sim_pid='' exporter_pid='' wrk_pid=''
cleanup() {
    for pid in $wrk_pid $sim_pid $exporter_pid; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
}
trap cleanup EXIT

sim_port=$(free_port)
start_sim() {
    sim_pid=''
    [ "$1" = down ] && return 0
    : >"$out/sim.out"
    "$sim" --listen "127.0.0.1:$sim_port" --fault "$1" >"$out/sim.out" 2>&1 &
    sim_pid=$!
    for _ in $(seq 200); do
        grep -q 'listening on' "$out/sim.out" && return 0
        sleep 0.05
    done
    echo "soak: the simulator did not start in mode $1" >&2
    cat "$out/sim.out" >&2
    exit 1
}
stop_sim() {
    if [ -n "$sim_pid" ]; then
        kill "$sim_pid" 2>/dev/null || true
        wait "$sim_pid" 2>/dev/null || true
        sim_pid=''
    fi
}

start_sim none
"$bin" --sim-sensors "${SOAK_SENSORS:-8}" --sim-flap-ms "${SOAK_SENSOR_FLAP_MS:-1000}" \
    --bind-address 127.0.0.1 --port 0 -o "127.0.0.1:$sim_port" \
    -u admin -p admin -r 0.5 --timeout 1 2>"$out/exporter.log" &
exporter_pid=$!
addr=''
for _ in $(seq 200); do
    addr=$(sed -n 's/.* listening on \([^ ]*\) .*/\1/p' "$out/exporter.log" | head -1)
    [ -n "$addr" ] && break
    sleep 0.05
done
[ -n "$addr" ] || { echo "soak: the exporter did not start" >&2; cat "$out/exporter.log" >&2; exit 1; }
url="http://$addr/metrics"

alive() { kill -0 "$exporter_pid" 2>/dev/null; }
miner_up() { curl -s --max-time 2 "$url" | sed -n 's/^miner_up \(.*\)$/\1/p'; }
temper_devices() { curl -s --max-time 2 "$url" | sed -n 's/^temper_devices \(.*\)$/\1/p'; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$exporter_pid/status"; }
dirty_kib() { awk '/^Private_Dirty:/ {print $2}' "/proc/$exporter_pid/smaps_rollup"; }
fds() { find "/proc/$exporter_pid/fd" -mindepth 1 -maxdepth 1 | wc -l; }

# At rest, before the load: healthy, a few polls done, nothing in flight.
wait_up() {
    for _ in $(seq 100); do
        [ "$(miner_up)" = "1.0" ] && return 0
        sleep 0.1
    done
    echo "soak: miner_up never became 1" >&2
    exit 1
}
wait_up
sleep 3
fds_rest_before=$(fds)
rss_rest_before=$(rss_kib)

echo "soak: $minutes min against $url, simulator on 127.0.0.1:$sim_port, warm-up ${warmup}s; output in $out"
wrk -t1 -c4 -d"${total}s" --timeout 2s --latency "$url" >"$out/wrk.txt" 2>&1 &
wrk_pid=$!

echo "t,rss_kib,private_dirty_kib,fds,miner_up,mode,temper_devices" >"$out/samples.csv"
flap=0 mode=none
start=$SECONDS
next_sample=0 next_flap=$FLAP_SECONDS
while :; do
    t=$((SECONDS - start))
    [ "$t" -ge "$total" ] && break
    alive || { echo "soak: the exporter died at ${t}s" >&2; tail -20 "$out/exporter.log" >&2; exit 1; }
    if [ "$t" -ge "$next_flap" ]; then
        flap=$((flap + 1))
        mode=${modes[$((flap % ${#modes[@]}))]}
        stop_sim
        start_sim "$mode"
        next_flap=$((next_flap + FLAP_SECONDS))
    fi
    if [ "$t" -ge "$next_sample" ]; then
        echo "$t,$(rss_kib),$(dirty_kib),$(fds),$(miner_up),$mode,$(temper_devices)" >>"$out/samples.csv"
        next_sample=$((next_sample + SAMPLE_SECONDS))
    fi
    sleep 0.5
done
wait "$wrk_pid" || true
wrk_pid=''
alive || { echo "soak: the exporter died" >&2; exit 1; }

# At rest again: healthy dashboard, the last hung or dripping request long over.
stop_sim
start_sim none
wait_up
sleep 3
fds_rest_after=$(fds)
rss_rest_after=$(rss_kib)

verdict=$(awk -F, -v warm="$warmup" -v rss_slack="$RSS_SLACK_KIB" -v fd_slack="$FD_SLACK" '
    NR == 1 { next }
    $1 < warm { if ($2 > rw) rw = $2; if ($4 > fw) fw = $4; nw++ }
    $1 >= warm { if ($2 > ra) ra = $2; if ($4 > fa) fa = $4; na++ }
    $5 == "1.0" { up1++ } $5 == "0.0" { up0++ }
    $7 != "" { d = $7 + 0; if (nd == 0 || d < dmin) dmin = d; if (d > dmax) dmax = d; nd++ }
    END {
        bad = 0
        printf "samples: %d in warm-up, %d after; miner_up 1 in %d, 0 in %d\n", nw, na, up1, up0
        printf "VmRSS max: warm-up %d KiB, after %d KiB (allowed %d)\n", rw, ra, rw + rss_slack
        printf "open fds max under load: warm-up %d, after %d (allowed %d)\n", fw, fa, fw + fd_slack
        if (ra > rw + rss_slack) { print "FAIL: RSS grew after warm-up"; bad = 1 }
        if (fa > fw + fd_slack) { print "FAIL: descriptors grew after warm-up"; bad = 1 }
        if (up1 == 0 || up0 == 0) { print "FAIL: miner_up did not flap"; bad = 1 }
        printf "temper_devices seen from %d to %d\n", dmin, dmax
        if (dmax == 0 || dmin == dmax) { print "FAIL: the simulated sensors did not come and go"; bad = 1 }
        exit bad
    }' "$out/samples.csv") && ok=1 || ok=0

requests=$(awk '/requests in/ {print $1}' "$out/wrk.txt")
non2xx=$(awk '/Non-2xx/ {print $NF}' "$out/wrk.txt")
timeouts=$(sed -n 's/.*timeout \([0-9]*\).*/\1/p' "$out/wrk.txt")
socket_errors=$(grep 'Socket errors' "$out/wrk.txt" || echo "Socket errors: none")

echo "== soak: $minutes min, $flap flaps ($FLAP_SECONDS s each) through: $MODES"
echo "$verdict"
echo "open fds at rest: before $fds_rest_before, after $fds_rest_after"
echo "VmRSS at rest: before $rss_rest_before KiB, after $rss_rest_after KiB"
echo "scrapes: ${requests:-?} by wrk; non-2xx: ${non2xx:-0}; $socket_errors"
grep -A4 'Latency Distribution' "$out/wrk.txt" || true
echo "log lines: $(wc -l <"$out/exporter.log") (ERROR $(grep -c ' ERROR ' "$out/exporter.log" || true), WARN $(grep -c ' WARN ' "$out/exporter.log" || true))"
echo "samples: $out/samples.csv"

[ "$fds_rest_after" -eq "$fds_rest_before" ] || { echo "FAIL: open fds at rest went from $fds_rest_before to $fds_rest_after"; ok=0; }
[ "${non2xx:-0}" -eq 0 ] || { echo "FAIL: $non2xx scrapes were not 2xx"; ok=0; }
[ "${timeouts:-0}" -eq 0 ] || { echo "FAIL: $timeouts scrapes timed out (2 s)"; ok=0; }
if [ "$ok" -ne 1 ]; then
    echo "soak: FAIL"
    exit 1
fi
echo "soak: PASS"
