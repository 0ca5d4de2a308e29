#!/usr/bin/env python3
"""Checks Grafana provisioning files against Grafana's documented format
(no Grafana server needed), and against the compose stack that mounts them.

    scripts/check-grafana-provisioning.py monitoring/compose.yml

Grafana's provisioning format ("Provision Grafana", administration/provisioning
in Grafana's documentation): a data source file has `apiVersion: 1` and a list
`datasources` (each with a name and a type; access proxy or direct; known keys
only, each of its documented type) and optionally `deleteDatasources`; a
dashboard provider file has `apiVersion: 1` and a list `providers` (each with
a name, type `file` and `options.path`). Then, through the compose file: every
provisioning file Grafana gets is mounted into its provisioning directories;
each provider's path holds a dashboard file that is mounted in; the data source
URL names the stack's Prometheus service at the port it listens on; the data
source's plugin is the one the dashboard asks for (`__inputs`); the home
dashboard path is mounted. Exit status 1 with one line per problem.
"""
import json
import os
import re
import sys

import yaml

# Documented keys and their types (None: any JSON object).
DATASOURCE_KEYS = {
    "name": str, "type": str, "uid": str, "access": str, "orgId": int, "url": str,
    "user": str, "database": str, "basicAuth": bool, "basicAuthUser": str,
    "withCredentials": bool, "isDefault": bool, "jsonData": dict,
    "secureJsonData": dict, "version": int, "editable": bool,
}
DELETE_KEYS = {"name": str, "orgId": int}
PROVIDER_KEYS = {
    "name": str, "orgId": int, "folder": str, "folderUid": str, "type": str,
    "disableDeletion": bool, "updateIntervalSeconds": int, "allowUiUpdates": bool,
    "options": dict,
}
PROVIDER_OPTION_KEYS = {"path": str, "foldersFromFilesStructure": bool}
PROVISIONING = "/etc/grafana/provisioning"


def typed(where, entry, keys, required, err):
    if not isinstance(entry, dict):
        err(f"{where}: not a mapping")
        return
    for key, value in entry.items():
        if key not in keys:
            err(f"{where}: unknown key {key!r} (Grafana ignores it)")
        elif not isinstance(value, keys[key]) or (keys[key] is int and isinstance(value, bool)):
            err(f"{where}: {key} is {type(value).__name__}, want {keys[key].__name__}")
    for key in required:
        if key not in entry:
            err(f"{where}: no {key!r}")


def check_datasources(path, doc, err):
    if doc.get("apiVersion") != 1:
        err(f"{path}: apiVersion {doc.get('apiVersion')!r}, want 1")
    for key in doc:
        if key not in ("apiVersion", "datasources", "deleteDatasources"):
            err(f"{path}: unknown top-level key {key!r}")
    sources = doc.get("datasources") or []
    if not isinstance(sources, list) or not sources:
        err(f"{path}: 'datasources' is not a non-empty list")
        return []
    names = set()
    for i, ds in enumerate(sources):
        where = f"{path}: datasources[{i}]"
        typed(where, ds, DATASOURCE_KEYS, ["name", "type"], err)
        if not isinstance(ds, dict):
            continue
        if ds.get("access", "proxy") not in ("proxy", "direct"):
            err(f"{where}: access {ds['access']!r}, want proxy or direct")
        if ds.get("name") in names:
            err(f"{where}: name {ds['name']!r} twice")
        names.add(ds.get("name"))
        uid = ds.get("uid", "")
        if uid and not re.fullmatch(r"[A-Za-z0-9_-]{1,40}", uid):
            err(f"{where}: uid {uid!r}: at most 40 letters, digits, '-' and '_'")
    if sum(1 for ds in sources if isinstance(ds, dict) and ds.get("isDefault")) > 1:
        err(f"{path}: more than one isDefault data source")
    for i, d in enumerate(doc.get("deleteDatasources") or []):
        typed(f"{path}: deleteDatasources[{i}]", d, DELETE_KEYS, ["name"], err)
    return sources


def check_providers(path, doc, err):
    if doc.get("apiVersion") != 1:
        err(f"{path}: apiVersion {doc.get('apiVersion')!r}, want 1")
    for key in doc:
        if key not in ("apiVersion", "providers"):
            err(f"{path}: unknown top-level key {key!r}")
    providers = doc.get("providers") or []
    if not isinstance(providers, list) or not providers:
        err(f"{path}: 'providers' is not a non-empty list")
        return []
    for i, p in enumerate(providers):
        where = f"{path}: providers[{i}]"
        typed(where, p, PROVIDER_KEYS, ["name", "options"], err)
        if not isinstance(p, dict):
            continue
        if p.get("type", "file") != "file":
            err(f"{where}: type {p['type']!r}, want file")
        if isinstance(p.get("options"), dict):
            typed(f"{where}.options", p["options"], PROVIDER_OPTION_KEYS, ["path"], err)
    return providers


