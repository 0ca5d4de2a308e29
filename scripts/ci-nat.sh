#!/usr/bin/env bash
# Miners behind NAT, proved on loopback: each "miner" runs linxdot-exporter
# (against the dashboard simulator) and vmagent, started by the shipped
# monitoring/vmagent/run-vmagent.sh with the shipped scrape.yml; vmagent
# scrapes the exporter on loopback and remote-writes over TLS (a self-signed
# certificate made here with openssl) with basic auth to a central Prometheus
# (--web.enable-remote-write-receiver, --web.config.file with the bcrypt hash)
# that evaluates the kit's recording rules and alerts
# (monitoring/prometheus/rules/). Checks that the central store holds each
# miner's series with its instance and site labels, that the rules and an
# alert work on them, that TLS and the password are enforced, and measures
# vmagent's resident memory.
#
# usage: scripts/ci-nat.sh
# Environment: CARGO_TARGET_DIR (default target/): the debug builds of the
# exporter and the simulator (cargo test made them already).
# Changes to the shipped files, for the test only: the exporter's port in
# scrape.yml, scrape_interval 2s instead of 60s, and the alerts' `for:` 0s
# (a 5-minute wait would prove nothing more).
# Prints "ok NAME" / "not ok NAME" per check and last "N passed, M failed";
# exits 1 when a check failed.
set -uo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo" || exit 1
kit=monitoring

# shellcheck source=scripts/checks-lib.sh
source scripts/checks-lib.sh

phase "installing tools"
bash scripts/install-debs.sh victoria-metrics prometheus openssl curl python3-bcrypt
for tool in vmagent prometheus openssl curl; do
    command -v "$tool" > /dev/null || notok "tools: $tool is missing"
done
/usr/bin/python3 -c 'import bcrypt' 2> /dev/null || notok "tools: python3-bcrypt is missing"
[ "$failed" = 0 ] || finish

phase "building the exporter and the dashboard simulator (debug)"
if cargo build --quiet --locked --bin linxdot-exporter --example dashboard-sim > "$work/build.log" 2>&1; then
    ok "cargo build --bin linxdot-exporter --example dashboard-sim"
else
    notok "cargo build: $(tail -n 20 "$work/build.log")"
    finish
fi
target_dir=$(cargo_target_dir)
exporter="$target_dir/debug/linxdot-exporter"
sim="$target_dir/debug/examples/dashboard-sim"

# --- the central side: certificate, password, Prometheus --------------------------
phase "central Prometheus with TLS and basic auth"
umask 077
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj /CN=central.test -addext 'subjectAltName=DNS:localhost,IP:127.0.0.1' \
    -keyout "$work/central.key" -out "$work/central.pem" > "$work/openssl.log" 2>&1 ||
    { notok "openssl: $(cat "$work/openssl.log")"; finish; }
ok "openssl: a self-signed certificate for 127.0.0.1"
# The miners' password: in a 0600 file, never on a command line.
openssl rand -hex 16 > "$work/password"
hash="$(/usr/bin/python3 -c 'import bcrypt, sys
print(bcrypt.hashpw(open(sys.argv[1]).readline().strip().encode(), bcrypt.gensalt(rounds=10)).decode())' "$work/password")"
cat > "$work/web.yml" << EOF
tls_server_config:
  cert_file: $work/central.pem
  key_file: $work/central.key
basic_auth_users:
  miner: '$hash'
EOF
# curl's credentials in a config file (not in its argv).
printf 'user = "miner:%s"\n' "$(cat "$work/password")" > "$work/curl-auth"
umask 022

# The kit's rules, with every `for:` at 0s.
mkdir -p "$work/rules"
for f in "$kit"/prometheus/rules/*.yml; do
    sed -E 's/^( +for: ).*/\10s/' "$f" > "$work/rules/$(basename "$f")"
done
cat > "$work/central.yml" << EOF
global:
  evaluation_interval: 1s
