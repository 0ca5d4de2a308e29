#!/usr/bin/env bash
# Side-by-side benchmark, in one run on one machine, all on 127.0.0.1:
#   - this exporter: the static musl build of the host's architecture
#     (scripts/build-static.sh), polling the dashboard simulator;
#   - the reference server (examples/reference-server.rs): the same body,
#     pre-rendered, thread per connection, nothing else, built the same way
#     (static musl, the same profile, in the same cargo invocation);
#   - the upstream Python exporter (python3 -m linxdot_exporter) when it is
#     installed, else its stand-in (scripts/upstream-standin.py: the same
#     families served by prometheus_client, as the upstream serves them).
# Writes BENCHMARKS.md (or $BENCH_OUT): ratios first, then the figures and
# the command behind each, paths relative to the repository (target/ for
# cargo's target directory).
#
#     scripts/bench.sh
#
# Figures: scrapes/s at 1, 4, 16 and 64 connections (wrk -t1), p50/p99,
# unpinned and pinned (wrk on CPU 0, the server started on CPU 1, at 4 and
# 64 connections), every server in turn in each round; idle wake-ups/s
# (scripts/wakeups.sh), RSS, and per keep-alive scrape: system calls
# (strace -f, by thread), allocations and instructions (callgrind, on a build with
# symbols), binary sizes. Needs wrk, valgrind, strace, taskset, curl,
# python3; takes about ten minutes (two static builds). The load average is
# recorded with the figures: on a shared machine only the ratios of one run
# mean something.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
report=${BENCH_OUT:-$root/BENCHMARKS.md}
work=$(mktemp -d /tmp/bench.XXXXXX)
WRK_SECONDS=${WRK_SECONDS:-5}
ROUNDS=${ROUNDS:-3}
IDLE_SECONDS=${IDLE_SECONDS:-10}
CALLGRIND_N=${CALLGRIND_N:-1000}
CONNECTIONS=${CONNECTIONS:-"1 4 16 64"}
PINNED_CONNECTIONS=${PINNED_CONNECTIONS:-"4 64"}
STRACE_N=${STRACE_N:-2000}
musl=$(uname -m)-unknown-linux-musl

for tool in wrk valgrind strace taskset curl python3; do
    command -v "$tool" >/dev/null || { echo "bench: $tool is missing" >&2; exit 1; }
done

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

echo "bench: building (release, and the static $musl build of the exporter and the reference)"
(cd "$root" && cargo build --quiet --release --bin linxdot-exporter \
    --example dashboard-sim --example reference-server)
sim=$CARGO_TARGET_DIR/release/examples/dashboard-sim
# The exporter alone, as it ships; then the reference with the same script
# (an example brings the dev-dependencies, which must not touch the binary).
build_both() { # log
    "$root/scripts/build-static.sh" --install "$musl" >"$1" 2>&1 &&
        LXE_BUILD_TARGETS="--example reference-server" "$root/scripts/build-static.sh" --install "$musl" >>"$1" 2>&1
}
static_dir=$CARGO_TARGET_DIR/$musl/release
bin=$static_dir/linxdot-exporter
reference=$static_dir/examples/reference-server
build_note="static musl (\`scripts/build-static.sh $musl\`, and \`LXE_BUILD_TARGETS='--example reference-server'\` for the reference: the release profile, std rebuilt for size, zig's musl)"
if ! build_both "$work/build-static.log"; then
    echo "bench: scripts/build-static.sh $musl failed; measuring the host release builds" >&2
    tail -5 "$work/build-static.log" >&2
    bin=$CARGO_TARGET_DIR/release/linxdot-exporter
    reference=$CARGO_TARGET_DIR/release/examples/reference-server
    build_note="the host release build (\`cargo build --release\`; the static build failed)"
fi
# The same build with its symbols (strip = false; the code is the same),
# for callgrind to name the allocator's functions.
symbols_dir=$CARGO_TARGET_DIR/bench-symbols
sym_bin=$symbols_dir/$musl/release/linxdot-exporter
sym_reference=$symbols_dir/$musl/release/examples/reference-server
echo "bench: building the same with symbols, for callgrind"
if ! CARGO_TARGET_DIR=$symbols_dir CARGO_PROFILE_RELEASE_STRIP=false build_both "$work/build-symbols.log"; then
    echo "bench: the build with symbols failed; callgrind runs the stripped one (no allocation count)" >&2
    tail -5 "$work/build-symbols.log" >&2
    sym_bin=$bin
    sym_reference=$reference
