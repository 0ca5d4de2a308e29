#!/usr/bin/env bash
# What a newcomer runs first, checked without pulling anything:
#   1. monitoring/compose.yml, the stack in one command: the compose file
#      validated by a compose tool (docker-compose from Debian, `config`:
#      its schema, interpolation, profiles), every file it mounts present,
#      Prometheus' config checked by promtool as mounted (paths as inside the
#      container) with the rules and the alerts' unit tests, its linxdot job
#      the same as the shipped one, Alertmanager's config by amtool (also with
#      every commented receiver example uncommented), and Grafana's
#      provisioning files against Grafana's documented format
#      (scripts/check-grafana-provisioning.py); each checker is shown a broken
#      file and must refuse it;
#   2. scripts/demo.sh: a run prints this demo's scrape (miner, two TEMPer
#      sensors and, as root, LoRa uplinks); with a port taken it names the port and the variable
#      that moves it, prints no scrape and leaves nothing running; --serve
#      stops everything on Ctrl-C; the landing page keeps flags on one line.
# Images are not pulled or run (nothing can be pulled on CI machines).
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)

bash scripts/install-debs.sh docker-compose prometheus prometheus-alertmanager
py=python3
python3 -c 'import yaml' 2>/dev/null || py=/usr/bin/python3
tmp=$(mktemp -d)
pids=()
# shellcheck disable=SC2317  # called through the trap
cleanup() {
    local pid
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "ci-compose: FAIL: $*" >&2; exit 1; }
stack=monitoring/compose.yml

echo "--- docker-compose config: $stack, with and without the demo profile"
docker-compose --version
docker-compose -f "$stack" config -q
docker-compose -f "$stack" --profile demo config --services | sort >"$tmp/services"
printf '%s\n' alertmanager demo grafana prometheus | cmp -s - "$tmp/services" ||
    fail "services: $(tr '\n' ' ' <"$tmp/services")"
# The validator must refuse what it is there for: a misspelt key, a bad port.
sed 's/^    restart: unless-stopped$/    restrat: unless-stopped/' "$stack" >monitoring/.compose-broken.yml
if docker-compose -f monitoring/.compose-broken.yml config -q >"$tmp/out" 2>&1; then
    rm -f monitoring/.compose-broken.yml; fail "docker-compose accepted a misspelt key"
fi
rm -f monitoring/.compose-broken.yml

echo "--- every file the stack mounts exists; its ports are on 127.0.0.1 unless asked"
"$py" - "$stack" <<'EOF'
import os, sys, yaml
path = sys.argv[1]
base = os.path.dirname(os.path.abspath(path))
doc = yaml.safe_load(open(path))
problems = []
for name, svc in doc["services"].items():
    for v in svc.get("volumes", []):
        src = v.split(":")[0]
        if src.startswith((".", "/")) and not os.path.exists(os.path.join(base, src)):
            problems.append(f"{name}: mounts {src}, which does not exist")
        elif not src.startswith((".", "/")) and src not in (doc.get("volumes") or {}):
            problems.append(f"{name}: volume {src} is not declared")
    for p in svc.get("ports", []):
        if not str(p).startswith("${LINXDOT_STACK_BIND:-127.0.0.1}:"):
            problems.append(f"{name}: port {p} not behind LINXDOT_STACK_BIND (default 127.0.0.1)")
    image = svc.get("image", "")
    if ":" not in image.rsplit("/", 1)[-1] or image.endswith(":latest"):
        problems.append(f"{name}: image {image!r} has no fixed tag")
if problems:
    sys.exit("\n".join(problems))
print(f"{path}: {len(doc['services'])} services, mounts present, ports on 127.0.0.1 by default")
EOF

