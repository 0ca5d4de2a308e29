#!/bin/sh
# Starts vmagent on a miner: scrapes linxdot-exporter on loopback
# (scrape.yml) and remote-writes over TLS with basic auth to the central
# store. Settings: vmagent.conf (VMAGENT_CONF, default
# /etc/vmagent/vmagent.conf). The procd service (vmagent.init) runs this;
# by hand: `sh run-vmagent.sh`. The password goes to vmagent as a file,
# never on its command line.
#
# One remote-write queue: what was buffered while the central store was away
# is sent in order. A central Prometheus refuses samples older than the
# newest of their series; with vmagent's default of one queue per CPU,
# scripts/ci-nat.sh saw an outage's samples lost. The other flags cap
# vmagent on a small device: caches at 32 MiB, the buffer in RAM (/tmp) at
# MAX_BUFFER, warnings and errors only in the log.
set -eu

conf="${VMAGENT_CONF:-/etc/vmagent/vmagent.conf}"
[ -r "$conf" ] || { echo "run-vmagent: cannot read $conf" >&2; exit 2; }
# shellcheck source-path=SCRIPTDIR source=vmagent.conf
. "$conf"

for var in CENTRAL_URL USERNAME PASSWORD_FILE MINER_NAME SITE DATA_DIR LISTEN SCRAPE_CONFIG VMAGENT; do
    eval "value=\${$var:-}"
    [ -n "$value" ] || { echo "run-vmagent: $var is not set in $conf" >&2; exit 2; }
done
case "$CENTRAL_URL" in
    https://*) ;;
    *) echo "run-vmagent: CENTRAL_URL must be https:// (the password goes with every request)" >&2; exit 2 ;;
esac
[ -r "$PASSWORD_FILE" ] || { echo "run-vmagent: cannot read the password file $PASSWORD_FILE" >&2; exit 2; }

# scrape.yml takes these from the environment (%{MINER_NAME}, %{SITE}).
export MINER_NAME SITE
mkdir -p "$DATA_DIR"

set -- \
    -promscrape.config="$SCRAPE_CONFIG" \
    -remoteWrite.url="$CENTRAL_URL" \
    -remoteWrite.basicAuth.username="$USERNAME" \
    -remoteWrite.basicAuth.passwordFile="$PASSWORD_FILE" \
    -remoteWrite.tmpDataPath="$DATA_DIR" \
    -remoteWrite.maxDiskUsagePerURL="${MAX_BUFFER:-16MB}" \
    -remoteWrite.queues=1 \
    -memory.allowedBytes=32MiB \
    -httpListenAddr="$LISTEN" \
    -loggerLevel=WARN
[ -z "${CA_FILE:-}" ] || set -- "$@" -remoteWrite.tlsCAFile="$CA_FILE"
exec "$VMAGENT" "$@"
