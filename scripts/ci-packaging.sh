#!/usr/bin/env bash
# The packaging checks, for CI and by hand: installs what it needs, builds the
# static aarch64 binary, runs it under qemu against the dashboard simulator
# and checks the scrape, builds the .ipk twice and compares, and runs the
# package, init-script, syslog, feed and deploy tests and shellcheck.
#
# usage: scripts/ci-packaging.sh
# Environment: CARGO_TARGET_DIR (default target/; the static build goes to
# its subdirectory packaging/, away from the host toolchain's builds).
# Prints "ok NAME" / "not ok NAME" per check and last "N passed, M failed";
# exits 1 when a check failed.
set -uo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo" || exit 1
target=aarch64-unknown-linux-musl
max_size=$((512 * 1024))
host_target_dir="${CARGO_TARGET_DIR:-$repo/target}"
static_target_dir="$host_target_dir/packaging"

# shellcheck source=scripts/checks-lib.sh
source scripts/checks-lib.sh
# Runs a test script and counts its "ok"/"not ok" lines.
# A script that exits non-zero without a "not ok" line counts as one failure.
run_tests() {
    local line own_failures=0
    while IFS= read -r line; do
        case "$line" in
            "ok "*) ok "${line#ok }" ;;
            "not ok "*) notok "${line#not ok }"; own_failures=$((own_failures + 1)) ;;
            "exit status 0") ;;
            "exit status "*)
                [ "$own_failures" -gt 0 ] || notok "$1 ${line}" ;;
            *) echo "$line" ;;
        esac
    done < <("$@" 2>&1; echo "exit status $?")
}

# --- tools --------------------------------------------------------------------
phase "installing tools"
bash scripts/install-debs.sh file qemu-user-static prometheus shellcheck busybox curl make
for tool in file qemu-aarch64-static promtool shellcheck busybox curl make; do
    command -v "$tool" > /dev/null || notok "tools: $tool is missing"
done
[ "$failed" = 0 ] || finish

if [ ! -f examples/dashboard-sim.rs ]; then
    notok "examples/dashboard-sim.rs is missing: the end-to-end check needs the dashboard simulator"
fi

# --- static binary (and the simulator, at the same time) -----------------------
phase "building the static $target binary"
if [ -f examples/dashboard-sim.rs ]; then
    # The host toolchain (rustup's cargo first on PATH) builds the simulator.
    cargo build --release --locked --example dashboard-sim > "$work/sim-build.log" 2>&1 &
    sim_build=$!
fi
build_start=$SECONDS
if CARGO_TARGET_DIR="$static_target_dir" scripts/build-static.sh "$target" > "$work/static.log" 2>&1; then
    ok "build-static.sh $target ($((SECONDS - build_start))s)"
else
    notok "build-static.sh $target"
    tail -n 30 "$work/static.log"
fi
binary="$static_target_dir/$target/release/linxdot-exporter"
sed -n 's/^\(binary\|size\|file\): /  &/p' "$work/static.log"
if [ -f "$binary" ]; then
    info="$(file -b "$binary")"
    if [[ "$info" =~ ^ELF\ 64-bit\ LSB\ .*ARM\ aarch64.*statically\ linked ]]; then
        ok "binary is a static aarch64 ELF"
    else
        notok "binary is not a static aarch64 ELF: $info"
    fi
    size=$(stat -c %s "$binary")
    if [ "$size" -le "$max_size" ]; then
        ok "binary size $size bytes <= $max_size"
    else
        notok "binary size $size bytes > $max_size"
    fi
    version="$(awk '/^\[/ { s = $0; next } s == "[package]" && $1 == "version" { gsub(/"/, "", $3); print $3; exit }' Cargo.toml)"
    got="$(timeout 20 qemu-aarch64-static "$binary" --version 2>&1)"
    if [ "$got" = "linxdot-exporter $version" ]; then
        ok "qemu-aarch64-static linxdot-exporter --version: $got"
    else
        notok "qemu-aarch64-static linxdot-exporter --version printed '$got', not 'linxdot-exporter $version'"
    fi
fi

