#!/usr/bin/env bash
# The operator kit (monitoring/) checked with the real programs:
#   1. promtool check config / check rules / test rules, amtool check-config,
#      vmalert -dryRun on the rules, vmagent -dryRun on the scrape config, the
#      Grafana dashboard's structure and its types (npm @grafana/schema, tsc);
#   2. scripts/stack_test.py: a fleet of exporters over simulated dashboards,
#      a real Prometheus, VictoriaMetrics and Alertmanager on loopback.
# Installs prometheus, prometheus-alertmanager and victoria-metrics with apt
# when they are missing. Uses the debug build `cargo test` already made.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)

bash scripts/install-debs.sh prometheus prometheus-alertmanager victoria-metrics

kit=monitoring
echo "--- promtool check config, check rules, test rules"
promtool check config "$kit/prometheus/prometheus.yml"
promtool check rules "$kit"/prometheus/rules/*.yml
promtool test rules "$kit"/prometheus/tests/*.yml

echo "--- amtool check-config"
amtool check-config "$kit/alertmanager/alertmanager.yml"

echo "--- vmalert -dryRun (the rules also load in VictoriaMetrics' rule engine)"
rule_args=()
for f in "$kit"/prometheus/rules/*.yml; do rule_args+=("-rule=$f"); done
vmalert -dryRun -loggerLevel=ERROR "${rule_args[@]}"

echo "--- vmagent -dryRun (the scrape config as a vmagent at a site would read it)"
vmagent -dryRun -loggerLevel=ERROR -promscrape.config="$kit/prometheus/prometheus.yml" \
    -promscrape.config.strictParse=false

echo "--- Grafana dashboard structure"
python3 scripts/check-dashboard.py "$kit/grafana/linxdot.json"
# The checker itself must catch what it is there for: a panel overlapping
# another, a fixed data source uid, a duplicated panel id.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 - "$kit/grafana/linxdot.json" "$tmp" <<'EOF'
import json, sys
src, out = sys.argv[1], sys.argv[2]
for name, change in [
    ("overlap", lambda d: d["panels"][2]["gridPos"].update(x=d["panels"][1]["gridPos"]["x"])),
    ("fixed-uid", lambda d: d["panels"][5]["targets"][0].update(datasource={"type": "prometheus", "uid": "abc"})),
    ("dup-id", lambda d: d["panels"][3].update(id=d["panels"][4]["id"])),
]:
    d = json.load(open(src))
    change(d)
    json.dump(d, open(f"{out}/{name}.json", "w"))
EOF
for broken in overlap fixed-uid dup-id; do
    if python3 scripts/check-dashboard.py "$tmp/$broken.json" >"$tmp/out" 2>&1; then
        echo "check-dashboard.py accepted a broken dashboard ($broken)"; exit 1
    fi
done

echo "--- Grafana dashboard against Grafana's published types (npm @grafana/schema, tsc)"
command -v npm >/dev/null || bash scripts/install-debs.sh nodejs npm
mkdir "$tmp/schema"
(cd "$tmp/schema" && npm install --silent --no-save --no-audit --no-fund \
    @grafana/schema@11.6.16 typescript@5.9.3 >/dev/null 2>&1) || {
    echo "npm install @grafana/schema typescript failed"; exit 1; }
python3 scripts/check-dashboard.py --typescript "$kit/grafana/linxdot.json" >"$tmp/schema/dashboard.ts"
(cd "$tmp/schema" && node_modules/.bin/tsc --noEmit --strict --skipLibCheck --moduleResolution node \
    --module commonjs --target es2020 dashboard.ts)
echo "$kit/grafana/linxdot.json: matches @grafana/schema 11.6.16"

echo "--- the fleet stack (scripts/stack_test.py)"
cargo build --quiet --bin linxdot-exporter --example dashboard-sim --example sim-exporter
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
python3 scripts/stack_test.py \
    --exporter "$target_dir/debug/linxdot-exporter" \
    --dashboard-sim "$target_dir/debug/examples/dashboard-sim" \
    --sim-exporter "$target_dir/debug/examples/sim-exporter" \
    --miners "${STACK_MINERS:-20}"

echo "ci-stack: OK in $(( $(date +%s) - started ))s"
