#!/usr/bin/env bash
# The packaging checks, for CI and by hand: installs what it needs, builds the
# static binaries of the five platforms (scripts/platforms.sh: x86_64, i686,
# aarch64, armv7, armv6), checks each one's machine, size and CPU
# architecture, runs each (natively or under qemu-user) against the dashboard
# simulator and checks the scrape, builds the .ipk of every OpenWrt
# architecture the binaries serve (aarch64_generic twice, compared), and runs
# the package, init-script, syslog, feed and deploy tests, the build-static.sh
# consent test and shellcheck.
#
# usage: scripts/ci-packaging.sh
# Environment: CARGO_TARGET_DIR (default target/; the static builds go to its
# subdirectory packaging/, away from the host toolchain's builds, where
# ci-container.sh, ci-deb.sh and ci-release.sh reuse them).
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
# shellcheck source=scripts/platforms.sh
source scripts/platforms.sh
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
bash scripts/install-debs.sh file binutils qemu-user-static prometheus shellcheck busybox curl make
for tool in file readelf qemu-aarch64-static qemu-arm-static qemu-i386-static promtool shellcheck busybox curl make; do
    command -v "$tool" > /dev/null || notok "tools: $tool is missing"
done
[ "$failed" = 0 ] || finish

if [ ! -f examples/dashboard-sim.rs ]; then
    notok "examples/dashboard-sim.rs is missing: the end-to-end check needs the dashboard simulator"
fi

# --- static binaries (and the simulator, at the same time) ----------------------
phase "building the static binaries of the five platforms"
if [ -f examples/dashboard-sim.rs ]; then
    # The host toolchain (rustup's cargo first on PATH) builds the simulator.
    cargo build --release --locked --example dashboard-sim > "$work/sim-build.log" 2>&1 &
    sim_build=$!
fi
version="$(cargo_field version)"
mapfile -t targets < <(platform_targets)
# What readelf -A says the 32-bit ARM code needs: armv6 must run on a Pi Zero.
declare -A cpu_arch=([armv7-unknown-linux-musleabihf]=v7 [arm-unknown-linux-musleabihf]=v6)
sizes=()
for t in "${targets[@]}"; do
    build_start=$SECONDS
    if CARGO_TARGET_DIR="$static_target_dir" scripts/build-static.sh --install "$t" > "$work/static-$t.log" 2>&1; then
        ok "build-static.sh $t ($((SECONDS - build_start))s)"
    else
        notok "build-static.sh $t"
        tail -n 30 "$work/static-$t.log"
        continue
    fi
    bin="$static_target_dir/$t/release/linxdot-exporter"
    info="$(file -b "$bin")"
    if [[ "$info" =~ ^$(platform_field target "$t" file).*statically\ linked ]]; then
        ok "$t: a static $(platform_field target "$t" file | sed 's/.*\.\*//') ELF"
    else
        notok "$t: not a static $(platform_field target "$t" file) ELF: $info"
    fi
    if [ -n "${cpu_arch[$t]:-}" ]; then
        got="$(readelf -A "$bin" | sed -n 's/^ *Tag_CPU_arch: //p')"
        check "$t: readelf -A: Tag_CPU_arch $got (want ${cpu_arch[$t]})" test "$got" = "${cpu_arch[$t]}"
    fi
    size=$(stat -c %s "$bin")
    sizes+=("$t $size")
    if [ "$size" -le "$max_size" ]; then
        ok "$t: size $size bytes <= $max_size"
    else
        notok "$t: size $size bytes > $max_size"
    fi
    runner="$(platform_field target "$t" qemu)"
    got="$(timeout 20 ${runner:+"$runner"} "$bin" --version 2>&1)"
    if [ "$got" = "linxdot-exporter $version" ]; then
        ok "$t: ${runner:-natively}: linxdot-exporter --version: $got"
    else
        notok "$t: ${runner:-natively}: --version printed '$got', not 'linxdot-exporter $version'"
    fi
done
printf '  %s bytes\n' "${sizes[@]}"
binary="$static_target_dir/$target/release/linxdot-exporter"