def mounts(service, compose_dir):
    """(container path, host path) of each bind mount of a compose service."""
    out = []
    for v in service.get("volumes", []):
        source, target = v.split(":")[:2]
        if source.startswith((".", "/")):
            out.append((target, os.path.normpath(os.path.join(compose_dir, source))))
    return out


def host_path(container_path, binds):
    """The host file or directory behind a path inside the container."""
    for target, source in sorted(binds, key=lambda b: -len(b[0])):
        if container_path == target or container_path.startswith(target.rstrip("/") + "/"):
            return source + container_path[len(target):]
    return None


def main(compose_file):
    errors = []
    err = errors.append
    compose_dir = os.path.dirname(os.path.abspath(compose_file))
    compose = yaml.safe_load(open(compose_file))
    services = compose.get("services", {})
    grafana = services.get("grafana")
    if grafana is None:
        print(f"{compose_file}: no grafana service")
        return 1
    binds = mounts(grafana, compose_dir)
    for target, source in binds:
        if not os.path.exists(source):
            err(f"{compose_file}: grafana mounts {source}, which does not exist")
    ds_dir = host_path(f"{PROVISIONING}/datasources", binds)
    dash_dir = host_path(f"{PROVISIONING}/dashboards", binds)
    if not ds_dir or not dash_dir:
        err(f"{compose_file}: grafana's {PROVISIONING}/datasources and /dashboards are not mounted")
        print("\n".join(errors))
        return 1

    def yaml_files(d):
        return sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith((".yml", ".yaml")))

    sources = []
    for path in yaml_files(ds_dir):
        sources += check_datasources(path, yaml.safe_load(open(path)) or {}, err)
    providers = []
    for path in yaml_files(dash_dir):
        providers += check_providers(path, yaml.safe_load(open(path)) or {}, err)
    if not sources:
        err(f"{ds_dir}: no data source")
    if not providers:
        err(f"{dash_dir}: no dashboard provider")

    # The data source is the stack's Prometheus, where it listens.
    prom = services.get("prometheus", {})
    listen = next((a.split("=", 1)[1] for a in prom.get("command", [])
                   if a.startswith("--web.listen-address=")), ":9090")
    want_url = f"http://prometheus:{listen.rsplit(':', 1)[1]}"
    plugins = set()
    for ds in sources:
        if isinstance(ds, dict):
            plugins.add(ds.get("type"))
            if ds.get("type") == "prometheus" and ds.get("url", "").rstrip("/") != want_url:
                err(f"data source {ds.get('name')!r}: url {ds.get('url')!r}, the stack's Prometheus is {want_url}")

    # Each provider's path holds the dashboards, mounted; each asks for a
    # data source plugin that is provisioned.
    dashboards = 0
    for p in providers:
        path = (p.get("options") or {}).get("path", "") if isinstance(p, dict) else ""
        host = host_path(path, binds)
        files = []
        if host and os.path.isdir(host):
            files = [os.path.join(host, f) for f in os.listdir(host) if f.endswith(".json")]
        # Files mounted one by one into the provider's directory.
        files += [source for target, source in binds
                  if target.startswith(path.rstrip("/") + "/") and target.endswith(".json")]
        if not files:
            err(f"provider {p.get('name')!r}: no dashboard mounted at {path}")
        for f in files:
            dash = json.load(open(f))
            dashboards += 1
            for inp in dash.get("__inputs", []):
                if inp.get("type") == "datasource" and inp.get("pluginId") not in plugins:
                    err(f"{f}: wants a {inp.get('pluginId')} data source; provisioned: {sorted(plugins)}")
    home = (grafana.get("environment") or {}).get("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH")
    if home and not (host_path(home, binds) and os.path.isfile(host_path(home, binds))):
        err(f"{compose_file}: the home dashboard {home} is not mounted")

    if errors:
        print("\n".join(errors))
        return 1
    print(f"{compose_file}: grafana provisioning OK ({len(sources)} data source(s), "
          f"{len(providers)} provider(s), {dashboards} dashboard(s))")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[2].strip())
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
