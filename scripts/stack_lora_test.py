#!/usr/bin/env python3
"""The LoRa part of the operator kit in a real stack, on loopback.

    scripts/stack_lora_test.py --exporter target/debug/linxdot-exporter \
        --dashboard-sim target/debug/examples/dashboard-sim \
        --gwmp-sim target/debug/examples/gwmp-sim [--keep]

Needs root (the exporters capture on lo: CAP_NET_RAW). Four hotspots, each an
exporter polling its own simulated dashboard (an animal name) and capturing
GWMP on its own UDP port, with a simulated packet forwarder and gateway
(examples/gwmp-sim) on that port:
  healthy  acks everything, no TX error, 20 uplinks/s;
  troubled IPv6, 20 % acked, a hot concentrator (80 °C), every other TX_ACK TOO_LATE, malformed datagrams;
  deaf     keep-alives and stats but no uplink;
  nocap    an exporter whose --lora-interface does not exist (lora_capture_up 0).
A real Prometheus with the shipped rules (every `for:` shortened, and the
LoRa alerts' 120 s / 3600 s / 1 h windows shortened, in a test overlay written
here) remote-writes to a real VictoriaMetrics.

Asserts: every query of the dashboard's "LoRa radio" row returns data on both
engines (range and instant, miner=All); each LoRa alert expression gives
exactly the expected hotspots on both engines, and Prometheus fires exactly
those alerts; stopping the healthy hotspot's forwarder fires
LinxdotLoraForwarderSilent for it alone. Helpers come from stack_test.py.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stack_test as st  # noqa: E402  (the fleet test's process, wait and API helpers)
from stack_test import KIT, Failure, api, free_ports, http_get, log, start, stop, wait_for  # noqa: E402

HOTSPOTS = {
    "healthy": {"name": "brisk-amber-otter", "sim": ["--uplinks-per-second", "20", "--ack-share", "1",
                                                     "--tx-errors", "NONE", "--temp", "45"]},
    "troubled": {"name": "quiet-teal-heron", "v6": True,
                 "sim": ["--uplinks-per-second", "20", "--ack-share", "0.2", "--tx-errors", "NONE,TOO_LATE",
                         "--temp", "80", "--malformed-every", "0.5", "--crc-fail", "0.3", "--crc-none", "0.1",
                         "--datarates", "SF7BW125,SF9BW125,SF12BW125,50000"]},
    "deaf": {"name": "rapid-grey-moth", "sim": ["--uplinks-per-second", "0", "--temp", "41"]},
    "nocap": {"name": "tall-jade-newt", "interface": "nolora0", "sim": None},
}
# Which hotspots each alert expression selects (before the stop).
EXPECTED = {
    "LinxdotLoraCaptureDown": {"nocap"},
    "LinxdotLoraForwarderSilent": set(),
    "LinxdotLoraNoUplinks": {"deaf"},
    "LinxdotLoraPushAckLow": {"troubled"},
    "LinxdotLoraConcentratorHot": {"troubled"},
    "LinxdotLoraTxErrorsRising": {"troubled"},
}


def overlay(text):
    """The shipped rules with test clocks: `for:` 3s; the LoRa windows in seconds."""
    text = re.sub(r"(?m)^(\s+for:) \S+$", r"\1 3s", text)
    for old, new in [("> 120", "> 6"), ("> 60", "> 6"), ("< 120", "< 6"), ("> 3600", "> 5"), ("[1h]", "[20s]"),
                     ("[15m]", "[20s]")]:
        text = text.replace(old, new)
    return text


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--exporter", required=True)
    ap.add_argument("--dashboard-sim", required=True)
    ap.add_argument("--gwmp-sim", required=True)
    ap.add_argument("--prometheus", default="prometheus")
    ap.add_argument("--victoria-metrics", default="victoria-metrics")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="lora-stack-")
    ok = False
    try:
        run(args, tmp)
        ok = True
    except Failure as e:
        log(f"FAILED: {e}")
    finally:
        st.stop_all()
        if ok and not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            log(f"kept {tmp} (logs in {tmp}/logs)")
    log("OK" if ok else "FAILED")
    return 0 if ok else 1


def run(args, tmp):
    logs = os.path.join(tmp, "logs")
    os.makedirs(logs)
    names = list(HOTSPOTS)
    ports = free_ports(3 * len(names) + 2)
    prom_port, vm_port = ports[-2:]
    env = dict(os.environ, MINER_USERNAME="admin", MINER_PASSWORD="admin")
    for i, key in enumerate(names):
        h = HOTSPOTS[key]
        h["sim_port"], h["port"], h["udp"] = ports[3 * i], ports[3 * i + 1], ports[3 * i + 2]
        h["instance"] = f"127.0.0.1:{h['port']}"
        path = os.path.join(tmp, f"system-{key}.json")
        with open(path, "w") as f:
            f.write('{"animal_name":"%s","firmware":"Linxdot 1.2.26","model_name":"LD-1001","region":"EU868",'
                    '"sn":"LD%d","cpu_temp":40,"cpu_usage":5,"memory_usage":"20","storage_usage":30}' % (h["name"], i))
        start(f"dashboard-{key}", [args.dashboard_sim, "--listen", f"127.0.0.1:{h['sim_port']}",
                                   "--system-json", path], logs)
        wait_for(f"dashboard simulator {key}", lambda: st.tcp_open(h["sim_port"]), 20)
        start(f"exporter-{key}", [args.exporter, "--no-temper", "-o", f"127.0.0.1:{h['sim_port']}", "-r", "1",
                                  "--bind-address", "127.0.0.1", "-t", str(h["port"]),
                                  "--lora-port", str(h["udp"]), "--lora-interface", h.get("interface", "lo"),
                                  "--temper-interval", "1"], logs, env)
        if h["sim"] is not None:
            server = f"[::1]:{h['udp']}" if h.get("v6") else f"127.0.0.1:{h['udp']}"
            h["gwmp"] = start(f"gwmp-sim-{key}", [args.gwmp_sim, "--server", server, "--stat-interval", "1",
                                                  "--keepalive", "1", "--downlink-every", "0.5",
                                                  "--ack-delay-ms", "3"] + h["sim"], logs)
    for key in names:
        h = HOTSPOTS[key]
        want = "lora_capture_up 0" if key == "nocap" else "lora_capture_up 1"
        wait_for(f"exporter {key} serving its miner and the radio",
                 lambda: all(s in http_get(f"http://127.0.0.1:{h['port']}/metrics")
                             for s in ("\nminer_up 1", want)), 30)
    log(f"{len(names)} hotspots up: " + ", ".join(f"{k} {HOTSPOTS[k]['instance']} udp {HOTSPOTS[k]['udp']}"
                                                   for k in names))

    rdir = os.path.join(tmp, "rules")
    os.makedirs(rdir)
    rule_files = []
    for name in ("linxdot-rules.yml", "lora-alerts.yml"):
        with open(os.path.join(KIT, "prometheus", "rules", name)) as f:
            text = overlay(f.read())
        dst = os.path.join(rdir, name)
        with open(dst, "w") as f:
            f.write(text)
        rule_files.append(dst)
    r = subprocess.run(["promtool", "check", "rules"] + rule_files, capture_output=True, text=True)
    if r.returncode != 0:
        raise Failure(f"the test overlay of the rules does not load: {r.stdout}{r.stderr}")
    targets = "".join(f"      - {HOTSPOTS[k]['instance']}\n" for k in names)
    prom_yml = os.path.join(tmp, "prometheus.yml")
    with open(prom_yml, "w") as f:
        f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"
                "rule_files:\n" + "".join(f"  - {p}\n" for p in rule_files) +
                "scrape_configs:\n  - job_name: linxdot\n    static_configs:\n    - targets:\n" + targets +
                f"remote_write:\n  - url: http://127.0.0.1:{vm_port}/api/v1/write\n"
                "    queue_config:\n      batch_send_deadline: 1s\n")
    start("victoria-metrics", [args.victoria_metrics, f"-storageDataPath={tmp}/vm",
                               f"-httpListenAddr=127.0.0.1:{vm_port}", "-retentionPeriod=1d",
                               "-search.latencyOffset=1s", "-search.disableCache", "-loggerLevel=WARN"], logs)
    start("prometheus", [args.prometheus, f"--config.file={prom_yml}", f"--storage.tsdb.path={tmp}/prom",
                         f"--web.listen-address=127.0.0.1:{prom_port}", "--log.level=warn"], logs)
    prom, vm = f"http://127.0.0.1:{prom_port}", f"http://127.0.0.1:{vm_port}"
    engines = {"prometheus": prom, "victoria-metrics": vm}
    wait_for("every target up", lambda: len(api(prom, "/api/v1/query", query='up{job="linxdot"} == 1')["result"])
             == len(names), 30)
    by_instance = {HOTSPOTS[k]["instance"]: k for k in names}

    # --- the dashboard's LoRa row on both engines ----------------------------------------------------
    out = subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "check-dashboard.py"),
                          "--queries", os.path.join(KIT, "grafana", "linxdot.json")],
                         capture_output=True, text=True, check=True)
    queries = [q for q in __import__("json").loads(out.stdout)["panels"] if "lora_" in q["expr"]]
    if len(queries) < 15:
        raise Failure(f"only {len(queries)} LoRa queries in the dashboard")
    started = time.time()
    for q in queries:
        expr = q["expr"].replace("$__rate_interval", "15s").replace("$job", "linxdot").replace("$miner", ".*")
        for engine, base in engines.items():
            try:
                wait_for(f"{engine}: data for {q['panel']} {q['refId']}",
                         lambda: st.query_has_data(base, expr), 60)
            except Failure as e:
                raise Failure(f"{engine}: panel {q['panel']!r} {q['refId']}: no data for {expr}: {e}")
    log(f"all {len(queries)} LoRa dashboard queries have data on both engines "
        f"({time.time() - started:.1f}s)")

    # Named by animal: the RSSI percentiles of the two hotspots that hear packets.
    rssi = [q for q in queries if "lora_rx_rssi_dbm" in q["expr"]][0]["expr"]
    rssi = rssi.replace("$__rate_interval", "15s").replace("$job", "linxdot").replace("$miner", ".*")
    for engine, base in engines.items():
        named = {r["metric"].get("animal_name") for r in api(base, "/api/v1/query", query=rssi)["result"]
                 if r["value"][1] != "NaN"}
        want = {HOTSPOTS["healthy"]["name"], HOTSPOTS["troubled"]["name"]}
        if named != want:
            raise Failure(f"{engine}: RSSI percentiles for {named}, expected {want}")

    # --- each alert expression on both engines, and the alerts Prometheus fires ------------------------
    with open(rule_files[1]) as f:
        rules = __import__("yaml").safe_load(f)["groups"][0]["rules"]

    def selected(base, expr):
        return {by_instance.get(r["metric"].get("instance")) for r in api(base, "/api/v1/query", query=expr)["result"]}

    def firing(name):
        return {by_instance.get(a["metric"].get("instance")) for a in
                api(prom, "/api/v1/query", query=f'ALERTS{{alertname="{name}", alertstate="firing"}}')["result"]}

    for rule in rules:
        name, want = rule["alert"], EXPECTED[rule["alert"]]
        for engine, base in engines.items():
            wait_for(f"{engine}: {name} selects {sorted(want)}",
                     lambda: selected(base, rule["expr"]) == want or None, 60)
        wait_for(f"Prometheus fires {name} for {sorted(want)}", lambda: firing(name) == want or None, 60)
        if want:
            alert = api(prom, "/api/v1/query", query=f'ALERTS{{alertname="{name}", alertstate="firing"}}')["result"][0]
            if alert["metric"].get("animal_name") != HOTSPOTS[next(iter(want))]["name"]:
                raise Failure(f"{name} does not name the miner: {alert['metric']}")
    log("each LoRa alert expression selects the expected hotspots on both engines, and Prometheus fires "
        "exactly those: " + ", ".join(f"{n} {sorted(w) or '-'}" for n, w in EXPECTED.items()))

    # --- the healthy forwarder stops: LinxdotLoraForwarderSilent for it alone --------------------------
    stop(HOTSPOTS["healthy"]["gwmp"])
    wait_for("LinxdotLoraForwarderSilent for the healthy hotspot",
             lambda: firing("LinxdotLoraForwarderSilent") == {"healthy"} or None, 60)
    for engine, base in engines.items():
        silent = [r for r in rules if r["alert"] == "LinxdotLoraForwarderSilent"][0]["expr"]
        wait_for(f"{engine}: the silent-forwarder expression selects the healthy hotspot",
                 lambda: selected(base, silent) == {"healthy"} or None, 30)
    log("stopped the healthy hotspot's forwarder: LinxdotLoraForwarderSilent fires for it alone, "
        "and its expression selects it on both engines")


if __name__ == "__main__":
    sys.exit(main())