fi

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
wait_http() { # url
    for _ in $(seq 600); do
        curl -sf -o /dev/null "$1" && return 0
        sleep 0.05
    done
    echo "bench: $1 never answered" >&2
    exit 1
}
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

sim_port=$(free_port)
"$sim" --listen "127.0.0.1:$sim_port" >"$work/sim.out" 2>&1 &
pids+=($!)
wait_for "$work/sim.out" 'listening on'

# --- the three servers ------------------------------------------------------
args_text="--bind-address 127.0.0.1 --port PORT --no-temper -o 127.0.0.1:$sim_port -u admin -p admin -r 60"
exporter_port=$(free_port)
# shellcheck disable=SC2086
"$bin" ${args_text/PORT/$exporter_port} 2>"$work/exporter.log" &
exporter_pid=$!
pids+=("$exporter_pid")
wait_for "$work/exporter.log" 'first poll good'
exporter_url="http://127.0.0.1:$exporter_port/metrics"
sleep 1
rss_exporter_idle=$(rss_kib "$exporter_pid")

curl -s "$exporter_url" >"$work/body.txt"
body_bytes=$(stat -c %s "$work/body.txt")
reference_port=$(free_port)
"$reference" --body "$work/body.txt" --listen "127.0.0.1:$reference_port" 2>"$work/reference.log" &
reference_pid=$!
pids+=("$reference_pid")
wait_for "$work/reference.log" 'listening on'
reference_url="http://127.0.0.1:$reference_port/metrics"
rss_reference_idle=$(rss_kib "$reference_pid")

# Pinned: each server started on CPU 1 (so the exporter sizes its loops
# to that one core), wrk on CPU 0.
pinned=""
if [ "$(nproc)" -ge 2 ]; then
    pinned=1
    exporter_pinned_port=$(free_port)
    # shellcheck disable=SC2086
    taskset -c 1 "$bin" ${args_text/PORT/$exporter_pinned_port} 2>"$work/exporter-pinned.log" &
    pids+=($!)
    wait_for "$work/exporter-pinned.log" 'first poll good'
    exporter_pinned_url="http://127.0.0.1:$exporter_pinned_port/metrics"
    reference_pinned_port=$(free_port)
    taskset -c 1 "$reference" --body "$work/body.txt" --listen "127.0.0.1:$reference_pinned_port" \
        2>"$work/reference-pinned.log" &
    pids+=($!)
    wait_for "$work/reference-pinned.log" 'listening on'
    reference_pinned_url="http://127.0.0.1:$reference_pinned_port/metrics"
fi

upstream_url=""
upstream_note="not measured: neither the upstream exporter (\`python3 -m linxdot_exporter\`) nor prometheus_client for its stand-in could be had: no upstream column"
start_upstream() { # note python args...
    local note=$1
    shift
    upstream_port=$(free_port)
    "$@" -o "127.0.0.1:$sim_port" -u admin -p admin -r 60 -t "$upstream_port" \
        >"$work/upstream.log" 2>&1 &
    upstream_pid=$!
    pids+=("$upstream_pid")
    upstream_url="http://127.0.0.1:$upstream_port/metrics"
    wait_http "$upstream_url"
    upstream_note="$note"
}
# prometheus_client for the stand-in: Debian's, the PATH python's, or a venv.
standin_python() {
    local py
    for py in python3 /usr/bin/python3; do
        if "$py" -c 'import prometheus_client' 2>/dev/null; then
            command -v "$py"
            return 0
        fi
    done
    /usr/bin/python3 -m venv "$work/venv" >/dev/null 2>&1 &&
        "$work/venv/bin/pip" install -q prometheus_client >"$work/pip.log" 2>&1 &&
        echo "$work/venv/bin/python"
}
if python3 -c 'import linxdot_exporter' 2>/dev/null; then
    start_upstream "\`python3 -m linxdot_exporter -o 127.0.0.1:$sim_port -u admin -p admin -r 60 -t PORT\`" \
        python3 -m linxdot_exporter