echo "--- promtool on the stack's Prometheus config, as mounted in the container"
# The container's /etc/prometheus/... rebuilt under $tmp from the compose
# file's bind mounts, and the config's paths pointed there.
root="$tmp/root"
mkdir -p "$root/etc/prometheus"
ln -s "$PWD/monitoring/prometheus" "$root/etc/prometheus/linxdot"
sed "s|/etc/prometheus/|$root/etc/prometheus/|g" monitoring/compose/prometheus.yml >"$root/etc/prometheus/linxdot-stack.yml"
promtool check config "$root/etc/prometheus/linxdot-stack.yml"
promtool test rules monitoring/prometheus/tests/*.yml
"$py" - monitoring/prometheus/prometheus.yml monitoring/compose/prometheus.yml <<'EOF'
import sys, yaml
shipped, stack = (yaml.safe_load(open(p)) for p in sys.argv[1:])
job = lambda doc: next(j for j in doc["scrape_configs"] if j["job_name"] == "linxdot")
a, b = job(shipped), job(stack)
# The stack adds the demo exporter (dns_sd + its instance label) and mounts
# the targets elsewhere; everything else must be the shipped job.
for extra in ("dns_sd_configs", "relabel_configs"):
    b.pop(extra)
b["file_sd_configs"][0]["files"] = [f.replace("/etc/prometheus/linxdot/", "") for f in b["file_sd_configs"][0]["files"]]
if a != b:
    sys.exit(f"the stack's linxdot job differs from prometheus/prometheus.yml's:\n{a}\n{b}")
rules = [r.replace("/etc/prometheus/linxdot/", "") for r in stack["rule_files"]]
if rules != shipped["rule_files"]:
    sys.exit(f"rule files {rules} != {shipped['rule_files']}")
print("the stack's linxdot job and rule files are the shipped ones")
EOF

echo "--- amtool: alertmanager.yml as shipped, and with every receiver example uncommented"
amtool check-config monitoring/alertmanager/alertmanager.yml
sed -E 's/^( *)# ( *)(email_configs:|webhook_configs:|telegram_configs:|- to:|- url:|- bot_token:|from:|smarthost:|send_resolved:|chat_id:)/\1\2\3/' \
    monitoring/alertmanager/alertmanager.yml >"$tmp/alertmanager-examples.yml"
for kind in email_configs webhook_configs telegram_configs; do
    grep -q "^ *$kind:" "$tmp/alertmanager-examples.yml" || fail "no $kind example uncommented"
done
amtool check-config "$tmp/alertmanager-examples.yml"
if grep -nE '^ *[^#]*url: *https?://(127\.0\.0\.1|localhost)' monitoring/alertmanager/alertmanager.yml; then
    fail "alertmanager.yml sends to a local URL where nothing listens"
fi

echo "--- Grafana provisioning files against Grafana's documented format"
"$py" scripts/check-grafana-provisioning.py "$stack"
mkdir -p "$tmp/broken/grafana/provisioning/datasources" "$tmp/broken/grafana/provisioning/dashboards"
cp monitoring/grafana/linxdot.json "$tmp/broken/grafana/"
cp monitoring/grafana/provisioning/dashboards/linxdot.yml "$tmp/broken/grafana/provisioning/dashboards/"
cp "$stack" "$tmp/broken/compose.yml"
for broken in 's/^    type: prometheus$/    typ: prometheus/' \
    's/^    access: proxy$/    access: server/' \
    's|url: http://prometheus:9090|url: http://prometheus:9091|' \
    's/^apiVersion: 1$/apiVersion: 2/'; do
    sed "$broken" monitoring/grafana/provisioning/datasources/linxdot.yml \
        >"$tmp/broken/grafana/provisioning/datasources/linxdot.yml"
    if "$py" scripts/check-grafana-provisioning.py "$tmp/broken/compose.yml" >"$tmp/out" 2>&1; then
        fail "check-grafana-provisioning.py accepted a broken data source ($broken)"
    fi
done

echo "--- scripts/demo.sh (release build)"
# Below the ephemeral range (32768 and up), where outgoing connections
# take ports at random.
port=$((20000 + RANDOM % 10000))
dport=$((port + 1))
# A port that is taken: named, with its variable; no scrape; nothing left.
/usr/bin/python3 -c "import socket,sys,time
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen(8); time.sleep(600)" "$port" &
pids+=($!)
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
status=0
DEMO_PORT=$port DEMO_DASHBOARD_PORT=$dport bash scripts/demo.sh >"$tmp/out" 2>&1 || status=$?
[ "$status" = 1 ] || fail "demo with DEMO_PORT taken: exit $status"
grep -q "port $port on 127.0.0.1 (the exporter) is taken.*DEMO_PORT" "$tmp/out" || fail "$(cat "$tmp/out")"
! grep -q '^# HELP' "$tmp/out" || fail "a scrape was printed with the port taken"
status=0
DEMO_PORT=$dport DEMO_DASHBOARD_PORT=$port bash scripts/demo.sh >"$tmp/out" 2>&1 || status=$?
[ "$status" = 1 ] || fail "demo with DEMO_DASHBOARD_PORT taken: exit $status"
grep -q "port $port on 127.0.0.1 (the dashboard simulator) is taken.*DEMO_DASHBOARD_PORT" "$tmp/out" ||
    fail "$(cat "$tmp/out")"
# A port bound but not listening passes the check; the exporter then cannot
# listen, and the demo says so (the EXIT trap then stops the simulator,
# which is still running, without failing on anything already gone).
/usr/bin/python3 -c "import socket,sys,time
s=socket.socket(); s.bind(('127.0.0.1', int(sys.argv[1]))); time.sleep(600)" "$((port + 2))" &
pids+=($!)
sleep 0.5
status=0
DEMO_PORT=$((port + 2)) DEMO_DASHBOARD_PORT=$((port + 3)) bash scripts/demo.sh >"$tmp/out" 2>&1 || status=$?
[ "$status" = 1 ] || fail "demo with its port bound elsewhere: exit $status"
for want in "Address already in use" "choose a free one with DEMO_PORT"; do
    grep -q "$want" "$tmp/out" || fail "$(cat "$tmp/out")"
done
! pgrep -f "dashboard-sim --listen 127.0.0.1:$((port + 3))" >/dev/null || fail "the simulator was left running"
cat "$tmp/out"
# A normal run: this demo's scrape, the miner and both sensors.
DEMO_PORT=$((port + 4)) DEMO_DASHBOARD_PORT=$((port + 5)) bash scripts/demo.sh >"$tmp/out" 2>&1 ||
    fail "demo: $(cat "$tmp/out")"
for want in "^----- http://127.0.0.1:$((port + 4))/metrics -----" '^miner_up 1' '^temper_devices 2'; do
    grep -q "$want" "$tmp/out" || fail "$(cat "$tmp/out")"
done
! pgrep -f "sim-exporter.*--port $((port + 4))" >/dev/null || fail "the demo left its exporter running"
# --serve until Ctrl-C (SIGINT to the script, as a terminal sends it): the
# landing page shows the miner and the sensors, flags stay on one line, and
# everything stops.
"$py" - "$((port + 6))" "$((port + 7))" "$((port + 8))" <<'EOF'
import os, signal, subprocess, sys, time, urllib.request
port, dport, lport = sys.argv[1:]
env = dict(os.environ, DEMO_PORT=port, DEMO_DASHBOARD_PORT=dport, DEMO_LORA_PORT=lport)
demo = subprocess.Popen(["bash", "scripts/demo.sh", "--serve"], env=env, stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT, text=True, start_new_session=True)
page = ""
for _ in range(300):
    try:
        page = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).read().decode()
        if "TEMPer2 internal" in page and "good, " in page and (
                os.geteuid() != 0 or "Packets heard" in page):
            break
    except OSError:
        pass
    time.sleep(0.1)
for want in ["<h1>fancy-lime-wolf</h1>", "<h2>TEMPer sensors</h2>", "TEMPerHUM",
             f"<td>http://127.0.0.1:{dport}/</td>", "code{font-size:.9em;white-space:nowrap}"] + (
                 # As root the demo adds the LoRa capture over the GWMP simulator.
                 ["<h2>LoRa radio</h2>", "on lo, UDP "] if os.geteuid() == 0 else []):
    assert want in page, f"{want!r} not on the landing page:\n{page}"
os.kill(demo.pid, signal.SIGINT)
out, _ = demo.communicate(timeout=20)
assert demo.returncode == 130, f"exit {demo.returncode}:\n{out}"
left = subprocess.run(["pgrep", "-f", f"--port {port}|--listen 127.0.0.1:{dport}|--server 127.0.0.1:{lport}"],
                      capture_output=True, text=True).stdout
assert not left.strip(), f"left running after Ctrl-C: {left}"
print(f"demo --serve: landing page as in the README, Ctrl-C stopped everything (exit {demo.returncode})")
EOF

echo "ci-compose: OK in $(($(date +%s) - started))s"
