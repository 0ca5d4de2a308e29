#!/usr/bin/env python3
"""The operator kit (monitoring/) in a real stack, on loopback.

    scripts/stack_test.py --exporter target/debug/linxdot-exporter \
        --dashboard-sim target/debug/examples/dashboard-sim \
        --sim-exporter target/debug/examples/sim-exporter [--miners 20] [--keep]

Runs a fleet of linxdot-exporter processes, each polling its own simulated
dashboard (distinct animal names and readings), plus one exporter with
simulated TEMPer sensors; a real Prometheus loading the kit's rules and a
file_sd targets file, remote-writing to a real VictoriaMetrics and sending
alerts to a real Alertmanager that uses the shipped alertmanager.yml.

Asserts: every target up; the miner variable lists every miner; every
recording rule yields series; every dashboard query (variables substituted)
returns data on Prometheus and on VictoriaMetrics; a healthy fleet has no
alert; stopping one simulated dashboard brings LinxdotDashboardDown to
Alertmanager for that miner only, named, and it resolves when the dashboard
is back; stopping that miner's exporter brings LinxdotExporterDown, and
Alertmanager inhibits the miner's other alerts. The Prometheus config is the shipped one with its intervals,
paths and addresses substituted; the rules are the shipped ones with every
`for:` shortened (a test overlay written here, never in monitoring/).

Every process is started here and stopped here by PID; all data lives in a
temporary directory, removed at the end (kept with --keep or on failure when
KEEP=1). Every wait polls for its condition with a deadline.
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KIT = os.path.join(ROOT, "monitoring")
TOTAL_DEADLINE = 200  # seconds for the whole run, start to finish
ADJECTIVES = ["fancy", "brisk", "quiet", "rapid", "tall", "gentle", "bold", "calm", "eager", "proud",
              "witty", "sunny", "shy", "loud", "merry", "noble", "odd", "plain", "silly", "tame",
              "vast", "wild", "young", "zany", "keen"]
COLOURS = ["lime", "amber", "teal", "grey", "ruby", "jade", "ivory", "navy", "olive", "coral",
           "plum", "rose", "sand", "slate", "azure", "cream", "denim", "flax", "gold", "hazel",
           "lilac", "mint", "ochre", "pearl", "rust"]
ANIMALS = ["wolf", "otter", "heron", "moth", "newt", "badger", "crane", "dingo", "eagle", "ferret",
           "gecko", "hyena", "ibis", "jackal", "koala", "lemur", "marten", "narwhal", "ocelot", "panda",
           "quail", "raven", "stoat", "tapir", "urchin"]

START = time.monotonic()
PROCS = []  # (name, Popen), stopped in reverse order


def log(msg):
    print(f"[{time.monotonic() - START:6.1f}s] {msg}", flush=True)


class Failure(Exception):
    pass


def left():
    return TOTAL_DEADLINE - (time.monotonic() - START)


def wait_for(what, condition, timeout):
    """Polls condition() until it returns a true value (returned) or the deadline passes."""
    deadline = time.monotonic() + min(timeout, max(left(), 0))
    last = None
    while True:
        try:
            value = condition()
            if value:
                return value
        except (OSError, ValueError, KeyError) as e:  # not up yet, or a bad answer so far
            last = e
        if time.monotonic() >= deadline:
            raise Failure(f"timed out waiting for {what}" + (f" (last error: {last})" if last else ""))
        time.sleep(0.25)


def free_ports(n):
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def start(name, argv, logdir, env=None):
    out = open(os.path.join(logdir, name + ".log"), "wb")
    p = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                         env=env, cwd=logdir)
    out.close()
    PROCS.append((name, p))
    return p


def stop(p, name=""):
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=5)


def stop_all():
    for name, p in reversed(PROCS):
        stop(p, name)
    PROCS.clear()


def http_get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode("utf-8", "replace")


def api(base, path, **params):
    q = urllib.parse.urlencode(params, doseq=True)
    body = json.loads(http_get(f"{base}{path}?{q}" if q else f"{base}{path}"))
    if body.get("status") != "success":
        raise ValueError(f"{path} {params}: {body}")
    return body["data"]


def query_has_data(base, expr):
    """Whether `expr` gives samples on the engine at `base`, as a range query over the last 30 s
    and as an instant query (what a dashboard panel asks)."""
    res = api(base, "/api/v1/query_range", query=expr, start=f"{time.time() - 30:.3f}",
              end=f"{time.time():.3f}", step="2")["result"]
    inst = api(base, "/api/v1/query", query=expr)["result"]
    return res and inst


def tcp_open(port):
    with socket.create_connection(("127.0.0.1", port), timeout=1):
        return True


def alert_iterations(prom):
    """How many times Prometheus has evaluated the linxdot.alerts group (its own metrics)."""
    for line in http_get(f"{prom}/metrics").splitlines():
        if line.startswith("prometheus_rule_group_iterations_total{") and ';linxdot.alerts"' in line:
            return float(line.rsplit(" ", 1)[1])
    raise ValueError("no prometheus_rule_group_iterations_total for linxdot.alerts")


def substitute(text, old, new, count):
    """Replaces old by new in text; exactly `count` occurrences must be there."""
    found = text.count(old)
    if found != count:
        raise Failure(f"prometheus.yml: expected {count} x {old!r}, found {found}: the shipped file changed?")
    return text.replace(old, new)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--exporter", required=True)
    ap.add_argument("--dashboard-sim", required=True)
    ap.add_argument("--sim-exporter", required=True)
    ap.add_argument("--miners", type=int, default=20, help="exporters over a simulated dashboard (plus one with TEMPer)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--prometheus", default="prometheus")
    ap.add_argument("--alertmanager", default=shutil.which("prometheus-alertmanager") or "alertmanager")
    ap.add_argument("--victoria-metrics", default="victoria-metrics")
    args = ap.parse_args()
    for key in ("exporter", "dashboard_sim", "sim_exporter"):
        setattr(args, key, os.path.abspath(getattr(args, key)))

    tmp = tempfile.mkdtemp(prefix="linxdot-stack-")
    log(f"work directory {tmp}")
    ok = False
    try:
        run(args, tmp)
        ok = True
    except Failure as e:
        log(f"FAILED: {e}")
    finally:
        stop_all()
        if not ok:
            for name in sorted(os.listdir(os.path.join(tmp, "logs"))) if os.path.isdir(os.path.join(tmp, "logs")) else []:
                if name.split(".")[0] in ("prometheus", "alertmanager", "victoria-metrics"):
                    with open(os.path.join(tmp, "logs", name), "rb") as f:
                        tail = f.read()[-1500:].decode("utf-8", "replace")
                    print(f"--- tail of {name}\n{tail}")
        if args.keep or (not ok and os.environ.get("KEEP") == "1"):
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    log("PASS" if ok else "FAIL")
    return 0 if ok else 1


def run(args, tmp):
    logs = os.path.join(tmp, "logs")
    os.makedirs(logs)
    n = args.miners + 1  # the last one has TEMPer sensors
    ports = free_ports(2 * n + 4)
    sim_ports, exp_ports = ports[:n], ports[n:2 * n]
    prom_port, am_port, vm_port, am_cluster = ports[2 * n:]

    # --- the fleet ------------------------------------------------------------------------------
    miners = []
    for i in range(n):
        name = f"{ADJECTIVES[i % 25]}-{COLOURS[(i * 7) % 25]}-{ANIMALS[(i * 3) % 25]}"
        system = {"animal_name": name, "firmware": f"Linxdot 1.2.{20 + i % 7} r17752-8c4a79dd5",
                  "model_name": "LD-1001" if i % 3 else "LD-1002", "region": ["EU868", "US915", "AU915"][i % 3],
                  "sn": f"LD1NTV{i:09d}", "cpu_temp": round(38 + 1.3 * i, 3), "cpu_usage": 3 + i,
                  "memory_usage": str(20 + 2 * i), "storage_usage": 30 + 1.5 * i, "uptime": 1000 * i,
                  "lan_ip": f"192.0.2.{10 + i}"}
        path = os.path.join(tmp, f"system-{i}.json")
        with open(path, "w") as f:
            json.dump(system, f)
        miners.append({"i": i, "name": name, "json": path, "sim_port": sim_ports[i], "port": exp_ports[i],
                       "instance": f"127.0.0.1:{exp_ports[i]}", "temper": i == n - 1,
                       "site": "north" if i % 2 else "south"})
    assert len({m["name"] for m in miners}) == n

    def start_sim(m):
        m["sim"] = start(f"sim-{m['i']}", [args.dashboard_sim, "--listen", f"127.0.0.1:{m['sim_port']}",
                                           "--system-json", m["json"]], logs)

    env = dict(os.environ, MINER_USERNAME="admin", MINER_PASSWORD="admin")
    for m in miners:
        start_sim(m)
    for m in miners:
        wait_for(f"dashboard simulator {m['i']}", lambda: tcp_open(m["sim_port"]), 20)
    for m in miners:
        common = ["-o", f"127.0.0.1:{m['sim_port']}", "-r", "1", "--timeout", "1",
                  "--bind-address", "127.0.0.1", "-t", str(m["port"]), "--thread-count", "2"]
        if m["temper"]:
            argv = [args.sim_exporter, "--sim-sensors", "3"] + common
        else:
            argv = [args.exporter, "--no-temper"] + common
        m["exporter"] = start(f"exporter-{m['i']}", argv, logs, env)
    for m in miners:
        wait_for(f"exporter {m['i']} serving its miner",
                 lambda: "\nminer_up 1" in http_get(f"http://127.0.0.1:{m['port']}/metrics"), 30)
    temper_miner = miners[-1]
    wait_for("TEMPer readings", lambda: "temper_humidity_rh{" in
             http_get(f"http://127.0.0.1:{temper_miner['port']}/metrics"), 30)
    log(f"{n} exporters up over {n} simulated dashboards ({temper_miner['name']} with 3 TEMPer sensors)")

    # --- targets file, rules overlay, Prometheus config derived from the shipped one -----------
    tdir = os.path.join(tmp, "targets")
    os.makedirs(tdir)
    with open(os.path.join(tdir, "linxdot-fleet.yml"), "w") as f:
        for site in ("north", "south"):
            f.write(f"- labels: {{site: {site}}}\n  targets:\n")
            for m in miners:
                if m["site"] == site:
                    f.write(f"    - {m['instance']}\n")
    rdir = os.path.join(tmp, "rules")
    os.makedirs(rdir)
    rule_files = []
    for name in ("linxdot-rules.yml", "linxdot-alerts.yml", "lora-alerts.yml"):
        with open(os.path.join(KIT, "prometheus", "rules", name)) as f:
            text = f.read()
        text = re.sub(r"(?m)^(\s+for:) \S+$", r"\1 3s", text)
        dst = os.path.join(rdir, name)
        with open(dst, "w") as f:
            f.write(text)
        rule_files.append(dst)
    r = subprocess.run(["promtool", "check", "rules"] + rule_files, capture_output=True, text=True)
    if r.returncode != 0:
        raise Failure(f"the test overlay of the rules does not load: {r.stdout}{r.stderr}")

    with open(os.path.join(KIT, "prometheus", "prometheus.yml")) as f:
        conf = f.read()
    conf = substitute(conf, "scrape_interval: 60s", "scrape_interval: 1s", 2)
    conf = substitute(conf, "evaluation_interval: 60s", "evaluation_interval: 1s", 1)
    conf = substitute(conf, "scrape_timeout: 10s", "scrape_timeout: 1s", 2)
    conf = substitute(conf, "  - rules/linxdot-rules.yml\n  - rules/linxdot-alerts.yml\n  - rules/lora-alerts.yml\n",
                      "".join(f"  - {p}\n" for p in rule_files), 1)
    conf = substitute(conf, '["127.0.0.1:9093"]', f'["127.0.0.1:{am_port}"]', 1)
    conf = substitute(conf, "- targets/linxdot-*.yml", f"- {tdir}/linxdot-*.yml", 1)
    conf += f"\nremote_write:\n  - url: http://127.0.0.1:{vm_port}/api/v1/write\n" \
            "    queue_config:\n      batch_send_deadline: 1s\n"
    prom_yml = os.path.join(tmp, "prometheus.yml")
    with open(prom_yml, "w") as f:
        f.write(conf)
    r = subprocess.run(["promtool", "check", "config", prom_yml], capture_output=True, text=True)
    if r.returncode != 0:
        raise Failure(f"derived prometheus.yml does not load: {r.stdout}{r.stderr}")

    # --- VictoriaMetrics, Alertmanager, Prometheus -------------------------------------------------
    start("victoria-metrics", [args.victoria_metrics, f"-storageDataPath={tmp}/vm",
                               f"-httpListenAddr=127.0.0.1:{vm_port}", "-retentionPeriod=1d",
                               "-search.latencyOffset=1s", "-search.disableCache", "-loggerLevel=WARN"], logs)
    start("alertmanager", [args.alertmanager, f"--config.file={KIT}/alertmanager/alertmanager.yml",
                           f"--storage.path={tmp}/am", f"--web.listen-address=127.0.0.1:{am_port}",
                           f"--cluster.listen-address=127.0.0.1:{am_cluster}", "--log.level=warn"], logs)
    start("prometheus", [args.prometheus, f"--config.file={prom_yml}", f"--storage.tsdb.path={tmp}/prom",
                         f"--web.listen-address=127.0.0.1:{prom_port}", "--rules.alert.resend-delay=1s",
                         "--log.level=warn"], logs)
    prom, vm, am = (f"http://127.0.0.1:{p}" for p in (prom_port, vm_port, am_port))
    wait_for("VictoriaMetrics", lambda: http_get(f"{vm}/health").strip() == "OK", 30)
    wait_for("Alertmanager", lambda: http_get(f"{am}/-/ready") is not None, 30)
    wait_for("Prometheus", lambda: http_get(f"{prom}/-/ready") is not None, 30)
    log("Prometheus, Alertmanager and VictoriaMetrics ready")

    # --- every target up -----------------------------------------------------------------------------
    def targets_up():
        active = [t for t in api(prom, "/api/v1/targets")["activeTargets"] if t["labels"]["job"] == "linxdot"]
        return len(active) == n and all(t["health"] == "up" for t in active) and active
    active = wait_for(f"{n} linxdot targets up", targets_up, 30)
    assert {t["labels"]["instance"] for t in active} == {m["instance"] for m in miners}
    log(f"targets: {len(active)}/{n} up in job linxdot")

    # --- the rules' series on both engines -----------------------------------------------------------
    records = []
    with open(os.path.join(KIT, "prometheus", "rules", "linxdot-rules.yml")) as f:
        records = re.findall(r"(?m)^\s+- record: (\S+)$", f.read())
    engines = {"Prometheus": prom, "VictoriaMetrics": vm}
    names = {m["name"] for m in miners}
    for engine, base in engines.items():
        wait_for(f"{engine}: every miner named in instance:miner_exporter_info:last", lambda: names == set(
            api(base, "/api/v1/label/animal_name/values",
                **{"match[]": 'instance:miner_exporter_info:last{job=~"linxdot"}'})), 60)
        for rec in records:
            wait_for(f"{engine}: series of {rec}",
                     lambda: api(base, "/api/v1/query", query=f"count({rec})")["result"], 60)
    log(f"miner variable lists all {n} miners and all {len(records)} recording rules have series, on both engines")

    # Each miner's own readings, under its own name, on both engines.
    expected = {}
    for m in miners:
        with open(m["json"]) as f:
            expected[m["name"]] = json.load(f)["cpu_temp"]
    named_temp = 'miner_cpu_temp{job="linxdot"} * on (job, instance) group_left (animal_name) ' \
                 'instance:miner_exporter_info:last'
    for engine, base in engines.items():
        got = {r["metric"]["animal_name"]: float(r["value"][1])
               for r in api(base, "/api/v1/query", query=named_temp)["result"]}
        if got != expected:
            raise Failure(f"{engine}: CPU temperatures by animal name {got}, expected {expected}")
    log(f"each miner's CPU temperature under its animal name, on both engines ({n} distinct values)")

    # --- every dashboard query on both engines ---------------------------------------------------------
    out = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "check-dashboard.py"), "--queries",
                          os.path.join(KIT, "grafana", "linxdot.json")], capture_output=True, text=True, check=True)
    dash = json.loads(out.stdout)
    # The miner variable's own query, as Grafana runs it (label_values(SELECTOR, LABEL)).
    m = re.fullmatch(r"label_values\((.*), (\w+)\)", dash["variables"]["miner"])
    assert m, dash["variables"]["miner"]
    var_selector = m.group(1).replace("$job", "linxdot")
    jm = re.fullmatch(r"label_values\((.*), (\w+)\)", dash["variables"]["job"])
    for engine, base in engines.items():
        listed = set(api(base, f"/api/v1/label/{m.group(2)}/values", **{"match[]": var_selector}))
        if listed != names:
            raise Failure(f"{engine}: miner variable lists {sorted(listed)}, expected {sorted(names)}")
        jobs = set(api(base, f"/api/v1/label/{jm.group(2)}/values", **{"match[]": jm.group(1)}))
        if "linxdot" not in jobs:
            raise Failure(f"{engine}: job variable lists {jobs}")
    # Grafana substitutes "All" by the variable's allValue (.*) and a multi-value
    # selection by (a|b), each value's regex characters escaped for a PromQL string.
    def grafana_escape(v):
        return "".join("\\\\" + c if c in "\\^$*+?.()|{}[]" else c for c in v)
    picked = [miners[0]["name"], temper_miner["name"]]
    selections = {"All": ".*", "|".join(picked): "(" + "|".join(grafana_escape(v) for v in picked) + ")"}
    checked = {e: 0 for e in engines}
    now = time.time()
    for sel_name, sel in selections.items():
        for q in dash["panels"]:
            if "lora_" in q["expr"]:  # this fleet has no radio: scripts/ci-stack-lora.sh proves these
                continue
            expr = (q["expr"].replace("$__rate_interval", "15s").replace("$job", "linxdot")
                    .replace("$miner", sel))
            for engine, base in engines.items():
                try:
                    wait_for(f"data for {q['panel']} {q['refId']}",
                             lambda: query_has_data(base, expr), 20)
                except Failure as e:
                    raise Failure(f"{engine}, miner={sel_name}: panel {q['panel']!r} {q['refId']}: "
                                  f"no data for {expr}: {e}")
                checked[engine] += 1
    log("dashboard queries with data (range and instant, miner=All and miner=" + "|".join(picked) + "): "
        + ", ".join(f"{e} {c}" for e, c in checked.items()) + f" ({len(dash['panels'])} queries x "
        f"{len(selections)} selections each; took {time.time() - now:.1f}s)")

    # --- a healthy fleet: no alert ---------------------------------------------------------------------
    firing = api(prom, "/api/v1/query", query='ALERTS{alertname=~"Linxdot.*"}')["result"]
    if firing:
        raise Failure(f"alerts on a healthy fleet: {[a['metric'] for a in firing]}")
    log("healthy fleet: no Linxdot alert pending or firing")

    # --- one dashboard stops: LinxdotDashboardDown for that miner only ----------------------------------
    victim = miners[3]
    stop(victim["sim"])
    log(f"stopped the dashboard simulator of {victim['name']} ({victim['instance']})")

    def am_alerts(name):
        return [a for a in json.loads(http_get(f"{am}/api/v2/alerts?active=true"))
                if a["labels"].get("alertname") == name]
    got = wait_for("LinxdotDashboardDown in Alertmanager", lambda: am_alerts("LinxdotDashboardDown"), 60)
    # Three more evaluations of the alerts (and as many polls of every other
    # dashboard): still the victim only.
    seen = alert_iterations(prom)
    wait_for("three more evaluations of the alerts", lambda: alert_iterations(prom) >= seen + 3, 30)
    got = am_alerts("LinxdotDashboardDown")
    instances = sorted(a["labels"]["instance"] for a in got)
    if instances != [victim["instance"]]:
        raise Failure(f"LinxdotDashboardDown for {instances}, expected only {victim['instance']}")
    labels = got[0]["labels"]
    if labels.get("animal_name") != victim["name"] or labels.get("job") != "linxdot" or \
            labels.get("severity") != "warning" or labels.get("site") != victim["site"]:
        raise Failure(f"LinxdotDashboardDown labels {labels}")
    summary = got[0]["annotations"].get("summary", "")
    if f"{victim['name']} ({victim['instance']})" not in summary:
        raise Failure(f"summary does not name the miner: {summary!r}")
    log(f"Alertmanager has LinxdotDashboardDown for {victim['instance']} only, "
        f"animal_name={labels['animal_name']}: {summary!r}")

    # The failed polls add up to LinxdotDashboardPollErrors (reason connection) too; it stays
    # for the 30 minutes it counts over, and is used below to see an inhibition.
    wait_for("LinxdotDashboardPollErrors firing for that miner", lambda: api(
        prom, "/api/v1/query", query='ALERTS{alertname="LinxdotDashboardPollErrors", alertstate="firing", '
        f'instance="{victim["instance"]}", reason="connection"}}')["result"], 60)

    # --- the dashboard comes back: the alert resolves ---------------------------------------------------
    start_sim(victim)
    wait_for("the simulator back", lambda: tcp_open(victim["sim_port"]), 20)
    wait_for("LinxdotDashboardDown resolved in Alertmanager", lambda: not am_alerts("LinxdotDashboardDown"), 60)
    wait_for("LinxdotDashboardDown resolved in Prometheus", lambda: not api(
        prom, "/api/v1/query", query='ALERTS{alertname="LinxdotDashboardDown"}')["result"], 30)
    # What the outage leaves behind (the failed polls counted over 30 minutes)
    # concerns the victim only.
    rest = api(prom, "/api/v1/query", query='ALERTS{alertname=~"Linxdot.*"}')["result"]
    others = [a["metric"] for a in rest if a["metric"].get("instance") != victim["instance"]]
    if others:
        raise Failure(f"alerts about other miners: {others}")
    log("dashboard back: LinxdotDashboardDown resolved; alerts still active, all about that miner: "
        + (", ".join(sorted({a['metric']['alertname'] for a in rest})) or "none"))

    # --- its exporter stops: LinxdotExporterDown, and Alertmanager holds back the rest -----------------
    stop(victim["exporter"])
    log(f"stopped the exporter of {victim['name']}")
    down = wait_for("LinxdotExporterDown in Alertmanager", lambda: am_alerts("LinxdotExporterDown"), 60)
    if [a["labels"]["instance"] for a in down] != [victim["instance"]] or \
            down[0]["labels"].get("animal_name") != victim["name"]:
        raise Failure(f"LinxdotExporterDown: {[a['labels'] for a in down]}")
    others = [a for a in json.loads(http_get(f"{am}/api/v2/alerts?active=true"))
              if a["labels"].get("instance") == victim["instance"]
              and a["labels"]["alertname"] != "LinxdotExporterDown"]
    if not others:
        raise Failure("no other alert about that miner to see inhibited (LinxdotDashboardPollErrors expected)")
    for a in others:
        if a["status"]["state"] != "suppressed" or not a["status"]["inhibitedBy"]:
            raise Failure(f"{a['labels']['alertname']} not inhibited while the exporter is down: {a['status']}")
    log(f"LinxdotExporterDown for {victim['name']} only; Alertmanager inhibits its "
        + ", ".join(sorted(a["labels"]["alertname"] for a in others)))


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    sys.exit(main())