elif py=$(standin_python); then
    version=$("$py" -c 'import importlib.metadata as m; print(m.version("prometheus_client"))')
    start_upstream "the upstream exporter is not published (PyPI, Debian), so its stand-in: \`scripts/upstream-standin.py\`, which serves as the upstream does (prometheus_client $version \`start_http_server\`, the default registry, the same five miner families, a 60 s poll loop of the same simulator)" \
        "$py" "$root/scripts/upstream-standin.py"
else
    echo "bench: no upstream exporter and no prometheus_client for its stand-in; no upstream column" >&2
fi

# --- idle wake-ups (nothing scrapes; the exporter polls every 60 s) ---------
wake() { "$root/scripts/wakeups.sh" "$1" "$IDLE_SECONDS" | awk '/^wakeups / {print $4}'; }
echo "bench: idle wake-ups over ${IDLE_SECONDS}s"
# The body fetch above closed its connection: let its last deadline pass.
sleep 2
wake_exporter=$(wake "$exporter_pid")
wake_reference=$(wake "$reference_pid")
wake_upstream=""
[ -n "$upstream_url" ] && wake_upstream=$(wake "$upstream_pid")
# The same exporter with the TEMPer scanner on (no sensor on this machine).
temper_port=$(free_port)
temper_args="--bind-address 127.0.0.1 --port $temper_port -o 127.0.0.1:$sim_port -u admin -p admin -r 60"
# shellcheck disable=SC2086
"$bin" $temper_args 2>"$work/temper.log" &
temper_pid=$!
pids+=("$temper_pid")
wait_for "$work/temper.log" 'first poll good'
wake_temper=$(wake "$temper_pid")
kill "$temper_pid" 2>/dev/null || true

# --- throughput and latency --------------------------------------------------
# One row per server and connection count: requests/s p50 p99 non-2xx.
wrk_run() { # url connections [taskset CPU list]
    local pin=()
    [ -n "${3:-}" ] && pin=(taskset -c "$3")
    "${pin[@]}" wrk -t1 -c"$2" -d"${WRK_SECONDS}s" --latency "$1" | awk '
        /Requests\/sec/ { rps = $2 }
        /^ +50%/ { p50 = $2 } /^ +99%/ { p99 = $2 }
        /Non-2xx/ { bad = $NF }
        END { printf "%s %s %s %s\n", rps, p50, p99, bad ? bad : 0 }'
}
declare -A runs
for url in "$exporter_url" "$reference_url" $upstream_url ${pinned:+"$exporter_pinned_url" "$reference_pinned_url"}; do
    wrk -t1 -c4 -d1s "$url" >/dev/null # warm-up
done
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
for round in $(seq "$ROUNDS"); do
    for c in $CONNECTIONS; do
        echo "bench: round $round of $ROUNDS, wrk -t1 -c$c"
        # Interleaved, so that a change in the machine's load hits every server.
        runs[exporter,$c]+="$(wrk_run "$exporter_url" "$c");"
        runs[reference,$c]+="$(wrk_run "$reference_url" "$c");"
        [ -n "$upstream_url" ] && runs[upstream,$c]+="$(wrk_run "$upstream_url" "$c");"
    done
    [ -n "$pinned" ] || continue
    for c in $PINNED_CONNECTIONS; do
        echo "bench: round $round of $ROUNDS, pinned, wrk -t1 -c$c"
        runs[exporter-pinned,$c]+="$(wrk_run "$exporter_pinned_url" "$c" 0);"
        runs[reference-pinned,$c]+="$(wrk_run "$reference_pinned_url" "$c" 0);"
    done
done
# The best round of each, from "rps p50 p99 bad;...": on a shared machine
# other work only ever takes from a figure, so the round with the most
# requests/s is the least disturbed one. Prints its requests/s, p50 ms and
# p99 ms, the non-2xx of all rounds, and each round's requests/s.
best_of() {
    python3 - "$1" <<'EOF'
import re, sys
rows = [r.split() for r in sys.argv[1].split(";") if r.strip()]
def ms(text):
    m = re.fullmatch(r"([0-9.]+)(us|ms|s)", text)
    return float(m[1]) * {"us": 0.001, "ms": 1, "s": 1000}[m[2]] if m else float("nan")
best = max(rows, key=lambda r: float(r[0]))
print(f"{float(best[0]):.0f} {ms(best[1]):.3f} {ms(best[2]):.3f} {sum(int(r[3]) for r in rows)} "
      + "/".join(f"{float(r[0]):.0f}" for r in rows))
EOF
}
declare -A figures
for key in "${!runs[@]}"; do
    figures[$key]=$(best_of "${runs[$key]}")
