#!/usr/bin/env python3
"""Structural checks of a Grafana dashboard JSON (no Grafana server needed).

    scripts/check-dashboard.py monitoring/grafana/linxdot.json
    scripts/check-dashboard.py --queries monitoring/grafana/linxdot.json   # print the queries as JSON
    scripts/check-dashboard.py --typescript monitoring/grafana/linxdot.json >check.ts
        # a TypeScript module that type-checks the dashboard against Grafana's
        # published types (npm @grafana/schema): tsc --noEmit --strict check.ts

Checks: the data source is a variable (no fixed uid) and is offered in
__inputs for import; variables job and miner (by animal name, multi-select,
All); panel ids unique; every panel inside the 24-column grid and no two
panels overlapping; every query names the data source variable and has a
unique refId; every metric the exporter writes is shown somewhere.
Exit status 1 with one line per problem.
"""
import json
import re
import sys

DS_VAR = "${datasource}"
# Every metric linxdot-exporter writes (docs/metrics.md), and the series a
# dashboard query may use for it instead (the recording rules).
EXPORTER_METRICS = {
    "miner_exporter_info": ["miner_exporter_info", "instance:miner_exporter_info:last"],
    "miner_cpu_temp": ["miner_cpu_temp"],
    "miner_cpu_usage": ["miner_cpu_usage"],
    "miner_mem_usage": ["miner_mem_usage"],
    "miner_sto_usage": ["miner_sto_usage"],
    "miner_up": ["miner_up", "job:miner_up:sum"],
    "miner_last_success_timestamp_seconds": ["miner_last_success_timestamp_seconds",
                                             "instance:miner_last_success:age_seconds"],
    "miner_poll_duration_seconds": ["miner_poll_duration_seconds"],
    "miner_poll_errors_total": ["miner_poll_errors_total", "instance:miner_poll_errors:rate5m"],
    "temper_temperature_celsius": ["temper_temperature_celsius"],
    "temper_humidity_rh": ["temper_humidity_rh"],
    "temper_devices": ["temper_devices"],
    "temper_read_errors_total": ["temper_read_errors_total"],
    "linxdot_exporter_build_info": ["linxdot_exporter_build_info"],
    "process_cpu_seconds_total": ["process_cpu_seconds_total"],
    "process_resident_memory_bytes": ["process_resident_memory_bytes"],
    "process_start_time_seconds": ["process_start_time_seconds"],
    # The LoRa radio (--lora-port; docs/lora.md).
    "lora_capture_up": ["lora_capture_up"],
    "lora_capture_dropped_total": ["lora_capture_dropped_total"],
    "lora_gateway_info": ["lora_gateway_info"],
    "lora_gwmp_datagrams_total": ["lora_gwmp_datagrams_total"],
    "lora_gwmp_invalid_datagrams_total": ["lora_gwmp_invalid_datagrams_total"],
    "lora_forwarder_last_seen_timestamp_seconds": ["lora_forwarder_last_seen_timestamp_seconds"],
    "lora_push_ack_latency_seconds": ["lora_push_ack_latency_seconds_bucket"],
    "lora_rx_packets_total": ["lora_rx_packets_total"],
    "lora_rx_rssi_dbm": ["lora_rx_rssi_dbm_bucket"],
    "lora_rx_snr_db": ["lora_rx_snr_db_bucket"],
    "lora_forwarder_rx_packets_total": ["lora_forwarder_rx_packets_total"],
    "lora_forwarder_rx_ok_packets_total": ["lora_forwarder_rx_ok_packets_total"],
    "lora_forwarder_forwarded_packets_total": ["lora_forwarder_forwarded_packets_total"],
    "lora_forwarder_downlink_datagrams_total": ["lora_forwarder_downlink_datagrams_total"],
    "lora_forwarder_tx_packets_total": ["lora_forwarder_tx_packets_total"],
    "lora_forwarder_push_ack_ratio": ["lora_forwarder_push_ack_ratio"],
    "lora_concentrator_temperature_celsius": ["lora_concentrator_temperature_celsius"],
    "lora_tx_ack_total": ["lora_tx_ack_total"],
}


