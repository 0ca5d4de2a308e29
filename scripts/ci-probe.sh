#!/usr/bin/env bash
# The /probe operator kit, end to end: promtool checks
# monitoring/prometheus/probe-job.yml, then a real Prometheus runs that job
# (scrape interval shortened, the exporter's address filled in) against one
# exporter probing three simulated dashboards on loopback, and the series it
# stores must carry each miner as `instance`, with probe_success and
# miner_up 1 and each miner's own animal name.
#
# usage: scripts/ci-probe.sh
# Installs promtool/prometheus when missing. Prints "ok NAME" / "not ok NAME";
# exits 1 when a check failed.
set -uo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo" || exit 1
failed=0
ok() { echo "ok $*"; }
notok() { echo "not ok $*"; failed=1; }

bash scripts/install-debs.sh prometheus

if promtool check config monitoring/prometheus/probe-job.yml >/dev/null; then
    ok "probe-job.yml passes promtool check config"
else
    notok "probe-job.yml fails promtool check config"
fi

cargo build --quiet --bin linxdot-exporter --example dashboard-sim || exit 1
target_dir="${CARGO_TARGET_DIR:-$repo/target}"
bin="$target_dir/debug/linxdot-exporter"
sim="$target_dir/debug/examples/dashboard-sim"

work="$(mktemp -d)"
pids=()
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    local pid
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
    rm -rf "$work"
}
trap cleanup EXIT

# Waits for "listening on ADDR" in file $1; prints ADDR.
listen_addr() {
    local i addr
    for i in $(seq 100); do
        addr="$(sed -n 's/.*listening on \([^ ]*\).*/\1/p' "$1" | head -n 1)"
        if [ -n "$addr" ]; then echo "$addr"; return 0; fi
        sleep 0.1
    done
    return 1
}

sims=()
for i in 1 2 3; do
    "$sim" --listen 127.0.0.1:0 > "$work/sim$i.log" 2>&1 &
    pids+=($!)
    addr="$(listen_addr "$work/sim$i.log")" || { notok "simulator $i did not start"; exit 1; }
    sims+=("$addr")
done

printf 'admin\n' > "$work/pw" && chmod 600 "$work/pw"
"$bin" --bind-address 127.0.0.1 --port 0 --no-temper -u admin --password-file "$work/pw" \
    --probe-allow 127.0.0.1 > /dev/null 2> "$work/exporter.log" &
pids+=($!)
exporter="$(listen_addr "$work/exporter.log")" || { notok "exporter did not start"; exit 1; }

# A free port for Prometheus.
port=""
for candidate in $(shuf -i 20000-60000 -n 50); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then
        port="$candidate"
        break
    fi
done

mkdir -p "$work/targets"
{
    echo "- targets:"
    for s in "${sims[@]}"; do echo "    - $s"; done
} > "$work/targets/probe-ci.yml"
sed -e "s/replacement: 192.0.2.1:8061/replacement: $exporter/" \
    -e "s/192.0.2.1:8061/$exporter/" \
    -e 's/scrape_interval: 60s/scrape_interval: 1s/' \
    -e 's/scrape_timeout: 10s/scrape_timeout: 1s/' \
    -e 's/evaluation_interval: 60s/evaluation_interval: 1s/' \
    monitoring/prometheus/probe-job.yml > "$work/probe-job.yml"
if [ -d monitoring/prometheus/rules ]; then cp -r monitoring/prometheus/rules "$work/"; fi

prometheus --config.file="$work/probe-job.yml" --storage.tsdb.path="$work/data" \
    --web.listen-address="127.0.0.1:$port" > "$work/prometheus.log" 2>&1 &
pids+=($!)
server="http://127.0.0.1:$port"

# Polls until query $1 gives $2 series; prints the last answer.
query_until() {
    local i out
    for i in $(seq 150); do
        out="$(promtool query instant "$server" "$1" 2>/dev/null)"
        if [ "$(printf '%s\n' "$out" | grep -c '=>')" -eq "$2" ]; then
            printf '%s\n' "$out"
            return 0
        fi
        sleep 0.2
    done
    printf '%s\n' "$out"
    return 1
}

if out="$(query_until 'probe_success{job="linxdot"} == 1' 3)"; then
    ok "Prometheus stores probe_success 1 for the three probed miners"
else
    notok "probe_success for three miners: $out"
    sed 's/^/    /' "$work/prometheus.log" | tail -n 20
fi
for s in "${sims[@]}"; do
    if printf '%s\n' "$out" | grep -qF "instance=\"$s\""; then
        ok "instance is the target $s"
    else
        notok "no series with instance=\"$s\": $out"
    fi
done
if out="$(query_until 'miner_up{job="linxdot"} == 1' 3)"; then
    ok "miner_up 1 beside probe_success, per miner"
else
    notok "miner_up for three miners: $out"
fi
if out="$(query_until 'count by (instance) (miner_exporter_info{job="linxdot"})' 3)"; then
    ok "each probed miner has its own miner_exporter_info"
else
    notok "miner_exporter_info per miner: $out"
fi
if [ -d monitoring/prometheus/rules ]; then
    if out="$(query_until 'count by (instance) (instance:miner_exporter_info:last{job="linxdot"})' 3)"; then
        ok "the kit's recording rules see each probed miner"
    else
        notok "instance:miner_exporter_info:last per probed miner: $out"
    fi
fi
if out="$(query_until 'up{job="linxdot-prober"} == 1' 1)"; then
    ok "the probing exporter's own /metrics is scraped"
else
    notok "linxdot-prober job: $out"
fi
exit "$failed"