done
rss_exporter_busy=$(rss_kib "$exporter_pid")
rss_reference_busy=$(rss_kib "$reference_pid")

# --- instructions per scrape (callgrind; all threads, user space) ----------
# Scrapes /metrics COUNT times over one keep-alive connection, checking
# every answer.
# With a third argument, the first 20 scrapes are a warm-up: then it
# creates FLAG.warm and waits for FLAG.go before the COUNT that are
# measured, all over the same connection (so that setting it up is not
# counted).
scrape_n() { # url count [flag]
    python3 - "$1" "$2" "${3:-}" <<'EOF'
import http.client, os, sys, time, urllib.parse
url = urllib.parse.urlsplit(sys.argv[1])
conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
def scrape(count):
    for _ in range(count):
        conn.request("GET", url.path)
        answer = conn.getresponse()
        body = answer.read()
        if answer.status != 200 or not body.endswith(b"\n"):
            sys.exit(f"bad answer: {answer.status}")
flag = sys.argv[3]
if flag:
    scrape(20)
    open(flag + ".warm", "w").close()
    while not os.path.exists(flag + ".go"):
        time.sleep(0.01)
scrape(int(sys.argv[2]))
EOF
}
# Runs scrape_n with a warm-up in the background: once warm, runs the
# given command, then lets the counted scrapes go and waits for them.
measured_scrapes() { # url count command...
    local url=$1 count=$2 flag
    shift 2
    flag=$(mktemp -u "$work/scrapes.XXXXXX")
    scrape_n "$url" "$count" "$flag" &
    local client=$!
    while [ ! -e "$flag.warm" ]; do sleep 0.01; done
    "$@"
    touch "$flag.go"
    wait "$client"
}
# Calls into the allocator (malloc, calloc, realloc, posix_memalign,
# aligned_alloc) in a callgrind dump, from functions outside it.
allocator_calls() { # dump
    python3 - "$1" <<'EOF'
import re, sys
allocator = {"malloc", "calloc", "realloc", "posix_memalign", "aligned_alloc", "memalign"}
names, fn, cfn, total = {}, None, None, 0
def name(spec):
    m = re.match(r"\((\d+)\)(?:\s+(.*))?", spec)
    if not m:
        return spec
    if m[2]:
        names[m[1]] = m[2]
    return names.get(m[1], "?")
for line in open(sys.argv[1], errors="replace"):
    if line.startswith("fn="):
        fn = name(line[3:].strip())
    elif line.startswith("cfn="):
        cfn = name(line[4:].strip())
    elif line.startswith("calls=") and cfn in allocator and fn not in allocator:
        total += int(line[6:].split()[0])
print(total)
EOF
}
# Instructions executed by a program under callgrind for N scrapes, after 20
# warm-up scrapes, and its calls into the allocator: prints both.
instructions() { # name ready-text command...
    local name=$1 ready=$2
    shift 2
    local port
    port=$(free_port)
    local cmd=("${@/PORT/$port}")
    valgrind --tool=callgrind --callgrind-out-file="$work/cg.$name.%p" "${cmd[@]}" \
        >"$work/cg.$name.log" 2>&1 &
    local pid=$!
    pids+=("$pid")
    wait_for "$work/cg.$name.log" "$ready"
    wait_http "http://127.0.0.1:$port/metrics"
    measured_scrapes "http://127.0.0.1:$port/metrics" "$CALLGRIND_N" \
        sh -c "callgrind_control --zero $pid >/dev/null 2>&1 && touch $work/cg.$name.mark"
    callgrind_control --dump=scrapes "$pid" >/dev/null 2>&1
    local dump
    dump=$(find "$work" -name "cg.$name.$pid.*" -newer "$work/cg.$name.mark" | sort | tail -1)
    kill "$pid" 2>/dev/null || true
    echo "$(awk '/^(summary|totals):/ {print $2; exit}' "$dump") $(allocator_calls "$dump")"
}
echo "bench: callgrind, $CALLGRIND_N scrapes each"
# shellcheck disable=SC2086
read -r ir_exporter alloc_exporter < <(instructions exporter 'first poll good' "$sym_bin" $args_text)
read -r ir_reference alloc_reference < <(instructions reference 'listening on' "$sym_reference" --body "$work/body.txt" --listen 127.0.0.1:PORT)

