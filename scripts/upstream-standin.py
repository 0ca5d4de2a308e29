#!/usr/bin/env python3
"""The benchmarks' stand-in for the upstream Python Linxdot exporter.

The upstream exporter (`python -m linxdot_exporter`, installed with
`python setup.py install` from its repository) is not published on PyPI or
in Debian, so scripts/bench.sh cannot install it. This stand-in serves the
way it does: `prometheus_client.start_http_server` on the default registry
(so with the client's own process_* and python_* families), the same five
miner families and HELP texts, refreshed by a loop that logs in to the
dashboard (form fields username/password as MD5 hex, the session cookie
kept) and reads /info/system every REFRESH_INTERVAL seconds.

    upstream-standin.py -o HOST -u USERNAME -p PASSWORD -r SECONDS -t PORT

It is a yardstick for the serving path, not a replacement: it has none of
the upstream's error handling.
"""

import argparse
import hashlib
import http.cookiejar
import json
import sys
import time
import urllib.parse
import urllib.request

from prometheus_client import Gauge, start_http_server


def md5_hex(text):
    return hashlib.md5(text.encode()).hexdigest()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--host", default="127.0.0.1")
    parser.add_argument("-u", "--username", required=True)
    parser.add_argument("-p", "--password", required=True)
    parser.add_argument("-r", "--refresh_interval", type=float, default=60)
    parser.add_argument("-t", "--port", type=int, default=8061)
    args = parser.parse_args()

    info = Gauge(
        "miner_exporter_info",
        "Miner Information",
        ["animal_name", "firmware", "model_name", "region", "sn"],
    )
    gauges = {
        "cpu_temp": Gauge("miner_cpu_temp", "CPU temperature"),
        "cpu_usage": Gauge("miner_cpu_usage", "CPU utilization"),
        "memory_usage": Gauge("miner_mem_usage", "Memory utilization"),
        "storage_usage": Gauge("miner_sto_usage", "Storage utilization"),
    }
    start_http_server(args.port, addr="127.0.0.1")
    print(f"listening on 127.0.0.1:{args.port}", flush=True)

    base = f"http://{args.host}"
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    form = urllib.parse.urlencode(
        {"username": md5_hex(args.username), "password": md5_hex(args.password)}
    ).encode()
    while True:
        try:
            opener.open(base + "/login_odd", data=form, timeout=5).read()
            system = json.loads(opener.open(base + "/info/system", timeout=5).read())
            info.labels(
                *(str(system.get(k, "")) for k in ("animal_name", "firmware", "model_name", "region", "sn"))
            ).set(1)
            for key, gauge in gauges.items():
                gauge.set(float(system[key]))
            print("poll good", flush=True)
        except (OSError, ValueError, KeyError) as e:
            print(f"poll failed: {e}", file=sys.stderr, flush=True)
        time.sleep(args.refresh_interval)


if __name__ == "__main__":
    main()