# --- end to end: each binary against the simulator ------------------------------
if [ -n "${sim_build:-}" ]; then
    phase "end to end: each binary (natively or under qemu-user) against the dashboard simulator"
    if wait "$sim_build"; then
        ok "cargo build --release --example dashboard-sim"
    else
        notok "cargo build --release --example dashboard-sim"
        tail -n 30 "$work/sim-build.log"
    fi
    sim="$host_target_dir/release/examples/dashboard-sim"
    if [ -x "$sim" ]; then
        sim_port=$(free_port)
        "$sim" --listen "127.0.0.1:$sim_port" > "$work/sim.out" 2> "$work/sim.err" &
        pids+=($!)
        if wait_for 30 grep -q "^listening on 127.0.0.1:$sim_port" "$work/sim.out"; then
            ok "dashboard simulator listening on 127.0.0.1:$sim_port"
        else
            notok "dashboard simulator did not say 'listening on 127.0.0.1:$sim_port': $(cat "$work/sim.out" "$work/sim.err")"
        fi
        # All five at once, each on its own port.
        declare -A port_of=()
        for t in "${targets[@]}"; do
            bin="$static_target_dir/$t/release/linxdot-exporter"
            [ -f "$bin" ] || continue
            runner="$(platform_field target "$t" qemu)"
            port_of[$t]=$(free_port)
            ${runner:+"$runner"} "$bin" -o "127.0.0.1:$sim_port" -u admin -p admin -r 1 \
                -t "${port_of[$t]}" --bind-address 127.0.0.1 > "$work/exporter-$t.log" 2>&1 &
            pids+=($!)
        done
        # shellcheck disable=SC2317 # called through wait_for
        miner_up() { # PORT OUT
            curl -fsS --max-time 5 "http://127.0.0.1:$1/metrics" -o "$2" 2> /dev/null &&
                grep -Eq '^miner_up 1(\.0*)?$' "$2"
        }
        want_values='miner_cpu_temp 35.555
miner_cpu_usage 7.169
miner_mem_usage 17.504
miner_sto_usage 39.822'
        for t in "${!port_of[@]}"; do
            out="$work/metrics-$t"
            runner="$(platform_field target "$t" qemu)"
            if wait_for 60 miner_up "${port_of[$t]}" "$out"; then
                got="$(grep -E '^miner_(cpu_temp|cpu_usage|mem_usage|sto_usage) ' "$out" | sort)"
                check "$t (${runner:-native}): miner_up 1 and the simulator's values" test "$got" = "$want_values"
                if promtool check metrics < "$out" > "$work/promtool-$t.log" 2>&1; then
                    ok "$t: promtool check metrics: the scrape is clean"
                else
                    notok "$t: promtool check metrics: $(cat "$work/promtool-$t.log")"
                fi
            else
                notok "$t (${runner:-native}): no 'miner_up 1' within 60 s"
                echo "  exporter log:"; tail -n 20 "$work/exporter-$t.log" | sed 's/^/    /'
            fi
        done
        [ -f "$work/metrics-$target" ] && cp "$work/metrics-$target" "$work/metrics"
    fi
fi

# --- packages and scripts ---------------------------------------------------------
phase "OpenWrt package"
if [ -f "$binary" ]; then
    export SOURCE_DATE_EPOCH
    SOURCE_DATE_EPOCH="$(git log -1 --format=%ct 2> /dev/null || echo 1700000000)"
    # Twice through the whole path (build-static.sh has nothing left to do).
    for n in 1 2; do
        if CARGO_TARGET_DIR="$static_target_dir" scripts/build-ipk.sh --install --out-dir "$work/ipk$n" \
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
# Every other OpenWrt architecture the same binaries serve: one row each.
while read -r arch t _; do
    [ "$arch" != aarch64_generic ] || continue
    bin="$static_target_dir/$t/release/linxdot-exporter"
    if [ ! -f "$bin" ]; then
        notok "ipk $arch: no $t binary"
    elif scripts/build-ipk.sh --arch "$arch" --binary "$bin" --out-dir "$work/ipk1" > "$work/ipk-$arch.log" 2>&1 &&
        tar -xOzf "$work/ipk1/linxdot-exporter_${version}-1_$arch.ipk" ./control.tar.gz | tar -xOz ./control |
        grep -qx "Architecture: $arch"; then
        ok "ipk $arch ($t): $(stat -c %s "$work/ipk1/linxdot-exporter_${version}-1_$arch.ipk") bytes"
    else
        notok "ipk $arch: $(tail -n 3 "$work/ipk-$arch.log")"
    fi
done < <(ipk_rows)
armv7_bin="$static_target_dir/armv7-unknown-linux-musleabihf/release/linxdot-exporter"
if [ -f "$armv7_bin" ]; then
    if scripts/build-ipk.sh --arch arm_arm1176jzf-s_vfp --binary "$armv7_bin" --out-dir "$work/ipk-bad" \
        > "$work/ipk-bad.log" 2>&1; then
        notok "build-ipk.sh accepts the ARMv7 binary for arm_arm1176jzf-s_vfp (ARMv6)"
    else
        ok "build-ipk.sh refuses the ARMv7 binary for arm_arm1176jzf-s_vfp ($(tail -n 1 "$work/ipk-bad.log" | sed 's/^build-ipk: error: //'))"
    fi
fi
phase "build-static.sh installs nothing without consent"
run_tests tests/packaging/test-build-static.sh
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