# --- system calls per keep-alive scrape (strace -f, by thread) -----------------
# strace -f on PID in the background, one line per call with the thread's
# id; its pid in strace_pid. Notes the name of each thread there is once
# attached (the reference's thread for the connection ends with it).
strace_start() { # pid
    strace -f -qq -p "$1" -o "$work/strace.$1" 2>/dev/null &
    strace_pid=$!
    sleep 1 # attached to every thread
    local task
    for task in /proc/"$1"/task/*; do
        echo "${task##*/} $(cat "$task/comm" 2>/dev/null)"
    done >"$work/threads.$1"
}
# The calls of the threads that serve scrapes (names matching SERVING, a
# Python regex), per scrape: in all, and those that come with every scrape
# (at least one call in two scrapes), each of those per scrape, and the
# occasional ones as counts (a new connection every 1000 requests, a timer,
# the descriptor count once a second); then what the other threads called
# in the same window (a timed poll of the dashboard, say), by thread name:
# "new" for a thread started after strace attached (the poll's own connect
# thread). Fields separated by "|".
syscalls() { # pid url serving
    measured_scrapes "$2" "$STRACE_N" strace_start "$1"
    kill -INT "$strace_pid"
    wait "$strace_pid" 2>/dev/null || true
    python3 - "$work/strace.$1" "$work/threads.$1" "$STRACE_N" "$3" <<'EOF'
import collections, re, sys
trace, threads, n, serving = sys.argv[1], sys.argv[2], int(sys.argv[3]), re.compile(sys.argv[4])
names = {}
for line in open(threads):
    tid, _, name = line.rstrip("\n").partition(" ")
    names[tid] = name
ours, others = collections.Counter(), collections.Counter()
for line in open(trace, errors="replace"):
    # "TID name(args..." starts a call; "TID <... name resumed>" ends one.
    m = re.match(r"(\d+) +([a-z_0-9]+)\(", line)
    if not m:
        continue
    name = names.get(m[1], "new")
    if m[1] in names and serving.search(name):
        ours[m[2]] += 1
    else:
        others[name] += 1
every = [(call, count) for call, count in ours.most_common() if count * 2 >= n]
occasional = [(call, count) for call, count in ours.most_common() if count * 2 < n]
def listed(pairs, scale=1):
    return ", ".join(f"{call} {count / scale:.2f}" if scale > 1 else f"{call} {count}"
                     for call, count in pairs) or "none"
print("|".join([
    f"{sum(ours.values()) / n:.2f}",
    f"{sum(count for _, count in every) / n:.2f}",
    listed(every, n),
    listed(occasional),
    listed(others.most_common()),
]))
EOF
}
echo "bench: strace, $STRACE_N scrapes each"
IFS='|' read -r sc_exporter sc_exporter_every sc_exporter_each sc_exporter_occasional sc_exporter_other \
    < <(syscalls "$exporter_pid" "$exporter_url" '^http-')
IFS='|' read -r sc_reference sc_reference_every sc_reference_each sc_reference_occasional sc_reference_other \
    < <(syscalls "$reference_pid" "$reference_url" '.')

# --- sizes ---------------------------------------------------------------------
size_of() { if [ -f "$1" ]; then stat -c %s "$1"; else echo "not built"; fi; }
aarch64_bin=$CARGO_TARGET_DIR/aarch64-unknown-linux-musl/release/linxdot-exporter
if [ "$musl" != aarch64-unknown-linux-musl ]; then
    echo "bench: building the static aarch64 binary for its size"
    rm -f "$aarch64_bin"
    "$root/scripts/build-static.sh" --install aarch64-unknown-linux-musl >"$work/build-aarch64.log" 2>&1 ||
        { echo "bench: the aarch64 build failed:" >&2; tail -5 "$work/build-aarch64.log" >&2; }
fi
size_aarch64=$(size_of "$aarch64_bin")