# --- end to end under qemu -------------------------------------------------------
if [ -n "${sim_build:-}" ]; then
    phase "end to end: the aarch64 binary under qemu against the dashboard simulator"
    if wait "$sim_build"; then
        ok "cargo build --release --example dashboard-sim"
    else
        notok "cargo build --release --example dashboard-sim"
        tail -n 30 "$work/sim-build.log"
    fi
    sim="$host_target_dir/release/examples/dashboard-sim"
    if [ -x "$sim" ] && [ -f "$binary" ]; then
        sim_port=$(free_port)
        "$sim" --listen "127.0.0.1:$sim_port" > "$work/sim.out" 2> "$work/sim.err" &
        pids+=($!)
        if wait_for 30 grep -q "^listening on 127.0.0.1:$sim_port" "$work/sim.out"; then
            ok "dashboard simulator listening on 127.0.0.1:$sim_port"
        else
            notok "dashboard simulator did not say 'listening on 127.0.0.1:$sim_port': $(cat "$work/sim.out" "$work/sim.err")"
        fi
        port=$(free_port)
        qemu-aarch64-static "$binary" -o "127.0.0.1:$sim_port" -u admin -p admin -r 1 \
            -t "$port" --bind-address 127.0.0.1 > "$work/exporter.log" 2>&1 &
        pids+=($!)
        # shellcheck disable=SC2317 # called through wait_for
        scrape() { curl -fsS --max-time 5 "http://127.0.0.1:$port/metrics" -o "$work/metrics" 2> /dev/null; }
        # shellcheck disable=SC2317 # called through wait_for
        miner_up() { scrape && grep -Eq '^miner_up 1(\.0*)?$' "$work/metrics"; }
        if wait_for 60 miner_up; then
            ok "exporter under qemu serves miner_up 1"
        else
            notok "exporter under qemu: no 'miner_up 1' within 60 s"
            echo "  exporter log:"; tail -n 20 "$work/exporter.log" | sed 's/^/    /'
            echo "  last scrape:"; head -n 40 "$work/metrics" 2> /dev/null | sed 's/^/    /'
        fi
        if [ -s "$work/metrics" ]; then
            if promtool check metrics < "$work/metrics" > "$work/promtool.log" 2>&1; then
                ok "promtool check metrics: the scrape is clean"
            else
                notok "promtool check metrics: $(cat "$work/promtool.log")"
            fi
            check "scrape has miner_cpu_temp" grep -q '^miner_cpu_temp ' "$work/metrics"
        else
            notok "no scrape to check"
        fi
    fi
fi

# --- packages and scripts ---------------------------------------------------------
phase "OpenWrt package"
if [ -f "$binary" ]; then
    export SOURCE_DATE_EPOCH
    SOURCE_DATE_EPOCH="$(git log -1 --format=%ct 2> /dev/null || echo 1700000000)"
    # Twice through the whole path (build-static.sh has nothing left to do).
    for n in 1 2; do
        if CARGO_TARGET_DIR="$static_target_dir" scripts/build-ipk.sh --out-dir "$work/ipk$n" \
            > "$work/ipk$n.log" 2>&1; then
            ok "build-ipk.sh, build $n"
        else
            notok "build-ipk.sh, build $n: $(tail -n 5 "$work/ipk$n.log")"
        fi
    done
    ipk="$(find "$work/ipk1" -name '*.ipk' 2> /dev/null | head -n 1)"
    if [ -n "$ipk" ] && cmp "$ipk" "$work/ipk2/$(basename "$ipk")"; then
        ok "two builds of $(basename "$ipk") are byte-identical"
    else
        notok "the two ipk builds differ"
    fi
    run_tests tests/packaging/test-ipk.sh "$binary"
    [ -n "$ipk" ] && run_tests tests/packaging/test-deploy.sh "$ipk" "$binary"
fi
phase "init script, feed Makefile, syslog priorities"
run_tests tests/packaging/test-init.sh
sim="$host_target_dir/release/examples/dashboard-sim"
if [ -f "$binary" ] && [ -x "$sim" ] && [ "$(id -u)" = 0 ]; then
    # The aarch64 binary (musl's syslog) under qemu, as the init script runs it.
    run_tests tests/packaging/test-syslog.sh "$sim" qemu-aarch64-static "$binary"
else
    echo "syslog priorities: skipped (needs the static binary, the simulator and root for unshare --mount)"
fi
run_tests tests/packaging/test-feed.sh

phase "shellcheck"
mapfile -t stubs < <(find tests/packaging/stubs -type f | sort)
shell_scripts=(scripts/*.sh tests/packaging/*.sh "${stubs[@]}"
    openwrt/linxdot-exporter/files/linxdot-exporter.init)
for f in "${shell_scripts[@]}"; do
    check "shellcheck $f" shellcheck -x "$f"
done

finish
