#!/usr/bin/env bash
# The documentation checks, for CI and by hand: README.md, CONTRIBUTING.md
# and docs/*.md against the repository and the program, with
# scripts/check-docs.py: every relative link and #anchor resolves; every
# script named exists and takes the flags shown; every flag is the
# exporter's (its --help), a script's or a listed other program's; every
# metric named is in a real scrape (the exporter with simulated TEMPer
# sensors against the dashboard simulator, /metrics and /probe) or in the
# exposition fixtures. Then the checker must catch one planted fault of each
# kind. README.md stays at most 200 lines.
#
# usage: scripts/ci-docs.sh
# Prints "ok NAME" / "not ok NAME" per check and last "N passed, M failed";
# exits 1 when a check failed.
set -uo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo" || exit 1

# shellcheck source=scripts/checks-lib.sh
source scripts/checks-lib.sh

phase "building the exporter and the simulators (debug)"
if cargo build --quiet --locked --bin linxdot-exporter --example dashboard-sim --example sim-exporter \
    > "$work/build.log" 2>&1; then
    ok "cargo build --bin linxdot-exporter --example dashboard-sim --example sim-exporter"
else
    notok "cargo build: $(tail -n 20 "$work/build.log")"
    finish
fi
target_dir=$(cargo_target_dir)

phase "a real scrape: two simulated TEMPer sensors, the dashboard simulator, /probe"
"$target_dir/debug/linxdot-exporter" --help > "$work/help.txt" 2>&1
sim_port=$(free_port)
"$target_dir/debug/examples/dashboard-sim" --listen "127.0.0.1:$sim_port" > "$work/sim.out" 2> "$work/sim.err" &
pids+=($!)
wait_for 30 grep -q "^listening on 127.0.0.1:$sim_port" "$work/sim.out" ||
    { notok "dashboard simulator: $(cat "$work/sim.out" "$work/sim.err")"; finish; }
port=$(free_port)
"$target_dir/debug/examples/sim-exporter" --sim-sensors 2 -o "127.0.0.1:$sim_port" -u admin -p admin -r 1 \
    -t "$port" --bind-address 127.0.0.1 --probe-allow 127.0.0.1 > "$work/exporter.log" 2>&1 &
pids+=($!)
# shellcheck disable=SC2317 # called through wait_for
scraped() {
    curl -fsS --max-time 5 "http://127.0.0.1:$port/metrics" -o "$work/metrics.txt" 2> /dev/null &&
        grep -Eq '^miner_up 1' "$work/metrics.txt" && grep -q '^temper_humidity_rh{' "$work/metrics.txt"
}
if wait_for 60 scraped; then
    ok "/metrics: miner_up 1 and TEMPer readings ($(grep -c '^# TYPE' "$work/metrics.txt") families)"
else
    notok "/metrics: $(tail -n 20 "$work/exporter.log")"
fi
if curl -fsS --max-time 10 "http://127.0.0.1:$port/probe?target=127.0.0.1:$sim_port" -o "$work/probe.txt" &&
    grep -q '^probe_success 1' "$work/probe.txt"; then
    ok "/probe?target=127.0.0.1:$sim_port: probe_success 1"
else
    notok "/probe: $(cat "$work/probe.txt" 2> /dev/null)"
fi

phase "the docs"
docs=(README.md CONTRIBUTING.md docs/*.md)
scrapes=(--scrape "$work/metrics.txt" --scrape "$work/probe.txt")
if python3 scripts/check-docs.py --help-text "$work/help.txt" "${scrapes[@]}" \
    "${docs[@]}" > "$work/check.txt" 2>&1; then
    ok "scripts/check-docs.py ${docs[*]}: $(tail -n 1 "$work/check.txt")"
else
    notok "scripts/check-docs.py:"
fi
sed -e '$d' -e 's/^/  /' "$work/check.txt"
lines=$(wc -l < README.md)
check "README.md: $lines lines (at most 200)" test "$lines" -le 200
check "README.md has the line 'cargo test' (the quick start is what CI runs)" grep -qx 'cargo test' README.md

# The checker must catch what it is there for.
phase "the checker catches a planted fault of each kind"
mkdir -p "$work/plant/docs"
# shellcheck disable=SC2016 # backquotes of Markdown, not of the shell
planted() { # NAME TEXT: the checker must fail on a doc with TEXT added
    local f="docs/zz-planted-$$.md"
    printf '# Planted\n\n%s\n' "$2" > "$f"
    if python3 scripts/check-docs.py --help-text "$work/help.txt" "${scrapes[@]}" "$f" > "$work/plant.txt" 2>&1; then
        notok "check-docs.py accepts $1: $2"
    else
        ok "check-docs.py refuses $1 ($(head -n 1 "$work/plant.txt" | cut -d: -f3- | sed 's/^ //'))"
    fi
    rm -f "$f"
}
# shellcheck disable=SC2016
{
planted "a link to a missing file" '[x](nowhere.md)'
planted "a link to a missing anchor" '[x](install.md#no-such-section)'
planted "a missing script" 'run `scripts/no-such-script.sh`'
planted "a flag the exporter lacks" '`--no-such-flag`'
planted "a flag a script lacks" "$(printf '```sh\nscripts/build-deb.sh --no-such-flag\n```')"
planted "a flag after linxdot-exporter in a code block" "$(printf '```sh\nlinxdot-exporter --bogus 1\n```')"
planted "a metric that is never served" '`miner_bogus_total`'
}

finish