# --- the report ----------------------------------------------------------------
ratio() { python3 -c "import sys; a, b = (float(x or 0) for x in sys.argv[1:3]); print(f'{a / b:.2f}' if b else 'n/a')" "$1" "$2"; }
field() { echo "${figures[$1,$2]:-}" | cut -d' ' -f"$3"; }

ratio_rows=""
figure_rows=""
for c in $CONNECTIONS; do
    e_rps=$(field exporter "$c" 1)
    r_rps=$(field reference "$c" 1)
    up_cell="not installed"
    if [ -n "$upstream_url" ]; then up_cell="$(ratio "$e_rps" "$(field upstream "$c" 1)")×"; fi
    ratio_rows+="| $c | unpinned | $(ratio "$e_rps" "$r_rps") | $up_cell | $(field exporter "$c" 3) / $(field reference "$c" 3) |"$'\n'
done
if [ -n "$pinned" ]; then
    for c in $PINNED_CONNECTIONS; do
        ratio_rows+="| $c | pinned | $(ratio "$(field exporter-pinned "$c" 1)" "$(field reference-pinned "$c" 1)") | | $(field exporter-pinned "$c" 3) / $(field reference-pinned "$c" 3) |"$'\n'
    done
fi
for who in exporter reference upstream exporter-pinned reference-pinned; do
    for c in $CONNECTIONS; do
        [ -n "${figures[$who,$c]:-}" ] || continue
        figure_rows+="| $who | $c | $(field "$who" "$c" 1) ($(field "$who" "$c" 5)) | $(field "$who" "$c" 2) | $(field "$who" "$c" 3) | $(field "$who" "$c" 4) |"$'\n'
    done
done
rps_4=$(field exporter 4 1)
rps_64=$(field exporter 64 1)
ipr_exporter=$((ir_exporter / CALLGRIND_N))
ipr_reference=$((ir_reference / CALLGRIND_N))
per_scrape() { python3 -c "import sys; print(f'{int(sys.argv[1]) / int(sys.argv[2]):.2f}')" "$1" "$CALLGRIND_N"; }
apr_exporter=$(per_scrape "$alloc_exporter")
apr_reference=$(per_scrape "$alloc_reference")
commit=$(cd "$root" && git rev-parse --short HEAD)$(cd "$root" && git diff --quiet HEAD -- src crates Cargo.toml examples || echo "+changes")

cat >"$report" <<EOF
# Benchmarks