def variable_query(v):
    q = v.get("query")
    return q.get("query", "") if isinstance(q, dict) else (q or "")


def panels_of(dash):
    for p in dash.get("panels", []):
        yield p
        for q in p.get("panels", []) or []:  # collapsed rows keep their panels inside
            yield q


def queries(dash):
    """(panel title, refId, expr) of every panel query."""
    out = []
    for p in panels_of(dash):
        for t in p.get("targets", []) or []:
            out.append((p.get("title", ""), t.get("refId"), t.get("expr", "")))
    return out


def check(dash):
    errors = []
    err = errors.append
    if not isinstance(dash.get("schemaVersion"), int) or dash["schemaVersion"] < 36:
        err(f"schemaVersion {dash.get('schemaVersion')!r}: Grafana 10/11 dashboards have 36 or more")
    for key in ("title", "uid", "panels", "templating", "time"):
        if key not in dash:
            err(f"no {key!r}")
    if dash.get("id") is not None:
        err("id must be null in a dashboard meant for import")
    inputs = [i for i in dash.get("__inputs", []) if i.get("type") == "datasource"]
    if not any(i.get("pluginId") == "prometheus" for i in inputs):
        err("__inputs offers no prometheus data source for import")

    variables = {v.get("name"): v for v in dash.get("templating", {}).get("list", [])}
    ds = variables.get("datasource")
    if not ds or ds.get("type") != "datasource" or ds.get("query") != "prometheus":
        err("no datasource variable of type datasource for prometheus")
    for name in ("job", "miner"):
        v = variables.get(name)
        if not v or v.get("type") != "query":
            err(f"no query variable {name!r}")
            continue
        if (v.get("datasource") or {}).get("uid") != DS_VAR:
            err(f"variable {name} does not query {DS_VAR}")
    miner = variables.get("miner") or {}
    mq = variable_query(miner)
    if "animal_name" not in mq or not mq.startswith("label_values("):
        err(f"miner variable does not list animal names: {mq!r}")
    if not (miner.get("multi") and miner.get("includeAll")):
        err("miner variable must be multi-select with All")

    # Any data source reference other than the variable is a fixed uid.
    def walk(node, path):
        if isinstance(node, dict):
            dsr = node.get("datasource")
            if isinstance(dsr, dict) and dsr.get("type") != "grafana" and dsr.get("uid") != DS_VAR:
                err(f"{path}: data source {dsr!r} is not {DS_VAR}")
            if isinstance(dsr, str) and dsr not in (DS_VAR, "$datasource"):
                err(f"{path}: data source {dsr!r} is not {DS_VAR}")
            for k, v in node.items():
                walk(v, f"{path}.{k}")
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{path}[{i}]")
    walk({k: v for k, v in dash.items() if k != "annotations"}, "$")

    ids, rects = {}, []
    for p in panels_of(dash):
        pid, title = p.get("id"), p.get("title", "?")
        if not isinstance(pid, int):
            err(f"panel {title!r}: id {pid!r} is not an integer")
        elif pid in ids:
            err(f"panel {title!r}: id {pid} also used by {ids[pid]!r}")
        else:
            ids[pid] = title
        g = p.get("gridPos") or {}
        x, y, w, h = (g.get(k) for k in ("x", "y", "w", "h"))
        if not all(isinstance(n, int) for n in (x, y, w, h)) or w <= 0 or h <= 0 or x < 0 or y < 0 or x + w > 24:
            err(f"panel {title!r}: gridPos {g} is not inside the 24-column grid")
            continue
        for (ox, oy, ow, oh, ot) in rects:
            if x < ox + ow and ox < x + w and y < oy + oh and oy < y + h:
                err(f"panel {title!r} {g} overlaps panel {ot!r}")
        rects.append((x, y, w, h, title))
        refs = [t.get("refId") for t in p.get("targets", []) or []]
        if len(refs) != len(set(refs)) or None in refs:
            err(f"panel {title!r}: refIds {refs} not unique")
        for t in p.get("targets", []) or []:
            if not t.get("expr", "").strip():
                err(f"panel {title!r} {t.get('refId')}: empty expr")
        if p.get("type") != "row" and not p.get("targets"):
            err(f"panel {title!r}: no query")

    text = " ".join(e for _, _, e in queries(dash)) + " " + " ".join(
        variable_query(v) for v in variables.values())
    for metric, names in EXPORTER_METRICS.items():
        if not any(re.search(r"(?<![\w:])" + re.escape(n) + r"(?![\w:])", text) for n in names):
            err(f"no panel shows {metric}")
    return errors