rule_files:
  - $work/rules/*.yml
EOF
central_port=$(free_port)
central="https://127.0.0.1:$central_port"
prometheus --config.file="$work/central.yml" --web.config.file="$work/web.yml" \
    --web.enable-remote-write-receiver --storage.tsdb.path="$work/central-data" --query.lookback-delta=15s \
    --web.listen-address="127.0.0.1:$central_port" > "$work/central.log" 2>&1 &
central_pid=$!
pids+=("$central_pid")
# query PROMQL [TIME]: the JSON answer of the central store's instant query.
query() {
    curl -fsS --max-time 5 --cacert "$work/central.pem" -K "$work/curl-auth" \
        "$central/api/v1/query" --data-urlencode "query=$1" ${2:+--data-urlencode "time=$2"} 2> /dev/null
}
# shellcheck disable=SC2317 # called through wait_for
ready() { curl -fsS --max-time 2 --cacert "$work/central.pem" -K "$work/curl-auth" "$central/-/ready" > /dev/null 2>&1; }
if wait_for 30 ready; then
    ok "central Prometheus on $central (TLS, basic auth, remote-write receiver, the kit's rules)"
else
    notok "central Prometheus did not start: $(tail -n 20 "$work/central.log")"
    finish
fi
check "central: rejects plain HTTP" bash -c "! curl -fsS --max-time 5 'http://127.0.0.1:$central_port/-/ready' > /dev/null 2>&1"
check "central: a client without the CA certificate cannot verify it" \
    bash -c "! curl -fsS --max-time 5 '$central/-/ready' > /dev/null 2>&1"
status="$(curl -sS --max-time 5 --cacert "$work/central.pem" -o /dev/null -w '%{http_code}' \
    -u miner:wrong "$central/api/v1/write" -X POST 2> /dev/null)"
check "central: a wrong password gets 401 (got $status)" test "$status" = 401

# --- two miners, each with its exporter and its vmagent ---------------------------
phase "two miners: exporter + vmagent (monitoring/vmagent/run-vmagent.sh)"
sim_port=$(free_port)
"$sim" --listen "127.0.0.1:$sim_port" > "$work/sim.out" 2> "$work/sim.err" &
pids+=($!)
wait_for 30 grep -q "^listening on 127.0.0.1:$sim_port" "$work/sim.out" ||
    { notok "dashboard simulator: $(cat "$work/sim.out" "$work/sim.err")"; finish; }
# miner-a logs in; miner-b has the wrong dashboard password (miner_up 0).
declare -A vmagent_pid=() exporter_pid=()
for miner in miner-a:admin miner-b:wrong; do
    name="${miner%%:*}"
    port=$(free_port)
    printf '%s\n' "${miner#*:}" > "$work/$name-dashboard-password"
    "$exporter" -o "127.0.0.1:$sim_port" -u admin --password-file "$work/$name-dashboard-password" \
        -r 1 -t "$port" --bind-address 127.0.0.1 --no-temper > "$work/$name-exporter.log" 2>&1 &
    exporter_pid[$name]=$!
    pids+=($!)
    mkdir -p "$work/$name"
    sed -e "s/127\.0\.0\.1:8061/127.0.0.1:$port/" -e 's/^\( *scrape_interval:\) 60s/\1 2s/' \
        "$kit/vmagent/scrape.yml" > "$work/$name/scrape.yml"
    # The shipped vmagent.conf with this test's values.
    sed -e "s|^CENTRAL_URL=.*|CENTRAL_URL=\"$central/api/v1/write\"|" \
        -e "s|^PASSWORD_FILE=.*|PASSWORD_FILE=\"$work/password\"|" \
        -e "s|^CA_FILE=.*|CA_FILE=\"$work/central.pem\"|" \
        -e "s|^MINER_NAME=.*|MINER_NAME=\"$name\"|" \
        -e "s|^DATA_DIR=.*|DATA_DIR=\"$work/$name/buffer\"|" \
        -e "s|^LISTEN=.*|LISTEN=\"127.0.0.1:$(free_port)\"|" \
        -e "s|^SCRAPE_CONFIG=.*|SCRAPE_CONFIG=\"$work/$name/scrape.yml\"|" \
        -e "s|^VMAGENT=.*|VMAGENT=\"$(command -v vmagent)\"|" \
        "$kit/vmagent/vmagent.conf" > "$work/$name/vmagent.conf"
    VMAGENT_CONF="$work/$name/vmagent.conf" sh "$kit/vmagent/run-vmagent.sh" > "$work/$name/vmagent.log" 2>&1 &
    vmagent_pid[$name]=$!
    pids+=($!)
done
started=$SECONDS
for name in miner-a miner-b; do
    if grep -q "$(cat "$work/password")" "/proc/${vmagent_pid[$name]}/cmdline" 2> /dev/null; then
        notok "$name: the password is on vmagent's command line"
    else
        check "$name: vmagent runs (exec'd by run-vmagent.sh), the password not on its command line" \
            grep -q 'remoteWrite.basicAuth.passwordFile' "/proc/${vmagent_pid[$name]}/cmdline"
    fi
done

# --- what arrives centrally ----------------------------------------------------
phase "the central store"
# value PROMQL [TIME]: the first result's value ("" when none).
value() { query "$@" | python3 -c 'import json, sys
r = json.load(sys.stdin)["data"]["result"]
print(r[0]["value"][1] if r else "")' 2> /dev/null; }
# shellcheck disable=SC2317 # called through wait_for
has() { [ -n "$(value "$@")" ]; }
if wait_for 90 has 'miner_up{job="linxdot",instance="miner-a",site="north-barn"} == 1'; then
    ok "miner_up{job=\"linxdot\",instance=\"miner-a\",site=\"north-barn\"} 1 arrived after $((SECONDS - started))s"
else
    notok "no miner_up 1 of miner-a centrally within 90 s; vmagent: $(tail -n 5 "$work/miner-a/vmagent.log")"
    finish
fi
check "miner-a: miner_cpu_temp 35.555 (the simulator's value)" \
    test "$(value 'miner_cpu_temp{instance="miner-a",site="north-barn"}')" = 35.555
check "miner-a: up 1 (vmagent's own series of the scrape)" \
    test "$(value 'up{job="linxdot",instance="miner-a",site="north-barn"}')" = 1
check "miner-a: miner_exporter_info with the simulator's serial number" \
    has 'miner_exporter_info{instance="miner-a",site="north-barn",sn="LD1NTV000000001"}'
check "miner-b: miner_up 0 (wrong dashboard password)" \
    wait_for 30 has 'miner_up{instance="miner-b",site="north-barn"} == 0'
check "no series with instance 127.0.0.1:... (every miner is named)" \
    test -z "$(value 'count({instance=~"127\\.0\\.0\\.1:.*"})')"
names="$(query 'count by (__name__) ({instance="miner-a"})' | python3 -c 'import json, sys
print(len(json.load(sys.stdin)["data"]["result"]))')"
echo "  miner-a: $names metric names centrally"

phase "the kit's recording rules and alerts on the remote-written series"
check "instance:miner_exporter_info:last for miner-a, with animal_name and site" \
    wait_for 30 has 'instance:miner_exporter_info:last{instance="miner-a",site="north-barn",animal_name!=""}'
check "job:up:count{job=\"linxdot\"} 2" wait_for 30 has 'job:up:count{job="linxdot"} == 2'
check "job:miner_up:sum{job=\"linxdot\"} 1" wait_for 30 has 'job:miner_up:sum{job="linxdot"} == 1'
check "LinxdotDashboardDown fires for miner-b (site north-barn)" \
    wait_for 30 has 'ALERTS{alertname="LinxdotDashboardDown",alertstate="firing",instance="miner-b",site="north-barn"}'
check "LinxdotDashboardDown does not fire for miner-a" \
    test -z "$(value 'ALERTS{alertname="LinxdotDashboardDown",instance="miner-a"}')"
check "LinxdotExporterDown and LinxdotJobMissing do not fire" \
    test -z "$(value 'ALERTS{alertname=~"LinxdotExporterDown|LinxdotJobMissing"}')"

# --- the cost on the miner -------------------------------------------------------
# At least 30 s of scrapes every 2 s (15 at the shipped 60 s are 15 minutes).
sleep $((started + 30 - SECONDS > 0 ? started + 30 - SECONDS : 0))
phase "vmagent's memory after $((SECONDS - started)) s of scrapes every 2 s"
vm_version="$(dpkg-query -W -f='${Version}' victoria-metrics 2> /dev/null)"
for name in miner-a miner-b; do
    rss="$(awk '$1 == "VmRSS:" { print $2 }' "/proc/${vmagent_pid[$name]}/status" 2> /dev/null)"
    hwm="$(awk '$1 == "VmHWM:" { print $2 }' "/proc/${vmagent_pid[$name]}/status" 2> /dev/null)"
    if [ -n "$rss" ]; then
        ok "$name: vmagent ${vm_version:-?}: RSS $rss KiB, peak $hwm KiB ($(uname -m))"
    else
        notok "$name: vmagent is not running: $(tail -n 5 "$work/$name/vmagent.log")"
    fi
done
echo "  for scale: the exporter's RSS $(awk '$1 == "VmRSS:" { print $2 }' "/proc/${exporter_pid[miner-a]}/status") KiB (debug build)"

# --- the link goes down and comes back: the buffer ----------------------------------
phase "the central store away for 10 s: vmagent buffers and catches up"
kill "$central_pid" 2> /dev/null
wait "$central_pid" 2> /dev/null
away_from=$(date +%s)
sleep 10
away_until=$(date +%s)
prometheus --config.file="$work/central.yml" --web.config.file="$work/web.yml" \
    --web.enable-remote-write-receiver --storage.tsdb.path="$work/central-data" --query.lookback-delta=15s \
    --web.listen-address="127.0.0.1:$central_port" >> "$work/central.log" 2>&1 &
central_pid=$!
pids+=("$central_pid")
wait_for 30 ready || notok "central Prometheus did not come back"
# The scrapes made while it was away arrive: at least 3 of the ~5 in the gap.
check "miner-a's samples from the $((away_until - away_from)) s away arrived afterwards (>= 3)" wait_for 90 has \
    "count_over_time(up{instance=\"miner-a\"}[$((away_until - away_from - 1))s]) >= 3" "$((away_until - 1))"

# --- a miner that goes silent -------------------------------------------------------
phase "miner-b's vmagent stops (the miner is off): the silent-miner expression of docs/fleet.md"
kill "${vmagent_pid[miner-b]}" 2> /dev/null
silent='max_over_time(up{job="linxdot"}[6h]) unless up{job="linxdot"}'
# shellcheck disable=SC2317 # called through wait_for
silent_is() { [ "$(query "$silent" | python3 -c 'import json, sys
print(" ".join(sorted(r["metric"]["instance"] for r in json.load(sys.stdin)["data"]["result"])))' 2> /dev/null)" = "$1" ]; }
check "the expression lists miner-b only, within the 15 s lookback (+ 30 s)" wait_for 45 silent_is miner-b

finish