Written by \`scripts/bench.sh\` on $(date -u +%Y-%m-%d) at commit $commit. Host: $(nproc) cores,
$(uname -m); load average at the start of the wrk runs $load_start,
at the end $(cut -d' ' -f1-3 /proc/loadavg). The machine is shared with other builds, so absolute
figures are noisy: the ratios, from one run with the servers measured in turn at each step, are
what to compare. All traffic on 127.0.0.1.

- **exporter**: $build_note, polling the dashboard simulator (\`$(show "$sim") --listen 127.0.0.1:$sim_port\`):
  \`$(show "$bin") $args_text\`
- **reference**: \`$(show "$reference") --body BODY --listen 127.0.0.1:PORT\`, built the same
  way as the exporter, where BODY is one scrape of the exporter ($body_bytes
  bytes), answered with the same headers, thread per connection, nothing else
  (examples/reference-server.rs)
- **upstream**: $upstream_note
- **pinned**: a second instance of each server started with \`taskset -c 1\` (the exporter then
  runs one readiness loop), measured with \`taskset -c 0 wrk\`: the cost per core. Unpinned, the
  exporter runs one loop per core, each kept to its core, and the reference a thread per
  connection: the scaling.

## Ratios

| connections | | exporter / reference, scrapes/s | exporter / upstream | p99 ms, exporter / reference |
|---|---|---|---|---|
$ratio_rows
| per keep-alive scrape, after a warm-up | exporter | reference | target |
|---|---|---|---|
| system calls of the kinds every scrape makes (\`strace -f\`, $STRACE_N scrapes; the threads that serve them) | $sc_exporter_every | $sc_reference_every | ≤ 4 |
| system calls in all, the occasional ones spread over the scrapes | $sc_exporter | $sc_reference | |
| allocations (callgrind: calls into malloc, calloc, realloc, ...) | $apr_exporter | $apr_reference | 0 |
| instructions (callgrind, user space, all threads) | $ipr_exporter | $ipr_reference | ≤ 8000 |

System calls of the kinds every scrape makes, each per scrape (epoll_pwait also wakes for the deadline timer and for new connections): exporter $sc_exporter_each; reference
$sc_reference_each. The occasional ones, counts over the $STRACE_N scrapes (a new connection each
1000 requests, the deadline timer, the count of open descriptors at most once a second): exporter
$sc_exporter_occasional; reference $sc_reference_occasional. Calls of the other threads in the
same window (not per scrape: whatever their timers brought), by thread: exporter
$sc_exporter_other; reference $sc_reference_other.

| figure | exporter | reference | target |
|---|---|---|---|
| scrapes/s at 64 ÷ at 4 | $(ratio "$rps_64" "$rps_4") | | ≥ 1 |
| idle wake-ups/s (\`-r 60\`, ${IDLE_SECONDS} s) | $wake_exporter | $wake_reference | 0.00 |
| idle wake-ups/s, TEMPer scanner on (no sensor) | $wake_temper | | ≤ 0.5 |
| VmRSS idle, KiB | $rss_exporter_idle | $rss_reference_idle | ≤ 1024 |
| VmRSS after the wrk runs, KiB | $rss_exporter_busy | $rss_reference_busy | |
| static aarch64 binary, bytes | $size_aarch64 | | ≤ 524288 |
| $(show "$bin"), bytes | $(size_of "$bin") | | |
${wake_upstream:+| upstream idle wake-ups/s | $wake_upstream | | |}

Targets from issue 23: exporter ≥ 0.8 × the reference's scrapes/s at 4 and 64 connections, unpinned
and pinned; p99 at 4 connections ≤ 2 × the reference's and ≤ 0.5 ms; per scrape ≤ 4 system calls,
0 allocations, ≤ 8000 instructions. From issue 11: ≥ 20 × the upstream's scrapes/s at 4
connections.

## Throughput and latency

\`wrk -t1 -cN -d${WRK_SECONDS}s --latency URL\` for each server in turn, N = $CONNECTIONS unpinned and
$PINNED_CONNECTIONS pinned, $ROUNDS rounds (after a 1 s warm-up of each server): the best round of
each (the most scrapes/s: other work on a shared machine only ever lowers the figure) with its
latencies, each round's scrapes/s in brackets. Latency in ms.

| server | connections | scrapes/s (rounds) | p50 | p99 | non-2xx |
|---|---|---|---|---|---|
$figure_rows
## How the other figures are taken

- Idle wake-ups: \`scripts/wakeups.sh PID $IDLE_SECONDS\`: voluntary plus involuntary context
  switches of all threads (/proc/PID/task/*/status) over $IDLE_SECONDS s with no scrape, divided by
  the seconds. The TEMPer row runs the exporter without \`--no-temper\`:
  \`$(show "$bin") ${temper_args/$temper_port/PORT}\`.
- VmRSS: /proc/PID/status, once started (the exporter after its first dashboard poll) and
  after all the wrk runs.
- System calls: \`strace -f -p PID\` on the unpinned servers, attached after 20 warm-up scrapes,
  while $STRACE_N more go over the same keep-alive connection (python http.client, every answer
  checked): the calls of the threads that serve scrapes (the exporter's \`http-*\` threads, every
  thread of the reference) divided by $STRACE_N. The exporter's other threads run on their own
  timers (the dashboard poll every \`-r\` seconds, with a short-lived thread for its connect),
  so their calls in the window are listed as counts, not per scrape.
- Instructions and allocations: each server, built the same way with its symbols
  (\`CARGO_PROFILE_RELEASE_STRIP=false\`, \`$(show "$sym_bin")\`), under
  \`valgrind --tool=callgrind\`; after 20 warm-up scrapes, \`callgrind_control --zero\`, then
  $CALLGRIND_N scrapes over the same keep-alive connection, then \`callgrind_control --dump\`: the Ir
  total, and the calls into the allocator from outside it, divided by $CALLGRIND_N (all threads;
  user space only; this machine has no hardware counters for perf). \`cargo test --test
  scrape_allocations\` checks the 0 on every CI run, under a counting allocator.
- Sizes: \`stat -c %s\` of the binaries \`scripts/build-static.sh TARGET\` writes.
EOF
echo "bench: wrote $(show "$report")"
cat "$report"