TS_PANEL_TYPES = {  # panel type -> module of @grafana/schema with its Options and FieldConfig
    "timeseries": "timeseries/panelcfg/x/TimeSeriesPanelCfg_types.gen",
    "table": "table/panelcfg/x/TablePanelCfg_types.gen",
    "stat": "stat/panelcfg/x/StatPanelCfg_types.gen",
}


def typescript(dash):
    """A TypeScript module assigning the dashboard to @grafana/schema's Dashboard type and each
    panel's options and custom field config to its panel plugin's types."""
    body = {k: v for k, v in dash.items() if k not in ("__inputs", "__requires")}  # export-only keys
    lines = ["import type { Dashboard } from '@grafana/schema';"]
    for i, (ptype, mod) in enumerate(sorted(TS_PANEL_TYPES.items())):
        has_fc = ptype != "stat"  # the stat panel has no custom field config
        names = f"Options as O{i}" + (f", FieldConfig as F{i}" if has_fc else "")
        lines.append(f"import type {{ {names} }} from '@grafana/schema/dist/esm/raw/composable/{mod}';")
    lines += [
        "// The schema's enums (ThresholdsMode, ...) as the strings a JSON file holds.",
        "type Json<T> = T extends string ? `${T}` : T extends Array<infer U> ? Array<Json<U>>"
        " : T extends object ? { [K in keyof T]: Json<T[K]> } : T;",
        f"export const dashboard: Json<Dashboard> = {json.dumps(body, ensure_ascii=False)};",
    ]
    index = {t: i for i, t in enumerate(sorted(TS_PANEL_TYPES))}
    for p in panels_of(dash):
        t = p.get("type")
        if t == "row":
            continue
        if t not in index:
            lines.append(f"// panel {p.get('id')}: type {t} has no plugin types here")
            continue
        i = index[t]
        lines.append(f"export const options_{p['id']}: Json<Partial<O{i}>> = {json.dumps(p.get('options', {}), ensure_ascii=False)};")
        custom = p.get("fieldConfig", {}).get("defaults", {}).get("custom")
        if custom is not None and t != "stat":
            lines.append(f"export const custom_{p['id']}: Json<Partial<F{i}>> = {json.dumps(custom, ensure_ascii=False)};")
    return "\n".join(lines) + "\n"


def main(argv):
    args = [a for a in argv if not a.startswith("--")]
    if len(args) != 1:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    with open(args[0], encoding="utf-8") as f:
        dash = json.load(f)
    if "--typescript" in argv:
        sys.stdout.write(typescript(dash))
        return 0
    if "--queries" in argv:
        variables = {v["name"]: variable_query(v) for v in dash["templating"]["list"] if v["type"] == "query"}
        print(json.dumps({"panels": [{"panel": t, "refId": r, "expr": e} for t, r, e in queries(dash)],
                          "variables": variables}, indent=1))
        return 0
    errors = check(dash)
    for e in errors:
        print(f"{args[0]}: {e}")
    if errors:
        return 1
    n = sum(1 for p in panels_of(dash) if p.get("type") != "row")
    print(f"{args[0]}: OK ({n} panels, {len(queries(dash))} queries)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
